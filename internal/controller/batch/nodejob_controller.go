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
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/kindmetrics"
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/runs"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// Event reasons on NodeJobs (NJ-35).
const (
	EventRunCreated         = "RunCreated"
	EventRunSkipped         = "RunSkipped"
	EventRunReplaced        = "RunReplaced"
	EventMissedSchedule     = "MissedSchedule"
	EventTooManyMissedTimes = "TooManyMissedTimes"
	EventRunSucceeded       = "RunSucceeded"
	EventRunFailed          = "RunFailed"
	EventRunPaused          = "RunPaused"
	EventRunsPruned         = "RunsPruned"
	EventInvalidSchedule    = "InvalidSchedule"
	EventUnknownTimeZone    = "UnknownTimeZone"
	EventMetricConflict     = "MetricConflict"
	// EventRunQueued ("RunQueued") is shared with the ReactiveJob controller.
)

// nextTickSlack is added to the wait for the next tick, so that the reconcile comes after it, not just before.
const nextTickSlack = 100 * time.Millisecond

// NodeJobReconciler creates a NodeJobRun for every tick of a NodeJob's schedule, for runOnCreate and for run
// requests, applies the concurrency policy and the history limits, and summarises the runs in the status.
type NodeJobReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	// Recorder emits events.k8s.io Events; nil uses the manager's.
	Recorder events.EventRecorder
	// Clock tells the time; nil uses the real clock.
	Clock clock.PassiveClock
	// MaxConcurrentReconciles is the number of NodeJobs reconciled at once (default 1).
	MaxConcurrentReconciles int
	// Metrics holds the result gauges; the NodeJob declares its families there. Nil declares nothing.
	Metrics *nodemetrics.Registry

	// apiReader reads from the API server, for what the cache may not have seen yet.
	apiReader client.Reader
	// runs counts finished runs for the kind's metrics (NJ-36).
	runs *kindmetrics.Tracker
	// displaced brings NodeJobs whose metric families an older NodeJob took over.
	displaced chan event.TypedGenericEvent[*batchv1alpha1.NodeJob]
}

// dueRun is a run that a trigger asks for.
type dueRun struct {
	trigger batchv1alpha1.NodeJobRunTrigger
	at      time.Time
	token   string
}

// name is the deterministic run name of §1.6.
func (d dueRun) name(nj *batchv1alpha1.NodeJob) string {
	if d.trigger == batchv1alpha1.NodeJobRunTriggerManual {
		return manualRunName(nj.Name, d.token, nj.Status.RunRequestCount+1)
	}
	return scheduledRunName(nj.Name, d.at)
}

// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a NodeJob towards its desired state.
func (r *NodeJobReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	nj := &batchv1alpha1.NodeJob{}
	if err := r.Get(ctx, req.NamespacedName, nj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !nj.DeletionTimestamp.IsZero() {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil // the runs go by their ownerReference
	}
	before := nj.DeepCopy()
	runs, err := r.listRuns(ctx, nj)
	if err != nil {
		return ctrl.Result{}, err
	}
	result, err := r.reconcileNormal(ctx, nj, runs)
	if _, perr := status.PatchIfChanged(ctx, r.Client, before, nj, &before.Status, &nj.Status); perr != nil {
		err = errors.Join(err, fmt.Errorf("patching status: %w", perr))
	}
	return result, err
}

// reconcileNormal creates the runs that are due, prunes the history and sets the status.
func (r *NodeJobReconciler) reconcileNormal(ctx context.Context, nj *batchv1alpha1.NodeJob,
	runs []*batchv1alpha1.NodeJobRun) (ctrl.Result, error) {
	now := r.Clock.Now()
	r.observeRuns(nj, runs, true)
	sched, err := nodeJobSchedule(&nj.Spec)
	if err != nil {
		r.invalidSpec(nj, err)
		// Only a new spec can help; its generation change brings the next reconcile.
		return ctrl.Result{}, reconcile.TerminalError(err)
	}

	var result ctrl.Result
	var due []dueRun
	if !nj.Spec.Suspend {
		due = r.dueRuns(nj, sched, now)
		if sched != nil {
			next := sched.Next(now)
			nj.Status.NextScheduleTime = new(metav1.NewTime(next))
			result.RequeueAfter = next.Sub(now) + nextTickSlack // waiting on time for the next tick (NJ-1)
		}
	} else {
		nj.Status.NextScheduleTime = nil
	}

	queued := false
	for _, d := range due {
		q, created, err := r.startRun(ctx, nj, runs, d)
		if err != nil {
			r.observeRuns(nj, runs, false)
			return ctrl.Result{}, err
		}
		queued = queued || q
		if created != nil {
			runs = append(runs, created)
		}
	}
	if err := r.prune(ctx, nj, runs); err != nil {
		return ctrl.Result{}, err
	}
	r.observeRuns(nj, runs, false)
	r.runs.Observe(client.ObjectKeyFromObject(nj), nodeJobRuns(runs))
	r.setConditions(nj, runs, queued, r.declareMetrics(nj))
	return result, nil
}

// declareMetrics declares the NodeJob's metric families and returns their conflict with an older NodeJob
// (NJ-X12). NodeJobs whose families this one takes over are reconciled again.
func (r *NodeJobReconciler) declareMetrics(nj *batchv1alpha1.NodeJob) error {
	if r.Metrics == nil {
		return nil
	}
	displaced, err := r.Metrics.Declare(nj)
	for _, key := range displaced {
		other := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		go func() { r.displaced <- event.TypedGenericEvent[*batchv1alpha1.NodeJob]{Object: other} }()
	}
	return err
}

// forget drops the metrics of a NodeJob that is gone.
func (r *NodeJobReconciler) forget(key types.NamespacedName) {
	r.runs.Forget(key)
	if r.Metrics != nil {
		r.Metrics.Forget(key)
	}
}

// dueRuns lists the runs the triggers ask for now: runOnCreate, the most recent missed tick and a new run request
// (NJ-1 to NJ-4). Ticks that are too late are recorded as handled.
func (r *NodeJobReconciler) dueRuns(nj *batchv1alpha1.NodeJob, sched cron.Schedule, now time.Time) []dueRun {
	st := &nj.Status
	var due []dueRun
	if nj.Spec.RunOnCreate && st.LastScheduleTime == nil && st.RunCount == 0 && st.LastRun == nil {
		due = append(due, dueRun{trigger: batchv1alpha1.NodeJobRunTriggerOnCreate, at: nj.CreationTimestamp.Time})
	}
	if sched != nil {
		earliest := nj.CreationTimestamp.Time
		if st.LastScheduleTime != nil {
			earliest = st.LastScheduleTime.Time
		}
		tick, missed := missedTicks(sched, earliest, now)
		if missed > maxMissedTicks {
			r.Recorder.Eventf(nj, nil, corev1.EventTypeWarning, EventTooManyMissedTimes, "Schedule",
				"%d ticks were missed since %s; only the most recent one is considered", missed, earliest.UTC().Format(time.RFC3339))
		}
		switch {
		case tick.IsZero():
		case nj.Spec.StartingDeadlineSeconds != nil && now.Sub(tick) > time.Duration(*nj.Spec.StartingDeadlineSeconds)*time.Second:
			r.Recorder.Eventf(nj, nil, corev1.EventTypeWarning, EventMissedSchedule, "Schedule",
				"missed the tick of %s by more than startingDeadlineSeconds (%ds)", tick.UTC().Format(time.RFC3339),
				*nj.Spec.StartingDeadlineSeconds)
			st.LastScheduleTime = new(metav1.NewTime(tick))
		case len(due) > 0 && scheduledRunName(nj.Name, tick) == due[0].name(nj):
			st.LastScheduleTime = new(metav1.NewTime(tick)) // the same minute as the on-create run: one run (NJ-3)
		default:
			due = append(due, dueRun{trigger: batchv1alpha1.NodeJobRunTriggerSchedule, at: tick})
		}
	}
	if token := nj.Annotations[batchv1alpha1.NodeJobRunRequestAnnotation]; runs.NewRequest(token, st.LastHandledRunRequest) {
		due = append(due, dueRun{trigger: batchv1alpha1.NodeJobRunTriggerManual, at: now, token: token})
	}
	return due
}

// startRun applies the concurrency policy to a due run and creates it (NJ-5). It reports whether the run has to
// wait, and the run it created.
func (r *NodeJobReconciler) startRun(ctx context.Context, nj *batchv1alpha1.NodeJob, runs []*batchv1alpha1.NodeJobRun,
	d dueRun) (bool, *batchv1alpha1.NodeJobRun, error) {
	name := d.name(nj)
	var active []*batchv1alpha1.NodeJobRun
	for _, run := range runs {
		if run.Name == name {
			r.handled(nj, d) // created by an earlier attempt
			return false, nil, nil
		}
		if !runFinished(run.Status.Phase) && run.DeletionTimestamp.IsZero() {
			active = append(active, run)
		}
	}
	if len(active) > 0 {
		switch nj.Spec.ConcurrencyPolicy {
		case batchv1alpha1.ForbidConcurrent, "":
			if d.trigger == batchv1alpha1.NodeJobRunTriggerManual {
				if c := findCondition(nj.Status.Conditions, status.TypeReconciling); c == nil || c.Reason != NodeJobReasonRunQueued {
					r.Recorder.Eventf(nj, nil, corev1.EventTypeNormal, EventRunQueued, "Queue",
						"run request %q waits for the active run to finish", d.token)
				}
				return true, nil, nil
			}
			r.Recorder.Eventf(nj, nil, corev1.EventTypeNormal, EventRunSkipped, "Skip",
				"skipped the run of %s: run %s is still active", d.at.UTC().Format(time.RFC3339), active[0].Name)
			r.handled(nj, d)
			return false, nil, nil
		case batchv1alpha1.ReplaceConcurrent:
			for _, run := range active {
				if err := r.replace(ctx, nj, run, name); err != nil {
					return false, nil, err
				}
			}
		}
	}
	run, err := r.createRun(ctx, nj, d, name)
	if err != nil {
		return false, nil, err
	}
	return false, run, nil
}

// handled records that a due run was acted on: the tick in lastScheduleTime, the token in lastHandledRunRequest.
func (r *NodeJobReconciler) handled(nj *batchv1alpha1.NodeJob, d dueRun) {
	st := &nj.Status
	switch d.trigger {
	case batchv1alpha1.NodeJobRunTriggerManual:
		st.LastHandledRunRequest = d.token
		st.RunRequestCount++
	default:
		if st.LastScheduleTime == nil || d.at.After(st.LastScheduleTime.Time) {
			st.LastScheduleTime = new(metav1.NewTime(d.at))
		}
	}
}

// replace asks an active run to stop for the run named by: it annotates the run, whose controller, the only
// writer of the run's status, makes it Failed with reason Replaced and stops its nodes (NJ-5).
func (r *NodeJobReconciler) replace(ctx context.Context, nj *batchv1alpha1.NodeJob, run *batchv1alpha1.NodeJobRun, by string) error {
	if run.Annotations[batchv1alpha1.NodeJobRunReplacedByAnnotation] == "" {
		patch := client.MergeFrom(run.DeepCopy())
		metav1.SetMetaDataAnnotation(&run.ObjectMeta, batchv1alpha1.NodeJobRunReplacedByAnnotation, by)
		if err := r.Patch(ctx, run, patch); err != nil {
			return fmt.Errorf("replacing run %s: %w", run.Name, err)
		}
	}
	r.Recorder.Eventf(nj, run, corev1.EventTypeNormal, EventRunReplaced, "Replace", "stopped run %s to replace it", run.Name)
	return nil
}

// createRun creates a run of the §1.6 shape, or adopts the one an earlier attempt created.
func (r *NodeJobReconciler) createRun(ctx context.Context, nj *batchv1alpha1.NodeJob, d dueRun,
	name string) (*batchv1alpha1.NodeJobRun, error) {
	id := executionID(d.at, d.token)
	run := &batchv1alpha1.NodeJobRun{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: nj.Namespace,
			Labels: map[string]string{
				batchv1alpha1.NodeJobNameLabel:        nj.Name,
				batchv1alpha1.NodeJobUIDLabel:         string(nj.UID),
				batchv1alpha1.NodeJobExecutionIDLabel: id,
			},
			Annotations: map[string]string{batchv1alpha1.NodeJobScheduledAtAnnotation: d.at.UTC().Format(time.RFC3339)},
		},
		Spec: batchv1alpha1.NodeJobRunSpec{
			NodeJobName:        nj.Name,
			ExecutionID:        id,
			ScheduledTime:      metav1.NewTime(d.at),
			Trigger:            d.trigger,
			NodeJobRunTemplate: *nj.Spec.NodeJobRunTemplate.DeepCopy(),
		},
	}
	if err := controllerutil.SetControllerReference(nj, run, r.Scheme); err != nil {
		return nil, err
	}
	// An earlier attempt may have created the run and stopped before the
	// status write: it is adopted. A run of another owner, or one being
	// deleted, is never taken for this one.
	created, err := runs.CreateOrAdopt(ctx, r.Client, r.apiReader, run, func(o client.Object) bool {
		ref := metav1.GetControllerOf(o)
		return ref != nil && ref.UID == nj.UID
	})
	if err != nil {
		return nil, fmt.Errorf("creating run %s: %w", name, err)
	}
	if !created {
		r.handled(nj, d)
		return run, nil
	}
	nj.Status.RunCount++
	r.handled(nj, d)
	r.Recorder.Eventf(nj, run, corev1.EventTypeNormal, EventRunCreated, "Create", "created run %s (%s, execution %s)",
		name, d.trigger, id)
	return run, nil
}

