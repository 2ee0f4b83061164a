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
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/resultsca"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// Event reasons on NodeJobRuns (NJ-35).
const (
	EventPodCreated       = "PodCreated"
	EventPodCreateFailed  = "PodCreateFailed"
	EventNodeSkipped      = "NodeSkipped"
	EventNodeFailed       = "NodeFailed"
	EventDeadlineExceeded = "DeadlineExceeded"
	EventNoNodesSelected  = "NoNodesSelected"
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

// NodeJobRunReconciler runs the pods of a NodeJobRun, one per selected node, and records each node's outcome in
// the run's status.
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
	// Reports is the store of the runs' reports (markers, logs, stored results); nil keeps nothing.
	Reports *reports.FileStore
	// Metrics holds the result gauges, kept in step with the runs; nil exports nothing.
	Metrics *nodemetrics.Registry
	// Logs reads pod logs for savePodLogs; nil uses the pods/log subresource.
	Logs PodLogReader

	// apiReader reads from the API server, for what the cache may not have seen yet.
	apiReader client.Reader
	// pods is the cache of pods labelled with a run name.
	pods client.Reader
	// createFailures counts failed pod creations in a row, by namespace/pod name.
	createFailures sync.Map
}

// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a NodeJobRun towards its desired state.
func (r *NodeJobRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
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
		return ctrl.Result{}, r.releasePods(ctx, run.Namespace, run.Name, run.UID)
	}
	before := run.DeepCopy()
	if run.Status.StartTime == nil && !runFinished(run.Status.Phase) {
		// Nodes are selected once, and recorded before any pod exists (NJ-7 to NJ-10).
		if err := r.selectNodes(ctx, run); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.writeMarker(run); err != nil {
			return ctrl.Result{}, fmt.Errorf("marking the report directory: %w", err)
		}
		if err := r.patchStatus(ctx, before, run); err != nil {
			return ctrl.Result{}, err
		}
		r.syncMetrics(run)
		return ctrl.Result{}, nil
	}

	pods, err := r.listPods(ctx, run)
	if err != nil {
		return ctrl.Result{}, err
	}
	result, err := r.reconcileNodes(ctx, run, pods)
	if perr := r.patchStatus(ctx, before, run); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	r.syncMetrics(run)
	// Only now that the outcomes are stored may the pods go (NJ-14).
	if rerr := r.releaseFinished(ctx, run, pods); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return result, err
}

// selectNodes fills status.nodes and starts the run, or ends it when no node or too many are selected.
func (r *NodeJobRunReconciler) selectNodes(ctx context.Context, run *batchv1alpha1.NodeJobRun) error {
	var nodes corev1.NodeList
	if err := r.List(ctx, &nodes); err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	now := metav1.NewTime(r.Clock.Now())
	st := &run.Status
	st.StartTime = &now
	st.Phase = batchv1alpha1.NodeJobRunPhaseRunning
	sel, err := selectNodes(&run.Spec, nodes.Items)
	switch {
	case err != nil:
		r.finish(run, batchv1alpha1.NodeJobRunPhaseFailed, NodeJobReasonInvalidSpec, err.Error())
	case sel.desired > r.MaxNodesPerRun:
		r.finish(run, batchv1alpha1.NodeJobRunPhaseFailed, NodeJobRunReasonTooManyNodes,
			fmt.Sprintf("%d nodes selected, more than the limit of %d", sel.desired, r.MaxNodesPerRun))
		st.Desired = int32(sel.desired)
	default:
		st.Nodes = sel.nodes
		st.Desired = int32(sel.desired)
		var skipped []string
		for _, n := range sel.nodes {
			if n.Phase == batchv1alpha1.NodeJobRunNodePhaseSkipped {
				skipped = append(skipped, n.Name+" ("+n.Reason+")")
			}
		}
		if len(skipped) > 0 {
			r.Recorder.Eventf(run, nil, corev1.EventTypeNormal, EventNodeSkipped, "Select", "skipped %d node(s): %s",
				len(skipped), strings.Join(skipped, ", "))
		}
		if sel.desired == 0 {
			r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, EventNoNodesSelected, "Select", "no node selected")
			r.finish(run, batchv1alpha1.NodeJobRunPhaseSucceeded, NodeJobRunReasonNoNodes, "no node selected")
		}
	}
	setRunCounts(st)
	status.Apply(&st.Conditions, run.Generation, runSummary(st))
	st.ObservedGeneration = run.Generation
	return nil
}

