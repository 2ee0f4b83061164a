/*
Copyright 2026 The jobkeeper Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package batch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/labelcache"
	"github.com/jobkeeper/jobkeeper/internal/names"
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/resultsca"
)

// Event reasons on NodeJobRuns (NJ-35).
const (
	EventPodCreated       = "PodCreated"
	EventPodCreateFailed  = "PodCreateFailed"
	EventNodeSkipped      = "NodeSkipped"
	EventNodeFailed       = "NodeFailed"
	EventDeadlineExceeded = "DeadlineExceeded"
	EventNoNodesSelected  = "NoNodesSelected"
	EventUntrustedPod     = "UntrustedPod"
)

const (
	// nodeJobRunPodIndex indexes the cached pods by the run name label.
	nodeJobRunPodIndex = "nodejobrun.name"
	// DefaultMaxNodesPerRun is the default of --max-nodes-per-run (NJ-10).
	DefaultMaxNodesPerRun = 3000
	// maxPodCreateFailures is the number of failed creations in a row after which a node fails (NJ-13).
	maxPodCreateFailures = 5
	// maxPodCreateBackoff caps the retry interval after a failed pod creation.
	maxPodCreateBackoff = 2 * time.Minute
)

// NodeJobRunReconciler runs the pods of a NodeJobRun, one per selected node.
//
// Per-node state lives with the node's pod and in the report store, not in the run object: the run's
// selection (selection.json) and one record per node (nodes/<node>/node.json) hold each node's phase, its
// pod's name and UID, its result, files and logs. The reconciler writes the phase, pod and logs fields of the
// records; the results API writes what the node sent. The run's status is written by this reconciler alone:
// it is computed by nodeJobRunStatus from the records and the pods, holds counts and a bounded list of failed
// nodes, and is written only when it changed. The results API notes changed runs through reports.Changes, a
// source of this controller, so that many node changes coalesce into one status write.
//
// Only pods the operator created are adopted and trusted: the UID of every pod is recorded in the node's
// record right after Create returns, and a pod is the node's pod only when its UID is the recorded one and
// its node annotation names the node. The store is written by the operator alone; a user who creates a pod
// with a future pod's name, labels and ownerReference gets it deleted, not adopted, and its reports refused.
// Should the operator stop between Create and the record, the pod it created is not trusted either: it is
// deleted and the node gets a new pod. Only when the report store has lost a started run altogether (no
// selection: an emptyDir replaced with the manager pod) are the run's existing pods, named and annotated for a
// selected node, adopted once and their UIDs recorded; with a persistent report volume this does not happen.
type NodeJobRunReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	// Recorder emits events.k8s.io Events; nil uses the manager's.
	Recorder events.EventRecorder
	// Clock tells the time; nil uses the real clock.
	Clock clock.PassiveClock
	// Namespaces limits the pod cache to these namespaces; empty means all.
	Namespaces []string
	// MaxConcurrentReconciles is the number of runs reconciled at once (default 1).
	MaxConcurrentReconciles int
	// MaxNodesPerRun fails runs that select more nodes (default 3000).
	MaxNodesPerRun int
	// ResultsServiceName, ResultsServiceNamespace and ResultsServicePort locate the results API
	// (defaults jobkeeper-results, jobkeeper-system, 443).
	ResultsServiceName      string
	ResultsServiceNamespace string
	ResultsServicePort      int32
	// ResultsAudience is the audience of the projected results token (default jobkeeper-results).
	ResultsAudience string
	// ResultsCA publishes the results API's CA bundle into namespaces with job pods; nil publishes nothing.
	ResultsCA *resultsca.Publisher
	// Reports is the report store: selections, node records, results, files and logs. Nil keeps them in a
	// temporary directory of this process.
	Reports *reports.FileStore
	// Changes brings the runs whose records the results API changed; nil watches none.
	Changes *reports.Changes
	// Metrics holds the result gauges, kept in step with the runs; nil exports nothing.
	Metrics *nodemetrics.Registry
	// LoadSeries reads a node's stored series after a restart (NJ-32); nil loads none.
	LoadSeries nodemetrics.Loader
	// Logs reads pod logs for savePodLogs; nil uses the pods/log subresource.
	Logs PodLogReader

	// PodCache is the cache of pods labelled with a run name (NewRunPodCache); SetupWithManager creates one
	// when it is nil.
	PodCache cache.Cache
	// pods is the cache of pods labelled with a run name.
	pods client.Reader
	// apiReader reads from the API server, for what the cache may not have seen yet.
	apiReader client.Reader
	// createFailures counts failed pod creations in a row, by namespace/pod name.
	createFailures sync.Map
	// written holds, by run UID, the resourceVersion of this reconciler's last status write of the run.
	written sync.Map
}

// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// runState is what one reconcile works on: the run's nodes (selection and records) and its trusted pods.
type runState struct {
	loc     reports.RunLocation
	nodes   []reports.NodeRecord
	desired int
	// pods are the trusted pods of the run, by node name.
	pods map[string]*corev1.Pod
	// stop ends the run in this reconcile.
	stop *runOutcome
	// rebuilt is set when the store had lost the run's selection and the nodes were selected again.
	rebuilt bool
	// start is the run's start, when this reconcile selected its nodes.
	start *metav1.Time
}

// behindOwnWrite reports whether the cached run is older than this reconciler's last status write of it.
func (r *NodeJobRunReconciler) behindOwnWrite(run *batchv1alpha1.NodeJobRun) bool {
	v, ok := r.written.Load(run.UID)
	if !ok {
		return false
	}
	cmp, err := resourceversion.CompareResourceVersion(run.ResourceVersion, v.(string))
	if err != nil || cmp >= 0 {
		r.written.CompareAndDelete(run.UID, v)
		return false
	}
	return true
}

// Reconcile moves a NodeJobRun towards its desired state.
func (r *NodeJobRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.reconcile(ctx, req)
	if apierrors.IsConflict(err) {
		// A write met a newer version than the cache held (the run's own last status write, or a pod the kubelet
		// updated): nothing is wrong, and the newer version's event brings the next reconcile. The short requeue
		// covers a newer version whose event has already been handled.
		logf.FromContext(ctx).V(1).Info("a write met a newer version; reconciling again", "conflict", err.Error())
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	return res, err
}

// conflictRetry is how soon a reconcile whose write met a newer version is repeated.
const conflictRetry = 500 * time.Millisecond

func (r *NodeJobRunReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	run := &batchv1alpha1.NodeJobRun{}
	if err := r.Get(ctx, req.NamespacedName, run); err != nil {
		if apierrors.IsNotFound(err) {
			// The run is gone: its pods go by their ownerReference once released, and its reports and series
			// go with it (NJ-22).
			return ctrl.Result{}, errors.Join(r.releasePods(ctx, req.Namespace, req.Name, ""),
				r.forgetRun(req.Namespace, req.Name))
		}
		return ctrl.Result{}, err
	}
	if !run.DeletionTimestamp.IsZero() {
		r.written.Delete(run.UID)
		return ctrl.Result{}, r.releasePods(ctx, run.Namespace, run.Name, run.UID)
	}
	if r.behindOwnWrite(run) {
		// The cache has not yet delivered this reconciler's last status write of the run; a reconcile from the
		// older version would select the nodes again or meet a conflict. The write's own event brings the next.
		return ctrl.Result{}, nil
	}
	s := &runState{loc: reports.LocationOf(run)}
	if run.Status.StartTime == nil && !runFinished(run.Status.Phase) {
		// Nodes are selected once, and recorded before any pod exists (NJ-7 to NJ-10). The run starts now, when
		// its nodes are selected, whenever its status write happens.
		start := metav1.NewTime(r.Clock.Now())
		s.start = &start
		if err := r.selectNodes(ctx, run, s); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.recordStop(s); err != nil {
			return ctrl.Result{}, err
		}
		if s.stop != nil {
			return ctrl.Result{}, r.writeStatus(ctx, run, s)
		}
		// The selection is recorded in the store: the first pods are created in this same reconcile, and the
		// run's start is written with them, in one status write. Should that write not happen, the next reconcile
		// selects again and finds the pods through their records.
		s = &runState{loc: s.loc, start: s.start}
	}

	if ok, err := r.loadNodes(ctx, run, s); err != nil || !ok {
		return ctrl.Result{}, err
	}
	if by := run.Annotations[batchv1alpha1.NodeJobRunReplacedByAnnotation]; by != "" && s.stop == nil &&
		!runFinished(run.Status.Phase) {
		// The NodeJob asked for this run to make way for a newer one (NJ-5 Replace).
		s.stop = outcome(batchv1alpha1.NodeJobRunPhaseFailed, NodeReasonReplaced, "replaced by run "+by)
	}
	pods, err := r.listPods(ctx, run)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.trustPods(ctx, run, s, pods); err != nil {
		return ctrl.Result{}, err
	}
	result, err := r.reconcileNodes(ctx, run, s)
	if werr := r.writeStatus(ctx, run, s); werr != nil {
		return ctrl.Result{}, errors.Join(err, werr)
	}
	// Only now that the outcomes are stored may the pods go (NJ-14).
	if rerr := r.releaseFinished(ctx, s); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return result, err
}

// selectNodes records the candidate nodes of the run, or decides to end it when no node or too many are selected.
func (r *NodeJobRunReconciler) selectNodes(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState) error {
	var nodes corev1.NodeList
	if err := r.List(ctx, &nodes); err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	sel, err := selectNodes(&run.Spec, nodes.Items)
	switch {
	case err != nil:
		s.stop = outcome(batchv1alpha1.NodeJobRunPhaseFailed, NodeJobReasonInvalidSpec, err.Error())
		sel = nodeSelection{}
	case sel.desired > r.MaxNodesPerRun:
		s.stop = outcome(batchv1alpha1.NodeJobRunPhaseFailed, NodeJobRunReasonTooManyNodes,
			fmt.Sprintf("%d nodes selected, more than the limit of %d", sel.desired, r.MaxNodesPerRun))
		s.desired = sel.desired
		sel = nodeSelection{}
	}
	if err := r.Reports.WriteRunMarker(s.loc, run.UID); err != nil {
		return fmt.Errorf("marking the report directory: %w", err)
	}
	if err := r.Reports.WriteSelection(s.loc, sel.nodes); err != nil {
		return fmt.Errorf("recording the selected nodes: %w", err)
	}
	s.nodes, _ = mergeNodes(sel.nodes, nil)
	if s.stop == nil {
		s.desired = sel.desired
		var skipped []string
		for _, n := range sel.nodes {
			if n.SkipReason != "" {
				skipped = append(skipped, n.Name+" ("+n.SkipReason+")")
			}
		}
		if len(skipped) > 0 {
			r.Recorder.Eventf(run, nil, corev1.EventTypeNormal, EventNodeSkipped, "Select", "skipped %d node(s): %s",
				len(skipped), strings.Join(truncateList(skipped, 20), ", "))
		}
		if sel.desired == 0 {
			r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, EventNoNodesSelected, "Select", "no node selected")
			s.stop = outcome(batchv1alpha1.NodeJobRunPhaseSucceeded, NodeJobRunReasonNoNodes, "no node selected")
		}
	}
	return nil
}

// truncateList keeps the first n items and says how many more there are.
func truncateList(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(items[:n:n], fmt.Sprintf("and %d more", len(items)-n))
}

// loadNodes reads the run's selection and node records from the store. A started run whose selection is gone
// (its report directory was lost) selects its nodes again; pods it had are then no longer trusted. A finished
// run without a selection is left as it is: false.
func (r *NodeJobRunReconciler) loadNodes(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState) (bool, error) {
	sel, err := r.Reports.Selection(s.loc)
	if errors.Is(err, reports.ErrNotFound) {
		if runFinished(run.Status.Phase) {
			return false, nil
		}
		logf.FromContext(ctx).Info("the run's selection is not in the report store; selecting its nodes again")
		if err := r.selectNodes(ctx, run, s); err != nil {
			return false, err
		}
		s.rebuilt = true
		sel, err = r.Reports.Selection(s.loc)
	}
	if err != nil {
		return false, fmt.Errorf("reading the selected nodes: %w", err)
	}
	recs, err := r.Reports.Nodes(s.loc)
	if err != nil {
		return false, fmt.Errorf("reading the node records: %w", err)
	}
	s.nodes, s.desired = mergeNodes(sel, recs)
	if s.stop == nil {
		// A stop decided earlier whose status write has not happened yet.
		if s.stop, err = r.Reports.Outcome(s.loc); err != nil {
			return false, fmt.Errorf("reading the run's outcome: %w", err)
		}
	}
	return true, nil
}

// recordStop records a stop decided in this reconcile, before any node is stopped for it.
func (r *NodeJobRunReconciler) recordStop(s *runState) error {
	if s.stop == nil {
		return nil
	}
	if err := r.Reports.WriteOutcome(s.loc, *s.stop); err != nil {
		return fmt.Errorf("recording the run's outcome: %w", err)
	}
	return nil
}

// writeStatus computes the run's status from the observation and writes it when it changed, then brings the
// run's gauges up to date. The patch carries the resourceVersion, so that a status computed from a stale read
// of the run is never written.
func (r *NodeJobRunReconciler) writeStatus(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState) error {
	storage, err := r.Reports.Usage(s.loc)
	if err != nil {
		return err
	}
	next := nodeJobRunStatus(run, runObservation{nodes: s.nodes, desired: s.desired, storageBytes: storage,
		stop: s.stop, start: s.start, now: metav1.NewTime(r.Clock.Now())})
	if !equality.Semantic.DeepEqual(run.Status, next) {
		before := run.DeepCopy()
		run.Status = next
		if err := r.Status().Patch(ctx, run, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("patching status: %w", err)
		}
		r.written.Store(run.UID, run.ResourceVersion)
	}
	r.syncMetrics(run, s)
	return nil
}

// reconcileNodes records the pods' outcomes, applies deadlines and the failure policy, and starts pods.
func (r *NodeJobRunReconciler) reconcileNodes(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState) (ctrl.Result, error) {
	var result ctrl.Result
	var err error
	if !runFinished(run.Status.Phase) && s.stop == nil {
		var newlyFailed bool
		var wait time.Duration
		newlyFailed, wait, err = r.observePods(ctx, run, s)
		requeueAfter(&result, wait)
		if err == nil {
			wait, err = r.applyPolicies(ctx, run, s, newlyFailed)
			requeueAfter(&result, wait)
		}
	}
	if err == nil && !runFinished(run.Status.Phase) && s.stop == nil && !run.Spec.Paused {
		err = r.startPods(ctx, run, s)
	}
	if runFinished(run.Status.Phase) || s.stop != nil {
		// A stopped run stops its remaining nodes (NJ-5 Replace, NJ-17, NJ-19).
		reason := run.Status.Reason
		if s.stop != nil {
			reason = s.stop.Reason
			if rerr := r.recordStop(s); rerr != nil {
				return ctrl.Result{}, errors.Join(err, rerr)
			}
		}
		err = errors.Join(err, r.stopNodes(s, reason))
		result = ctrl.Result{}
	}
	return result, err
}

// requeueAfter keeps the earliest positive wait.
func requeueAfter(res *ctrl.Result, d time.Duration) {
	if d > 0 && (res.RequeueAfter == 0 || d < res.RequeueAfter) {
		res.RequeueAfter = d
	}
}

// observePods brings the node records up to date with their pods and nodes (NJ-12, NJ-14, NJ-15, NJ-20). It
// reports whether a node failed now, and how long until the next pod deadline.
func (r *NodeJobRunReconciler) observePods(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState) (bool, time.Duration, error) {
	now := r.Clock.Now()
	var newlyFailed bool
	var wait time.Duration
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.Final() {
			continue
		}
		pod := s.pods[n.Name]
		if pod == nil && n.Phase == batchv1alpha1.NodeJobRunNodePhaseRunning {
			// The cache may lag behind a pod created a moment ago: confirm with a direct read.
			p, err := r.directPod(ctx, run, n.PodName)
			if err != nil {
				return newlyFailed, wait, err
			}
			if p == nil || p.UID != n.PodUID {
				if err := r.failNode(run, s, n, NodeReasonPodDeleted, "the pod was deleted before it ended"); err != nil {
					return newlyFailed, wait, err
				}
				newlyFailed = true
				continue
			}
			pod = p
		}
		if pod == nil {
			if gone, err := r.nodeGone(ctx, n.Name); err != nil {
				return newlyFailed, wait, err
			} else if gone {
				if err := r.setNode(s, n, batchv1alpha1.NodeJobRunNodePhaseSkipped, NodeReasonNodeDeleted,
					"the node was deleted", nil); err != nil {
					return newlyFailed, wait, err
				}
			}
			continue
		}
		failed, d, err := r.observePod(ctx, run, s, n, pod, now)
		if err != nil {
			return newlyFailed, wait, err
		}
		newlyFailed = newlyFailed || failed
		requeueDuration(&wait, d)
	}
	return newlyFailed, wait, nil
}

// requeueDuration keeps the earliest positive wait.
func requeueDuration(wait *time.Duration, d time.Duration) {
	if d > 0 && (*wait == 0 || d < *wait) {
		*wait = d
	}
}

// observePod records the outcome of one running pod.
func (r *NodeJobRunReconciler) observePod(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState,
	n *reports.NodeRecord, pod *corev1.Pod, now time.Time) (bool, time.Duration, error) {
	if phase, reason, msg := podOutcome(pod); phase != "" {
		// In this order: logs, then the outcome; the finalizer goes after the outcome is stored (NJ-14).
		logsSaved := r.saveLogs(ctx, run, n, pod)
		if err := r.setNode(s, n, phase, reason, msg, func(rec *reports.NodeRecord) {
			if end := podEndTime(pod); end != nil {
				rec.CompletionTime = end
			}
			rec.LogsSaved = rec.LogsSaved || logsSaved
		}); err != nil {
			return false, 0, err
		}
		if phase == batchv1alpha1.NodeJobRunNodePhaseFailed {
			r.Recorder.Eventf(run, pod, corev1.EventTypeWarning, EventNodeFailed, "Observe", "node %s failed: %s %s",
				n.Name, reason, msg)
			return true, 0, nil
		}
		return false, 0, nil
	}
	if !pod.DeletionTimestamp.IsZero() {
		return true, 0, r.failNode(run, s, n, NodeReasonPodDeleted, "the pod was deleted before it ended")
	}
	if gone, err := r.nodeGone(ctx, n.Name); err != nil || gone {
		if gone {
			err = r.failNode(run, s, n, NodeReasonNodeDeleted, "the node was deleted while its pod ran")
		}
		return gone, 0, err
	}
	if d := run.Spec.PodActiveDeadlineSeconds; d != nil {
		left := pod.CreationTimestamp.Add(time.Duration(*d) * time.Second).Sub(now)
		if left <= 0 {
			return true, 0, r.failNode(run, s, n, NodeReasonDeadlineExceeded,
				fmt.Sprintf("the pod ran longer than podActiveDeadlineSeconds (%ds)", *d))
		}
		return false, left, nil
	}
	return false, 0, nil
}

// syncMetrics brings the run's gauges up to date with its nodes (NJ-27, NJ-32), every node as the store records it.
func (r *NodeJobRunReconciler) syncMetrics(run *batchv1alpha1.NodeJobRun, s *runState) {
	if r.Metrics == nil {
		return
	}
	nodes := make([]batchv1alpha1.NodeJobRunNode, len(s.nodes))
	for i := range s.nodes {
		n := &s.nodes[i]
		nodes[i] = batchv1alpha1.NodeJobRunNode{Name: n.Name, Phase: n.Phase, PodName: n.PodName,
			StartTime: n.StartTime, CompletionTime: n.CompletionTime, ResultReceived: n.ResultReceived}
	}
	r.Metrics.SyncRun(run, nodes, r.LoadSeries)
}

// podEndTime is when the last container of an ended pod finished, or nil when the pod does not say.
func podEndTime(pod *corev1.Pod) *metav1.Time {
	var end *metav1.Time
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && !t.FinishedAt.IsZero() && (end == nil || end.Before(&t.FinishedAt)) {
			end = t.FinishedAt.DeepCopy()
		}
	}
	return end
}

// failNode marks a node Failed with a Warning event.
func (r *NodeJobRunReconciler) failNode(run *batchv1alpha1.NodeJobRun, s *runState, n *reports.NodeRecord, reason, msg string) error {
	if err := r.setNode(s, n, batchv1alpha1.NodeJobRunNodePhaseFailed, reason, msg, nil); err != nil {
		return err
	}
	r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, EventNodeFailed, "Observe", "node %s failed: %s: %s", n.Name, reason, msg)
	return nil
}

// setNode records the phase of a node, and whatever also changes, in the node's record; a final phase gets
// its completion time. n becomes the record as written.
func (r *NodeJobRunReconciler) setNode(s *runState, n *reports.NodeRecord, phase batchv1alpha1.NodeJobRunNodePhase,
	reason, msg string, also func(*reports.NodeRecord)) error {
	now := metav1.NewTime(r.Clock.Now())
	rec, err := r.Reports.UpdateNode(s.loc, n.Name, func(rec *reports.NodeRecord) error {
		rec.Phase, rec.Reason, rec.Message = phase, reason, msg
		if also != nil {
			also(rec)
		}
		if rec.Final() && rec.CompletionTime == nil {
			rec.CompletionTime = &now
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording node %s: %w", n.Name, err)
	}
	*n = rec
	return nil
}

// applyPolicies applies the run deadline and the failure policy (NJ-17 to NJ-19), and returns the time left until
// the run deadline.
func (r *NodeJobRunReconciler) applyPolicies(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState, newlyFailed bool) (time.Duration, error) {
	var left time.Duration
	if d := run.Spec.ActiveDeadlineSeconds; d != nil && run.Status.StartTime != nil {
		left = run.Status.StartTime.Add(time.Duration(*d) * time.Second).Sub(r.Clock.Now())
		if left <= 0 {
			msg := fmt.Sprintf("the run took longer than activeDeadlineSeconds (%ds)", *d)
			r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, EventDeadlineExceeded, "Stop", "%s", msg)
			s.stop = outcome(batchv1alpha1.NodeJobRunPhaseFailed, NodeReasonDeadlineExceeded, msg)
			return 0, nil
		}
	}
	if !newlyFailed {
		return left, nil
	}
	switch run.Spec.FailurePolicy {
	case batchv1alpha1.NodeJobFailurePolicyFailFast:
		s.stop = outcome(batchv1alpha1.NodeJobRunPhaseFailed, NodeReasonFailFast, "a node failed under failurePolicy FailFast")
	case batchv1alpha1.NodeJobFailurePolicyPause:
		if !run.Spec.Paused {
			patch := client.MergeFrom(run.DeepCopy())
			run.Spec.Paused = true
			if err := r.Patch(ctx, run, patch); err != nil {
				return 0, fmt.Errorf("pausing run: %w", err)
			}
		}
	}
	return left, nil
}

// stopNodes ends the nodes of a stopped run: unstarted ones are Skipped, running ones Failed; their pods are
// deleted once this is stored.
func (r *NodeJobRunReconciler) stopNodes(s *runState, reason string) error {
	if reason == "" {
		reason = NodeReasonAborted
	}
	running := reason
	if reason == NodeReasonFailFast {
		running = NodeReasonAborted
	}
	for i := range s.nodes {
		n := &s.nodes[i]
		var err error
		switch n.Phase {
		case batchv1alpha1.NodeJobRunNodePhasePending:
			err = r.setNode(s, n, batchv1alpha1.NodeJobRunNodePhaseSkipped, reason, "the run was stopped before the node started", nil)
		case batchv1alpha1.NodeJobRunNodePhaseRunning:
			err = r.setNode(s, n, batchv1alpha1.NodeJobRunNodePhaseFailed, running, "the run was stopped: "+reason, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// startPods creates pods, in node-name order, while fewer than the parallelism limit are active (NJ-11 to NJ-13).
// The node records are the store's, written through by this reconciler, so the count of active pods is never
// stale; the run itself is read from the API server first, so that a lagging cache cannot hide spec.paused.
func (r *NodeJobRunReconciler) startPods(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState) error {
	limit := parallelismLimit(run.Spec.Parallelism, s.desired)
	active, pending := 0, 0
	for _, n := range s.nodes {
		switch n.Phase {
		case batchv1alpha1.NodeJobRunNodePhaseRunning:
			active++
		case batchv1alpha1.NodeJobRunNodePhasePending:
			pending++
		}
	}
	if pending == 0 || active >= limit {
		return nil
	}
	// A newer version of the run brings its own watch event.
	if fresh, err := r.isFresh(ctx, run); err != nil || !fresh {
		return err
	}
	for i := range s.nodes {
		if active >= limit || s.stop != nil {
			return nil
		}
		n := &s.nodes[i]
		if n.Phase != batchv1alpha1.NodeJobRunNodePhasePending {
			continue
		}
		if err := r.createPod(ctx, run, s, n); err != nil {
			return err
		}
		if n.Phase == batchv1alpha1.NodeJobRunNodePhaseRunning {
			active++
		}
	}
	return nil
}

// createPod creates the pod of a node and records its UID in the node's record at once (NJ-12, NJ-13). A pod of
// the same name that is not the recorded one is not adopted: it is deleted, and the node gets its pod later.
// A pod the API server refuses as invalid or forbidden fails the run at once with the API server's message: the
// same template would be refused for every node.
func (r *NodeJobRunReconciler) createPod(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState, n *reports.NodeRecord) error {
	pod := buildNodeJobPod(run, n.Name, r.endpoint())
	if err := controllerutil.SetControllerReference(run, pod, r.Scheme); err != nil {
		return err
	}
	key := pod.Namespace + "/" + pod.Name
	// The pod's projected volume needs the results CA in this namespace.
	if err := r.ResultsCA.Ensure(ctx, pod.Namespace); err != nil {
		return err
	}
	err := r.Create(ctx, pod)
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := r.directPod(ctx, run, pod.Name)
		if gerr != nil {
			return gerr
		}
		if existing != nil {
			// Not recorded, so not trusted: someone else's, or one whose creation was never recorded.
			return r.removeUntrusted(ctx, run, existing)
		}
	}
	if err != nil {
		if rejected(err) {
			msg := fmt.Sprintf("the API server refused pod %s for node %s: %v", pod.Name, n.Name, err)
			r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, EventPodCreateFailed, "Create", "%s", msg)
			s.stop = outcome(batchv1alpha1.NodeJobRunPhaseFailed, NodeJobRunReasonPodRejected, msg)
			return r.setNode(s, n, batchv1alpha1.NodeJobRunNodePhaseFailed, NodeReasonPodCreateFailed, err.Error(), nil)
		}
		failures := 1
		if v, ok := r.createFailures.Load(key); ok {
			failures = v.(int) + 1
		}
		r.createFailures.Store(key, failures)
		r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, EventPodCreateFailed, "Create", "creating pod %s for node %s (attempt %d): %v",
			pod.Name, n.Name, failures, err)
		if failures < maxPodCreateFailures {
			return fmt.Errorf("creating pod %s: %w", pod.Name, err) // retried with backoff
		}
		r.createFailures.Delete(key)
		return r.setNode(s, n, batchv1alpha1.NodeJobRunNodePhaseFailed, NodeReasonPodCreateFailed, err.Error(), nil)
	}
	r.createFailures.Delete(key)
	now := metav1.NewTime(r.Clock.Now())
	if err := r.setNode(s, n, batchv1alpha1.NodeJobRunNodePhaseRunning, "", "", func(rec *reports.NodeRecord) {
		rec.PodName, rec.PodUID, rec.StartTime = pod.Name, pod.UID, &now
	}); err != nil {
		return err
	}
	s.pods[n.Name] = pod
	r.Recorder.Eventf(run, pod, corev1.EventTypeNormal, EventPodCreated, "Create", "created pod %s for node %s", pod.Name, n.Name)
	return nil
}

// isFresh reports whether the run is the version the API server holds.
func (r *NodeJobRunReconciler) isFresh(ctx context.Context, run *batchv1alpha1.NodeJobRun) (bool, error) {
	cur := &metav1.PartialObjectMetadata{}
	cur.SetGroupVersionKind(batchv1alpha1.GroupVersion.WithKind("NodeJobRun"))
	if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return cur.ResourceVersion == run.ResourceVersion, nil
}

// rejected reports whether the API server refused a pod for what it is (invalid, or forbidden by admission)
// rather than for a passing condition.
func rejected(err error) bool {
	return apierrors.IsInvalid(err) || (apierrors.IsForbidden(err) && !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) &&
		!strings.Contains(err.Error(), "exceeded quota"))
}

func (r *NodeJobRunReconciler) endpoint() resultsEndpoint {
	return resultsEndpoint{serviceName: r.ResultsServiceName, serviceNamespace: r.ResultsServiceNamespace,
		port: r.ResultsServicePort, audience: r.ResultsAudience}
}

// directPod reads a pod of the run from the API server; nil when it does not exist or belongs to something else.
func (r *NodeJobRunReconciler) directPod(ctx context.Context, run *batchv1alpha1.NodeJobRun, name string) (*corev1.Pod, error) {
	if name == "" {
		return nil, nil
	}
	pod := &corev1.Pod{}
	if err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: run.Namespace, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading pod %s: %w", name, err)
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.UID != run.UID {
		return nil, nil
	}
	return pod, nil
}

// nodeGone reports whether a node no longer exists.
func (r *NodeJobRunReconciler) nodeGone(ctx context.Context, name string) (bool, error) {
	err := r.Get(ctx, types.NamespacedName{Name: name}, &corev1.Node{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// listPods returns the cached pods controlled by the run.
func (r *NodeJobRunReconciler) listPods(ctx context.Context, run *batchv1alpha1.NodeJobRun) ([]*corev1.Pod, error) {
	var list corev1.PodList
	if err := r.pods.List(ctx, &list, client.InNamespace(run.Namespace),
		client.MatchingFields{nodeJobRunPodIndex: run.Name}); err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	out := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		if ref := metav1.GetControllerOf(&list.Items[i]); ref != nil && ref.UID == run.UID {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// trustPods keeps the pods whose UID is the one recorded for their node, by node name, and removes the others.
func (r *NodeJobRunReconciler) trustPods(ctx context.Context, run *batchv1alpha1.NodeJobRun, s *runState, pods []*corev1.Pod) error {
	byNode := make(map[string]*reports.NodeRecord, len(s.nodes))
	for i := range s.nodes {
		byNode[s.nodes[i].Name] = &s.nodes[i]
	}
	s.pods = make(map[string]*corev1.Pod, len(pods))
	var errs []error
	for _, pod := range pods {
		node := pod.Annotations[batchv1alpha1.NodeJobNodeNameAnnotation]
		n := byNode[node]
		if n != nil && n.PodUID != "" && n.PodUID == pod.UID && n.PodName == pod.Name {
			s.pods[node] = pod
			continue
		}
		if n != nil && s.rebuilt && n.PodUID == "" && n.Phase == batchv1alpha1.NodeJobRunNodePhasePending &&
			pod.Name == names.NodeJobPodName(run.Name, node) && pod.DeletionTimestamp.IsZero() {
			// The store lost the run: adopt the run's pod for this node once and record it.
			if err := r.setNode(s, n, batchv1alpha1.NodeJobRunNodePhaseRunning, "", "", func(rec *reports.NodeRecord) {
				rec.PodName, rec.PodUID, rec.StartTime = pod.Name, pod.UID, pod.CreationTimestamp.DeepCopy()
			}); err != nil {
				errs = append(errs, err)
				continue
			}
			s.pods[node] = pod
			continue
		}
		errs = append(errs, r.removeUntrusted(ctx, run, pod))
	}
	return errors.Join(errs...)
}

// removeUntrusted deletes a pod that claims to be the run's but whose UID was never recorded, and releases it.
func (r *NodeJobRunReconciler) removeUntrusted(ctx context.Context, run *batchv1alpha1.NodeJobRun, pod *corev1.Pod) error {
	if pod.DeletionTimestamp.IsZero() {
		r.Recorder.Eventf(run, pod, corev1.EventTypeWarning, EventUntrustedPod, "Delete",
			"deleting pod %s: the operator did not record creating it for this run", pod.Name)
		if err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting untrusted pod %s: %w", pod.Name, err)
		}
	}
	return r.removeFinalizer(ctx, pod)
}

// releaseFinished deletes the pods of nodes that were stopped and removes the tracking finalizer from pods whose
// node outcome is stored (NJ-14, NJ-17, NJ-19).
func (r *NodeJobRunReconciler) releaseFinished(ctx context.Context, s *runState) error {
	var errs []error
	for _, n := range s.nodes {
		pod := s.pods[n.Name]
		if pod == nil || !n.Final() {
			continue
		}
		if phase, _, _ := podOutcome(pod); phase == "" && pod.DeletionTimestamp.IsZero() {
			if err := r.Delete(ctx, pod, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("deleting pod %s: %w", pod.Name, err))
			}
		}
		errs = append(errs, r.removeFinalizer(ctx, pod))
	}
	return errors.Join(errs...)
}

// releasePods removes the tracking finalizer from every pod of a run that is gone or being deleted.
func (r *NodeJobRunReconciler) releasePods(ctx context.Context, namespace, name string, uid types.UID) error {
	var list corev1.PodList
	if err := r.pods.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{nodeJobRunPodIndex: name}); err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	var errs []error
	for i := range list.Items {
		pod := &list.Items[i]
		if ref := metav1.GetControllerOf(pod); uid != "" && (ref == nil || ref.UID != uid) {
			continue
		}
		errs = append(errs, r.removeFinalizer(ctx, pod))
	}
	return errors.Join(errs...)
}

func (r *NodeJobRunReconciler) removeFinalizer(ctx context.Context, pod *corev1.Pod) error {
	if !controllerutil.ContainsFinalizer(pod, batchv1alpha1.NodeJobTrackingFinalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(pod.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(pod, batchv1alpha1.NodeJobTrackingFinalizer)
	if err := r.Patch(ctx, pod, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing finalizer from pod %s: %w", pod.Name, err)
	}
	return nil
}

// SetupWithManager sets up the controller with the Manager. Pods are watched through a cache of their own that
// holds only pods labelled with a run name (NJ-37); Nodes are watched for deletions.
func (r *NodeJobRunReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("jobkeeper-nodejobrun")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.MaxNodesPerRun <= 0 {
		r.MaxNodesPerRun = DefaultMaxNodesPerRun
	}
	if r.ResultsServiceName == "" {
		r.ResultsServiceName = DefaultResultsServiceName
	}
	if r.ResultsServiceNamespace == "" {
		r.ResultsServiceNamespace = DefaultResultsServiceNamespace
	}
	if r.ResultsServicePort == 0 {
		r.ResultsServicePort = DefaultResultsServicePort
	}
	if r.ResultsAudience == "" {
		r.ResultsAudience = DefaultResultsAudience
	}
	if r.apiReader == nil {
		r.apiReader = mgr.GetAPIReader()
	}
	if r.Reports == nil {
		dir, err := os.MkdirTemp("", "jobkeeper-reports-")
		if err != nil {
			return err
		}
		if r.Reports, err = reports.NewFileStore(dir); err != nil {
			return err
		}
		mgr.GetLogger().Info("NodeJob reports are kept in a temporary directory", "dir", dir)
	}
	if r.Logs == nil {
		cs, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
		if err != nil {
			return fmt.Errorf("creating a clientset for pod logs: %w", err)
		}
		r.Logs = clientsetLogs{clientset: cs}
	}
	{
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			if !mgr.GetCache().WaitForCacheSync(ctx) {
				return nil
			}
			if err := r.removeOrphanReports(ctx); err != nil {
				logf.FromContext(ctx).Error(err, "removing the reports of deleted runs")
			}
			return nil
		})); err != nil {
			return err
		}
	}

	podCache := r.PodCache
	if podCache == nil {
		var err error
		if podCache, err = NewRunPodCache(mgr, r.Namespaces); err != nil {
			return err
		}
	}
	r.pods = podCache

	b := ctrl.NewControllerManagedBy(mgr).
		For(&batchv1alpha1.NodeJobRun{}).
		WatchesRawSource(source.Kind(podCache, &corev1.Pod{},
			handler.TypedEnqueueRequestsFromMapFunc(nodeJobRunForPod))).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.runsForNode),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc: func(event.CreateEvent) bool { return false },
				UpdateFunc: func(event.UpdateEvent) bool { return false },
			})).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles),
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
				5*time.Millisecond, maxPodCreateBackoff),
		}).
		Named("batch-nodejobrun")
	if r.Changes != nil {
		// Runs whose records the results API changed; the queue holds each once, so changes coalesce.
		b = b.WatchesRawSource(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			r.Changes.Start(func(key types.NamespacedName) { q.Add(reconcile.Request{NamespacedName: key}) })
			return nil
		}))
	}
	return b.Complete(r)
}

// NewRunPodCache creates the cache of pods labelled with a run name, indexed by that name and by their IPs
// (for the results API's PodIP caller identity), and adds it to the manager. The NodeJobRun controller and the
// results API share it.
func NewRunPodCache(mgr ctrl.Manager, namespaces []string) (cache.Cache, error) {
	return labelcache.New(mgr, &corev1.Pod{}, batchv1alpha1.NodeJobRunNameLabel, namespaces,
		labelcache.Index{Field: nodeJobRunPodIndex, Extract: func(o client.Object) []string {
			return []string{o.GetLabels()[batchv1alpha1.NodeJobRunNameLabel]}
		}},
		labelcache.Index{Field: labelcache.PodIPIndex, Extract: labelcache.PodIPs})
}

// nodeJobRunForPod maps a pod to its run.
func nodeJobRunForPod(_ context.Context, pod *corev1.Pod) []reconcile.Request {
	name := pod.Labels[batchv1alpha1.NodeJobRunNameLabel]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: pod.Namespace, Name: name}}}
}

// runsForNode maps a deleted node to the unfinished runs, which look for their nodes that are gone (NJ-15).
func (r *NodeJobRunReconciler) runsForNode(ctx context.Context, _ client.Object) []reconcile.Request {
	var runs batchv1alpha1.NodeJobRunList
	if err := r.List(ctx, &runs); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range runs.Items {
		if !runFinished(runs.Items[i].Status.Phase) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&runs.Items[i])})
		}
	}
	return out
}