// prune deletes finished runs beyond the history limits, oldest first; active and paused runs stay (NJ-22).
func (r *NodeJobReconciler) prune(ctx context.Context, nj *batchv1alpha1.NodeJob, runs []*batchv1alpha1.NodeJobRun) error {
	victims := runsToPrune(runs,
		int(ptrOr(nj.Spec.SuccessfulRunsHistoryLimit, batchv1alpha1.DefaultNodeJobSuccessfulRunsHistoryLimit)),
		int(ptrOr(nj.Spec.FailedRunsHistoryLimit, batchv1alpha1.DefaultNodeJobFailedRunsHistoryLimit)))
	var names []string
	for _, run := range victims {
		if err := r.Delete(ctx, run, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("pruning run %s: %w", run.Name, err)
		}
		names = append(names, run.Name)
	}
	if len(names) > 0 {
		r.Recorder.Eventf(nj, nil, corev1.EventTypeNormal, EventRunsPruned, "Prune", "deleted %d finished run(s) beyond the history limits: %v",
			len(names), names)
	}
	return nil
}

// runsToPrune returns the finished runs beyond the limits, newest kept first.
func runsToPrune(runs []*batchv1alpha1.NodeJobRun, successful, failed int) []*batchv1alpha1.NodeJobRun {
	var ok, bad []*batchv1alpha1.NodeJobRun
	for _, run := range sortedRuns(runs) {
		if !run.DeletionTimestamp.IsZero() {
			continue
		}
		switch run.Status.Phase {
		case batchv1alpha1.NodeJobRunPhaseSucceeded:
			ok = append(ok, run)
		case batchv1alpha1.NodeJobRunPhaseFailed:
			bad = append(bad, run)
		}
	}
	var out []*batchv1alpha1.NodeJobRun
	if len(ok) > successful {
		out = append(out, ok[:len(ok)-successful]...)
	}
	if len(bad) > failed {
		out = append(out, bad[:len(bad)-failed]...)
	}
	return out
}