// finish sets a terminal phase.
func (r *NodeJobRunReconciler) finish(run *batchv1alpha1.NodeJobRun, phase batchv1alpha1.NodeJobRunPhase, reason, msg string) {
	now := metav1.NewTime(r.Clock.Now())
	run.Status.Phase, run.Status.Reason, run.Status.Message = phase, reason, msg
	run.Status.CompletionTime = &now
}

// reconcileNodes records the pods' outcomes, applies deadlines and the failure policy, and starts pods.
func (r *NodeJobRunReconciler) reconcileNodes(ctx context.Context, run *batchv1alpha1.NodeJobRun,
	pods map[string]*corev1.Pod) (ctrl.Result, error) {
	st := &run.Status
	var result ctrl.Result
	var err error
	if !runFinished(st.Phase) {
		var newlyFailed bool
		var wait time.Duration
		newlyFailed, wait, err = r.observePods(ctx, run, pods)
		requeueAfter(&result, wait)
		if err == nil {
			wait, err = r.applyPolicies(ctx, run, newlyFailed)
			requeueAfter(&result, wait)
		}
	}
	if runFinished(st.Phase) {
		// A stopped run stops its remaining nodes (NJ-5 Replace, NJ-17, NJ-19).
		r.stopNodes(run, st.Reason)
	} else if err == nil && !run.Spec.Paused {
		err = r.startPods(ctx, run)
	}
	setRunCounts(st)
	if !runFinished(st.Phase) {
		phase, reason, msg := runPhase(run)
		st.Phase, st.Reason, st.Message = phase, reason, msg
		if runFinished(phase) {
			r.finish(run, phase, reason, msg)
		}
	}
	if runFinished(st.Phase) {
		result = ctrl.Result{}
	}
	status.Apply(&st.Conditions, run.Generation, runSummary(st))
	st.ObservedGeneration = run.Generation
	return result, err
}

// requeueAfter keeps the earliest positive wait.
func requeueAfter(res *ctrl.Result, d time.Duration) {
	if d > 0 && (res.RequeueAfter == 0 || d < res.RequeueAfter) {
		res.RequeueAfter = d
	}
}

// observePods brings the node entries up to date with their pods and nodes (NJ-12, NJ-14, NJ-15, NJ-20). It
// reports whether a node failed now, and how long until the next pod deadline.
func (r *NodeJobRunReconciler) observePods(ctx context.Context, run *batchv1alpha1.NodeJobRun,
	pods map[string]*corev1.Pod) (bool, time.Duration, error) {
	now := r.Clock.Now()
	var newlyFailed bool
	var wait time.Duration
	for i := range run.Status.Nodes {
		n := &run.Status.Nodes[i]
		if nodeFinal(n.Phase) {
			continue
		}
		podName := nodeJobPodName(run.Name, n.Name)
		pod := pods[podName]
		if pod == nil && n.Phase == batchv1alpha1.NodeJobRunNodePhaseRunning {
			// The cache may lag behind a pod created a moment ago: confirm with a direct read.
			p, err := r.directPod(ctx, run, podName)
			if err != nil {
				return newlyFailed, wait, err
			}
			if p == nil {
				r.failNode(run, n, NodeReasonPodDeleted, "the pod was deleted before it ended")
				newlyFailed = true
				continue
			}
			pod = p
		}
		if pod == nil {
			if gone, err := r.nodeGone(ctx, n.Name); err != nil {
				return newlyFailed, wait, err
			} else if gone {
				r.setNode(n, batchv1alpha1.NodeJobRunNodePhaseSkipped, NodeReasonNodeDeleted, "the node was deleted")
			}
			continue
		}
		r.adoptPod(n, pod)
		failed, d, err := r.observePod(ctx, run, n, pod, now)
		if err != nil {
			return newlyFailed, wait, err
		}
		newlyFailed = newlyFailed || failed
		if d > 0 && (wait == 0 || d < wait) {
			wait = d
		}
	}
	return newlyFailed, wait, nil
}

// adoptPod marks a node Running with its existing pod (NJ-12, NJ-32).
func (r *NodeJobRunReconciler) adoptPod(n *batchv1alpha1.NodeJobRunNode, pod *corev1.Pod) {
	if n.Phase == batchv1alpha1.NodeJobRunNodePhasePending {
		n.Phase, n.PodName = batchv1alpha1.NodeJobRunNodePhaseRunning, pod.Name
		n.StartTime = new(pod.CreationTimestamp)
	}
}

// observePod records the outcome of one running pod.
func (r *NodeJobRunReconciler) observePod(ctx context.Context, run *batchv1alpha1.NodeJobRun, n *batchv1alpha1.NodeJobRunNode,
	pod *corev1.Pod, now time.Time) (bool, time.Duration, error) {
	if phase, reason, msg := podOutcome(pod); phase != "" {
		// In this order: logs, then the outcome; the finalizer goes after the status is written (NJ-14).
		r.saveLogs(ctx, run, n, pod)
		r.setNode(n, phase, reason, msg)
		if end := podEndTime(pod); end != nil {
			n.CompletionTime = end
		}
		if phase == batchv1alpha1.NodeJobRunNodePhaseFailed {
			r.Recorder.Eventf(run, pod, corev1.EventTypeWarning, EventNodeFailed, "Observe", "node %s failed: %s %s",
				n.Name, reason, msg)
			return true, 0, nil
		}
		return false, 0, nil
	}
	if !pod.DeletionTimestamp.IsZero() {
		r.failNode(run, n, NodeReasonPodDeleted, "the pod was deleted before it ended")
		return true, 0, nil
	}
	if gone, err := r.nodeGone(ctx, n.Name); err != nil || gone {
		if gone {
			r.failNode(run, n, NodeReasonNodeDeleted, "the node was deleted while its pod ran")
		}
		return gone, 0, err
	}
	if d := run.Spec.PodActiveDeadlineSeconds; d != nil {
		left := pod.CreationTimestamp.Add(time.Duration(*d) * time.Second).Sub(now)
		if left <= 0 {
			r.failNode(run, n, NodeReasonDeadlineExceeded,
				fmt.Sprintf("the pod ran longer than podActiveDeadlineSeconds (%ds)", *d))
			return true, 0, nil
		}
		return false, left, nil
	}
	return false, 0, nil
}

// syncMetrics brings the run's gauges up to date with its status (NJ-27, NJ-32).
func (r *NodeJobRunReconciler) syncMetrics(run *batchv1alpha1.NodeJobRun) {
	if r.Metrics == nil {
		return
	}
	var load nodemetrics.Loader
	if r.Reports != nil {
		load = loadSeries(r.Reports)
	}
	r.Metrics.SyncRun(run, load)
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
func (r *NodeJobRunReconciler) failNode(run *batchv1alpha1.NodeJobRun, n *batchv1alpha1.NodeJobRunNode, reason, msg string) {
	r.setNode(n, batchv1alpha1.NodeJobRunNodePhaseFailed, reason, msg)
	r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, EventNodeFailed, "Observe", "node %s failed: %s: %s", n.Name, reason, msg)
}

// setNode sets the phase of a node entry; a final phase gets its completion time.
func (r *NodeJobRunReconciler) setNode(n *batchv1alpha1.NodeJobRunNode, phase batchv1alpha1.NodeJobRunNodePhase, reason, msg string) {
	n.Phase, n.Reason, n.Message = phase, reason, msg
	if nodeFinal(phase) && n.CompletionTime == nil {
		n.CompletionTime = new(metav1.NewTime(r.Clock.Now()))
	}
}