// sortedRuns orders runs oldest first, by scheduledTime and then name.
func sortedRuns(runs []*batchv1alpha1.NodeJobRun) []*batchv1alpha1.NodeJobRun {
	out := slices.Clone(runs)
	slices.SortStableFunc(out, func(a, b *batchv1alpha1.NodeJobRun) int {
		if c := a.Spec.ScheduledTime.Compare(b.Spec.ScheduledTime.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// observeRuns summarises the runs in status: the active ones, the newest, and the last success (NJ-21). With
// notify, a newest run that finished or paused since the last status gets its event.
func (r *NodeJobReconciler) observeRuns(nj *batchv1alpha1.NodeJob, runs []*batchv1alpha1.NodeJobRun, notify bool) {
	st := &nj.Status
	st.Active = nil
	var newest *batchv1alpha1.NodeJobRun
	for _, run := range sortedRuns(runs) {
		if !run.DeletionTimestamp.IsZero() {
			continue
		}
		newest = run
		if !runFinished(run.Status.Phase) {
			st.Active = append(st.Active, corev1.ObjectReference{
				APIVersion: batchv1alpha1.GroupVersion.String(), Kind: "NodeJobRun",
				Namespace: run.Namespace, Name: run.Name, UID: run.UID,
			})
		}
		if t := run.Status.CompletionTime; run.Status.Phase == batchv1alpha1.NodeJobRunPhaseSucceeded && t != nil &&
			(st.LastSuccessfulTime == nil || t.After(st.LastSuccessfulTime.Time)) {
			st.LastSuccessfulTime = t.DeepCopy()
		}
	}
	if newest == nil {
		return
	}
	prev := st.LastRun
	rs := &newest.Status
	samePhase := prev != nil && prev.Name == newest.Name && prev.Phase == rs.Phase
	// The summary follows the run's phases, not its every node: while the run stays in one unfinished phase, the
	// counts of the summary are those of the phase's start, and the run's own status has the current ones. A run
	// of thousands of nodes writes its status hundreds of times; each would otherwise write the NodeJob's too
	// (NJ-21 asks for the summary at the run's end).
	if !samePhase || runFinished(rs.Phase) {
		st.LastRun = &batchv1alpha1.NodeJobLastRun{
			Name: newest.Name, ExecutionID: newest.Spec.ExecutionID, Phase: rs.Phase, Reason: rs.Reason,
			StartTime: rs.StartTime, CompletionTime: rs.CompletionTime,
			Desired: rs.Desired, Succeeded: rs.Succeeded, Failed: rs.Failed, Skipped: rs.Skipped,
		}
	}
	if !notify || samePhase {
		return
	}
	switch rs.Phase {
	case batchv1alpha1.NodeJobRunPhaseSucceeded:
		r.Recorder.Eventf(nj, newest, corev1.EventTypeNormal, EventRunSucceeded, "Complete", "run %s succeeded: %s", newest.Name, rs.Message)
	case batchv1alpha1.NodeJobRunPhaseFailed:
		r.Recorder.Eventf(nj, newest, corev1.EventTypeWarning, EventRunFailed, "Fail", "run %s failed: %s: %s",
			newest.Name, rs.Reason, rs.Message)
	case batchv1alpha1.NodeJobRunPhasePaused:
		r.Recorder.Eventf(nj, newest, corev1.EventTypeWarning, EventRunPaused, "Pause", "run %s paused: %s", newest.Name, rs.Message)
	}
}

// setConditions writes the kstatus conditions of a valid NodeJob (NJ-34).
func (r *NodeJobReconciler) setConditions(nj *batchv1alpha1.NodeJob, runs []*batchv1alpha1.NodeJobRun, queued bool,
	conflict error) {
	v := nodeJobView{queued: queued, suspended: nj.Spec.Suspend}
	if conflict != nil {
		v.conflict = conflict.Error()
		if c := findCondition(nj.Status.Conditions, status.TypeStalled); c == nil || c.Message != v.conflict {
			r.Recorder.Eventf(nj, nil, corev1.EventTypeWarning, EventMetricConflict, "DeclareMetrics", "%s", v.conflict)
		}
	}
	for _, run := range runs {
		if run.DeletionTimestamp.IsZero() && !runFinished(run.Status.Phase) && run.Status.Phase != batchv1alpha1.NodeJobRunPhasePaused {
			v.active++
		}
	}
	if lr := nj.Status.LastRun; lr != nil {
		v.lastPhase, v.lastName = lr.Phase, lr.Name
	}
	status.Apply(&nj.Status.Conditions, nj.Generation, nodeJobSummary(v))
	nj.Status.ObservedGeneration = nj.Generation
}

// invalidSpec stalls a NodeJob whose schedule or time zone cannot be used (NJ-X1, NJ-X3).
func (r *NodeJobReconciler) invalidSpec(nj *batchv1alpha1.NodeJob, err error) {
	reason := EventInvalidSchedule
	if errors.As(err, new(timeZoneError)) {
		reason = EventUnknownTimeZone
	}
	if c := findCondition(nj.Status.Conditions, status.TypeStalled); c == nil || c.Message != err.Error() {
		r.Recorder.Eventf(nj, nil, corev1.EventTypeWarning, reason, "Schedule", "%v", err)
	}
	nj.Status.NextScheduleTime = nil
	status.Apply(&nj.Status.Conditions, nj.Generation, nodeJobSummary(nodeJobView{invalid: err.Error()}))
	nj.Status.ObservedGeneration = nj.Generation
}

// listRuns returns the runs labelled with the NodeJob's UID and controlled by it.
func (r *NodeJobReconciler) listRuns(ctx context.Context, nj *batchv1alpha1.NodeJob) ([]*batchv1alpha1.NodeJobRun, error) {
	var list batchv1alpha1.NodeJobRunList
	if err := r.List(ctx, &list, client.InNamespace(nj.Namespace),
		client.MatchingLabels{batchv1alpha1.NodeJobUIDLabel: string(nj.UID)}); err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	runs := make([]*batchv1alpha1.NodeJobRun, 0, len(list.Items))
	for i := range list.Items {
		if ref := metav1.GetControllerOf(&list.Items[i]); ref != nil && ref.UID == nj.UID {
			runs = append(runs, &list.Items[i])
		}
	}
	return runs, nil
}

// SetupWithManager sets up the controller with the Manager. NodeJobs reconcile on spec and annotation changes,
// and whenever one of their runs changes.
func (r *NodeJobReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("jobkeeper-nodejob")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.apiReader = mgr.GetAPIReader()
	r.runs = nodeJobKind.NewTracker(r.Clock.Now())
	r.displaced = make(chan event.TypedGenericEvent[*batchv1alpha1.NodeJob])
	return ctrl.NewControllerManagedBy(mgr).
		For(&batchv1alpha1.NodeJob{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&batchv1alpha1.NodeJobRun{}).
		WatchesRawSource(source.Channel(r.displaced, &handler.TypedEnqueueRequestForObject[*batchv1alpha1.NodeJob]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Named("batch-nodejob").
		Complete(r)
}