// applyPolicies applies the run deadline and the failure policy (NJ-17 to NJ-19), and returns the time left until
// the run deadline.
func (r *NodeJobRunReconciler) applyPolicies(ctx context.Context, run *batchv1alpha1.NodeJobRun, newlyFailed bool) (time.Duration, error) {
	var left time.Duration
	if d := run.Spec.ActiveDeadlineSeconds; d != nil && run.Status.StartTime != nil {
		left = run.Status.StartTime.Add(time.Duration(*d) * time.Second).Sub(r.Clock.Now())
		if left <= 0 {
			msg := fmt.Sprintf("the run took longer than activeDeadlineSeconds (%ds)", *d)
			r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, EventDeadlineExceeded, "Stop", "%s", msg)
			r.finish(run, batchv1alpha1.NodeJobRunPhaseFailed, NodeReasonDeadlineExceeded, msg)
			return 0, nil
		}
	}
	if !newlyFailed {
		return left, nil
	}
	switch run.Spec.FailurePolicy {
	case batchv1alpha1.NodeJobFailurePolicyFailFast:
		r.finish(run, batchv1alpha1.NodeJobRunPhaseFailed, NodeReasonFailFast, "a node failed under failurePolicy FailFast")
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
func (r *NodeJobRunReconciler) stopNodes(run *batchv1alpha1.NodeJobRun, reason string) {
	if reason == "" {
		reason = NodeReasonAborted
	}
	running := reason
	if reason == NodeReasonFailFast {
		running = NodeReasonAborted
	}
	for i := range run.Status.Nodes {
		n := &run.Status.Nodes[i]
		switch n.Phase {
		case batchv1alpha1.NodeJobRunNodePhasePending:
			r.setNode(n, batchv1alpha1.NodeJobRunNodePhaseSkipped, reason, "the run was stopped before the node started")
		case batchv1alpha1.NodeJobRunNodePhaseRunning:
			r.setNode(n, batchv1alpha1.NodeJobRunNodePhaseFailed, running, "the run was stopped: "+reason)
		}
	}
}

// startPods creates pods, in node-name order, while fewer than the parallelism limit are active (NJ-11 to NJ-13).
func (r *NodeJobRunReconciler) startPods(ctx context.Context, run *batchv1alpha1.NodeJobRun) error {
	limit := parallelismLimit(run.Spec.Parallelism, int(run.Status.Desired))
	active, pending := 0, 0
	for _, n := range run.Status.Nodes {
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
	// A run read from a lagging cache could count too few active pods: create only from the newest version.
	// A newer version brings its own watch event.
	if fresh, err := r.isFresh(ctx, run); err != nil || !fresh {
		return err
	}
	for i := range run.Status.Nodes {
		if active >= limit {
			return nil
		}
		n := &run.Status.Nodes[i]
		if n.Phase != batchv1alpha1.NodeJobRunNodePhasePending {
			continue
		}
		if err := r.createPod(ctx, run, n); err != nil {
			return err
		}
		if n.Phase == batchv1alpha1.NodeJobRunNodePhaseRunning {
			active++
		}
	}
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

// createPod creates the pod of a node, or adopts the one an earlier attempt created (NJ-12, NJ-13).
func (r *NodeJobRunReconciler) createPod(ctx context.Context, run *batchv1alpha1.NodeJobRun, n *batchv1alpha1.NodeJobRunNode) error {
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
			r.createFailures.Delete(key)
			r.adoptPod(n, existing)
			return nil
		}
	}
	if err != nil {
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
		r.setNode(n, batchv1alpha1.NodeJobRunNodePhaseFailed, NodeReasonPodCreateFailed, err.Error())
		return nil
	}
	r.createFailures.Delete(key)
	r.Recorder.Eventf(run, pod, corev1.EventTypeNormal, EventPodCreated, "Create", "created pod %s for node %s", pod.Name, n.Name)
	n.Phase, n.PodName = batchv1alpha1.NodeJobRunNodePhaseRunning, pod.Name
	n.StartTime = new(metav1.NewTime(r.Clock.Now()))
	return nil
}

func (r *NodeJobRunReconciler) endpoint() resultsEndpoint {
	return resultsEndpoint{serviceName: r.ResultsServiceName, serviceNamespace: r.ResultsServiceNamespace,
		port: r.ResultsServicePort, audience: r.ResultsAudience}
}

// directPod reads a pod of the run from the API server; nil when it does not exist or belongs to something else.
func (r *NodeJobRunReconciler) directPod(ctx context.Context, run *batchv1alpha1.NodeJobRun, name string) (*corev1.Pod, error) {
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

// listPods returns the cached pods controlled by the run, by name.
func (r *NodeJobRunReconciler) listPods(ctx context.Context, run *batchv1alpha1.NodeJobRun) (map[string]*corev1.Pod, error) {
	var list corev1.PodList
	if err := r.pods.List(ctx, &list, client.InNamespace(run.Namespace),
		client.MatchingFields{nodeJobRunPodIndex: run.Name}); err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	out := make(map[string]*corev1.Pod, len(list.Items))
	for i := range list.Items {
		if ref := metav1.GetControllerOf(&list.Items[i]); ref != nil && ref.UID == run.UID {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out, nil
}

// releaseFinished deletes the pods of nodes that were stopped and removes the tracking finalizer from pods whose
// node outcome is stored (NJ-14, NJ-17, NJ-19).
func (r *NodeJobRunReconciler) releaseFinished(ctx context.Context, run *batchv1alpha1.NodeJobRun, pods map[string]*corev1.Pod) error {
	var errs []error
	for _, n := range run.Status.Nodes {
		pod := pods[nodeJobPodName(run.Name, n.Name)]
		if pod == nil || !nodeFinal(n.Phase) {
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

// patchStatus writes the run status when it changed. The patch carries the resourceVersion, so that node entries
// written meanwhile by the results API are never overwritten.
func (r *NodeJobRunReconciler) patchStatus(ctx context.Context, before, run *batchv1alpha1.NodeJobRun) error {
	if equality.Semantic.DeepEqual(before.Status, run.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, run, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patching status: %w", err)
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
	r.apiReader = mgr.GetAPIReader()
	if r.Logs == nil {
		cs, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
		if err != nil {
			return fmt.Errorf("creating a clientset for pod logs: %w", err)
		}
		r.Logs = clientsetLogs{clientset: cs}
	}
	if r.Reports != nil {
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

	podCache, err := r.newPodCache(mgr)
	if err != nil {
		return err
	}
	r.pods = podCache

	return ctrl.NewControllerManagedBy(mgr).
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
		Named("batch-nodejobrun").
		Complete(r)
}

// newPodCache creates the cache of pods labelled with a run name, indexed by that name, and adds it to the manager.
func (r *NodeJobRunReconciler) newPodCache(mgr ctrl.Manager) (cache.Cache, error) {
	return labelcache.New(mgr, &corev1.Pod{}, batchv1alpha1.NodeJobRunNameLabel, r.Namespaces,
		labelcache.Index{Field: nodeJobRunPodIndex, Extract: func(o client.Object) []string {
			return []string{o.GetLabels()[batchv1alpha1.NodeJobRunNameLabel]}
		}})
}

// nodeJobRunForPod maps a pod to its run.
func nodeJobRunForPod(_ context.Context, pod *corev1.Pod) []reconcile.Request {
	name := pod.Labels[batchv1alpha1.NodeJobRunNameLabel]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: pod.Namespace, Name: name}}}
}

// runsForNode maps a deleted node to the unfinished runs that list it (NJ-15).
func (r *NodeJobRunReconciler) runsForNode(ctx context.Context, node client.Object) []reconcile.Request {
	var runs batchv1alpha1.NodeJobRunList
	if err := r.List(ctx, &runs); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range runs.Items {
		run := &runs.Items[i]
		if runFinished(run.Status.Phase) {
			continue
		}
		for _, n := range run.Status.Nodes {
			if n.Name == node.GetName() && !nodeFinal(n.Phase) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(run)})
				break
			}
		}
	}
	return out
}
