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

package quarks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/kindmetrics"
	"github.com/jobkeeper/jobkeeper/internal/labelcache"
	"github.com/jobkeeper/jobkeeper/internal/podrefs"
	"github.com/jobkeeper/jobkeeper/internal/resultsca"
	"github.com/jobkeeper/jobkeeper/internal/runs"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// Event reasons of the QuarksJob controller (QJ-30).
const (
	EventCreateJob         = "CreateJob"
	EventCreateJobError    = "CreateJobError"
	EventRunQueued         = "RunQueued"
	EventReferencesMissing = "ReferencesMissing"
	EventRunSucceeded      = "RunSucceeded"
	EventRunFailed         = "RunFailed"
	EventDeletingJob       = "DeletingJob"
	EventDeleteError       = "DeleteError"
	EventUpdateError       = "UpdateError"
	EventConfigHashRebased = "ConfigHashRebased"
	EventTriggerMerged     = "TriggerMerged"
	EventRunRequested      = "RunRequested"
)

const (
	// jobOwnerIndex indexes the cached Jobs by their controller's UID.
	jobOwnerIndex = "quarksjob.owner-uid"
	// referenceIndex indexes QuarksJobs by what they reference: configmap/<name>,
	// secret/<name> and vseries/<prefix>.
	referenceIndex = "quarksjob.references"
	// defaultFailedJobsHistoryLimit is the number of failed Jobs kept when unset.
	defaultFailedJobsHistoryLimit = 1
)

// HashKey is the key of the configuration hash (QJ-13).
type HashKey struct {
	ID  string
	Key []byte
}

// QuarksJobReconciler runs a QuarksJob's template as a Job when one of its
// triggers fires, one run at a time, and cleans up after the run.
type QuarksJobReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	// Recorder emits events.k8s.io Events; nil uses the manager's.
	Recorder events.EventRecorder
	// Clock tells the time; nil uses the real clock.
	Clock clock.PassiveClock
	// Namespaces limits the Job cache to these namespaces; empty means all.
	Namespaces []string
	// HashKey keys the hash of referenced configuration.
	HashKey HashKey
	// MaxConcurrentReconciles is the number of QuarksJobs reconciled at once (default 1).
	MaxConcurrentReconciles int
	// ResultsCA publishes the results API's CA bundle into namespaces with job pods; nil publishes nothing.
	ResultsCA *resultsca.Publisher
	// MonitoredID, when set, limits the controller to namespaces labelled
	// quarks.cloudfoundry.org/monitored=<MonitoredID> (QJ-27).
	MonitoredID string
	// Sidecar configures the output-persist sidecar of job pods (QJ-11).
	Sidecar SidecarConfig

	apiReader client.Reader
	jobs      client.Reader
	// expectations hold back a reconcile until the cache shows this
	// controller's last run record (see runProgress).
	expectations *runs.Expectations
	// refMemo holds the data of referenced ConfigMaps and Secrets by
	// resourceVersion; nil reads them from the API server every time.
	refMemo *refMemo
	// freshness proves the QuarksJob cache current from this controller's
	// own writes; nil proves nothing, and every run start reads the API server.
	freshness *cacheFreshness
	// writeBacks hold back a reconcile until the cache shows this
	// controller's last strategy write-back (its generation); nil holds nothing.
	writeBacks *runs.Expectations
	// deleted holds the succeeded Jobs this controller deleted; nil holds none.
	deleted *deletedJobs
}

// runProgress is how far the runs of a QuarksJob have come: 2n while run n is
// active, 2n+1 once it finished. It only grows, so a cached copy with less
// progress than this controller last wrote is older than that write.
func runProgress(qj *quarksv1alpha1.QuarksJob) int64 {
	p := 2 * qj.Status.RunCount
	if qj.Status.LastRun != nil && qj.Status.LastRun.Result != quarksv1alpha1.RunResultRunning {
		p++
	}
	return p
}

// +kubebuilder:rbac:groups=quarks.cloudfoundry.org,resources=quarksjobs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=quarks.cloudfoundry.org,resources=quarksjobs/status,verbs=get;patch
// +kubebuilder:rbac:groups=quarks.cloudfoundry.org,resources=quarksjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=list

// Reconcile moves a QuarksJob towards its desired state.
func (r *QuarksJobReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	qj := &quarksv1alpha1.QuarksJob{}
	if err := r.Get(ctx, req.NamespacedName, qj); err != nil {
		if apierrors.IsNotFound(err) {
			forgetMetrics(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !qj.DeletionTimestamp.IsZero() {
		r.expectations.Forget(qj.UID)
		if r.writeBacks != nil {
			r.writeBacks.Forget(qj.UID)
		}
		return ctrl.Result{}, nil // Jobs and versioned Secrets go through their ownerReferences (QJ-19)
	}
	if !r.expectations.Fresh(qj.UID, runProgress(qj)) {
		// The cache has not yet seen this controller's last run record: acting on
		// an older copy could finish a run twice or start one twice. The watch
		// event of that write brings the next reconcile.
		return ctrl.Result{}, nil
	}
	if r.writeBacks != nil && !r.writeBacks.Fresh(qj.UID, qj.Generation) {
		// Likewise for the strategy write-back: a copy from before it would
		// only find the write-back missing and read the API server to retry it.
		return ctrl.Result{}, nil
	}
	if monitored, err := r.monitored(ctx, qj.Namespace); err != nil || !monitored {
		return ctrl.Result{}, err
	}
	before := qj.DeepCopy()

	var after []func(context.Context) error
	obs := &observed{}
	err := r.reconcileRuns(ctx, qj, obs, &after)
	r.refreshReferences(ctx, qj, obs)
	if onlyObservedGenerationMoved(before, qj) {
		// While a run is active the QuarksJob is InProgress whatever
		// generation its status names: a spec change that changes nothing
		// else, such as this controller's own strategy write-back, is
		// recorded with the end of the run instead of in a write of its own.
		qj.Status = *before.Status.DeepCopy()
	}
	sent := time.Now()
	patched, perr := status.PatchIfChanged(ctx, r.Client, before, qj, &before.Status, &qj.Status)
	if perr != nil {
		// Nothing was recorded: the next reconcile decides again from what the
		// API server has, and adopts a Job this one created (same run number).
		r.expectations.Forget(qj.UID)
		return ctrl.Result{}, errors.Join(err, fmt.Errorf("patching status: %w", perr))
	}
	if patched {
		r.freshness.wrote(qj.Namespace, qj.ResourceVersion, sent)
	}
	// Steps that must follow the status write: the strategy write-back and the
	// deletion of a succeeded Job (QJ-17, QJ-F3).
	for _, step := range after {
		err = errors.Join(err, step(ctx))
	}
	if errors.Is(err, errStaleCache) {
		return ctrl.Result{RequeueAfter: staleCacheRetry}, nil
	}
	return ctrl.Result{}, err
}

// onlyObservedGenerationMoved reports whether a run is active before and after
// a reconcile and the status it computed differs from the recorded one in the
// observed generations only (of the status and of its conditions).
func onlyObservedGenerationMoved(before, after *quarksv1alpha1.QuarksJob) bool {
	running := func(qj *quarksv1alpha1.QuarksJob) bool {
		return qj.Status.LastRun != nil && qj.Status.LastRun.Result == quarksv1alpha1.RunResultRunning
	}
	if !running(before) || !running(after) || before.Status.ObservedGeneration == after.Status.ObservedGeneration ||
		before.Status.ObservedGeneration < 0 {
		return false
	}
	st := *after.Status.DeepCopy()
	st.ObservedGeneration = before.Status.ObservedGeneration
	for i := range st.Conditions {
		old := meta.FindStatusCondition(before.Status.Conditions, st.Conditions[i].Type)
		if old == nil {
			return false
		}
		st.Conditions[i].ObservedGeneration = old.ObservedGeneration
	}
	return equality.Semantic.DeepEqual(before.Status, st)
}

// observed is what one reconcile has read about a QuarksJob's surroundings;
// the references are resolved at most once per reconcile.
type observed struct {
	refs    *resolvedRefs
	refsErr error
	read    bool
	// finished names the Job of the run this reconcile finished: the run's end is not recorded until the
	// status write, so its Job must stay until then.
	finished string
	// current is set once the API server confirmed in this reconcile that the cached QuarksJob is its version.
	current bool
}

// references resolves the QuarksJob's references once per reconcile.
func (r *QuarksJobReconciler) references(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed) (*resolvedRefs, error) {
	if !obs.read {
		obs.refs, obs.refsErr = r.resolve(ctx, qj)
		obs.read = true
	}
	return obs.refs, obs.refsErr
}

// refreshReferences keeps ReferencesResolved true to what the references
// resolve to now: a reference that appears clears the condition's False even
// when no run is due any more.
func (r *QuarksJobReconciler) refreshReferences(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed) {
	c := meta.FindStatusCondition(qj.Status.Conditions, quarksv1alpha1.ConditionReferencesResolved)
	if c == nil || c.Status != metav1.ConditionFalse {
		return
	}
	if refs, err := r.references(ctx, qj, obs); err == nil && len(refs.missing) == 0 {
		r.setResolved(qj)
	}
}

// reconcileRuns observes the active run, then starts the run that is due.
func (r *QuarksJobReconciler) reconcileRuns(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed, after *[]func(context.Context) error) error {
	jobs, err := r.listJobs(ctx, qj)
	if err != nil {
		return err
	}
	if err := r.retryWriteBack(ctx, qj, obs, after); err != nil {
		return err
	}
	if err := r.mergeOnce(ctx, qj, obs, after); err != nil {
		return err
	}
	if active, err := r.observeActiveRun(ctx, qj, jobs, obs, after); err != nil || active {
		return err
	}
	if err := r.cleanUpSucceeded(ctx, qj, jobs, obs); err != nil {
		return err
	}

	trigger, err := r.dueTrigger(ctx, qj, obs)
	if err != nil {
		return err
	}
	if trigger == "" {
		r.setIdle(qj)
		return nil
	}
	return r.startRun(ctx, qj, trigger, obs, after)
}

// cleanUpSucceeded deletes the succeeded Jobs of finished runs. The deletion
// right after a run succeeded can fail or be cut by a restart; this finds
// those Jobs again on every reconcile (QJ-17). The Job of a run that this
// reconcile finished is left to the step after the status write: deleted
// before it, a restart in between would leave a run recorded as running whose
// Job is gone, and the next manager would fail it as JobDeleted.
func (r *QuarksJobReconciler) cleanUpSucceeded(ctx context.Context, qj *quarksv1alpha1.QuarksJob, jobs []*batchv1.Job,
	obs *observed) error {
	for _, job := range jobs {
		if c := jobFinished(job); c == nil || c.Type != batchv1.JobComplete || job.DeletionTimestamp != nil ||
			job.Name == obs.finished || r.deleted.has(job.UID) {
			continue
		}
		if err := r.deleteSucceeded(ctx, qj, job); err != nil {
			return err
		}
	}
	return nil
}

// deleteSucceeded deletes the Job of a succeeded run, with its pods.
func (r *QuarksJobReconciler) deleteSucceeded(ctx context.Context, qj *quarksv1alpha1.QuarksJob, job *batchv1.Job) error {
	r.Recorder.Eventf(qj, job, corev1.EventTypeNormal, EventDeletingJob, "Delete", "deleting succeeded job %s", job.Name)
	err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &job.UID})
	if client.IgnoreNotFound(err) != nil {
		r.Recorder.Eventf(qj, job, corev1.EventTypeWarning, EventDeleteError, "Delete", "deleting job %s: %v", job.Name, err)
		return fmt.Errorf("deleting job %s: %w", job.Name, err)
	}
	r.deleted.add(job.UID)
	return nil
}

// mergeOnce merges a once trigger that arrives while a run is active (its Job
// may have just finished) into that run, when the run was started from the
// same spec (without spec.trigger) and the same referenced data: the follow-up
// run would run the same Job again. A re-applied manifest does this when it
// resets a written-back done to once, e.g. together with the data change that
// started the active run. The trigger counts as handled by the active run, and
// the strategy is written back to done. A now trigger is never merged (QJ-3),
// nor is a once that arrives when no run is active.
func (r *QuarksJobReconciler) mergeOnce(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed, after *[]func(context.Context) error) error {
	run := qj.Status.LastRun
	if qj.Spec.Trigger.Strategy != quarksv1alpha1.StrategyOnce || run == nil || run.Generation == qj.Generation ||
		run.Result != quarksv1alpha1.RunResultRunning || run.SpecHash == "" || qj.Status.ConfigHash == "" {
		return nil
	}
	if same, err := r.sameAsLastRun(ctx, qj, obs); err != nil || !same {
		return err
	}
	// Merge only from the version the API server has; a newer one decides again.
	if err := r.requireCurrent(ctx, qj, obs); err != nil {
		return err
	}
	run.Generation = qj.Generation
	r.Recorder.Eventf(qj, nil, corev1.EventTypeNormal, EventTriggerMerged, "Merge",
		"strategy once of generation %d is covered by run %d (job %s), which has the same spec and referenced data",
		qj.Generation, qj.Status.RunCount, run.Name)
	*after = append(*after, func(ctx context.Context) error { return r.writeBack(ctx, qj, quarksv1alpha1.StrategyDone) })
	return nil
}

// retryWriteBack repeats the write-back of a now or once trigger that is
// handled but still reads now or once, e.g. after a write conflict (QJ-F3).
// It acts only on the version the API server has: a stale cache may not have
// seen the write-back yet.
func (r *QuarksJobReconciler) retryWriteBack(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed,
	after *[]func(context.Context) error) error {
	next, ok := writeBack[qj.Spec.Trigger.Strategy]
	if !ok || qj.Status.LastRun == nil || qj.Status.LastRun.Generation != qj.Generation {
		return nil
	}
	if err := r.requireCurrent(ctx, qj, obs); err != nil {
		return err
	}
	*after = append(*after, func(ctx context.Context) error { return r.writeBack(ctx, qj, next) })
	return nil
}

// specHash is the hash of the canonical JSON of the spec without spec.trigger:
// everything a run's Job is built from besides the referenced data.
func specHash(qj *quarksv1alpha1.QuarksJob) (string, error) {
	spec := qj.Spec
	spec.Trigger = quarksv1alpha1.Trigger{}
	data, err := json.Marshal(&spec)
	if err != nil {
		return "", fmt.Errorf("encoding the spec: %w", err)
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// errStaleCache says that the cache holds an older version of the QuarksJob
// than the API server. The reconcile is repeated shortly: the newer version
// may differ only in its status, which brings no event of its own.
var errStaleCache = errors.New("the cached QuarksJob is older than the API server's")

// staleCacheRetry is how soon a reconcile that met a stale cache is repeated.
const staleCacheRetry = 200 * time.Millisecond

// requireCurrent returns errStaleCache unless the cached qj is the version the
// API server has. The API server is asked once per reconcile.
func (r *QuarksJobReconciler) requireCurrent(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed) error {
	if obs.current {
		return nil
	}
	current, err := r.isCurrent(ctx, qj)
	if err == nil && !current {
		return errStaleCache
	}
	obs.current = err == nil
	return err
}

// isCurrent reports whether the cached qj is the version the API server has.
func (r *QuarksJobReconciler) isCurrent(ctx context.Context, qj *quarksv1alpha1.QuarksJob) (bool, error) {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(quarksv1alpha1.GroupVersion.WithKind("QuarksJob"))
	if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(qj), live); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return live.ResourceVersion == qj.ResourceVersion, nil
}

// monitored reports whether the controller serves namespace: always without a
// monitored ID, otherwise when the namespace carries the matching label. The
// namespace is read from the metadata cache, so no request is made per event.
func (r *QuarksJobReconciler) monitored(ctx context.Context, namespace string) (bool, error) {
	if r.MonitoredID == "" {
		return true, nil
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return ns.Labels[quarksv1alpha1.MonitoredLabel] == r.MonitoredID, nil
}

// listJobs returns the Jobs this QuarksJob controls.
func (r *QuarksJobReconciler) listJobs(ctx context.Context, qj *quarksv1alpha1.QuarksJob) ([]*batchv1.Job, error) {
	var list batchv1.JobList
	if err := r.jobs.List(ctx, &list, client.InNamespace(qj.Namespace),
		client.MatchingFields{jobOwnerIndex: string(qj.UID)}); err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	out := make([]*batchv1.Job, 0, len(list.Items))
	for i := range list.Items {
		if ownedBy(&list.Items[i], qj) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// observeActiveRun follows the Job of a running run and finishes the run when
// the Job ends or disappears. It reports whether the run is still active.
func (r *QuarksJobReconciler) observeActiveRun(ctx context.Context, qj *quarksv1alpha1.QuarksJob, jobs []*batchv1.Job,
	obs *observed, after *[]func(context.Context) error) (bool, error) {
	run := qj.Status.LastRun
	if run == nil || run.Result != quarksv1alpha1.RunResultRunning {
		return false, nil
	}
	idx := slices.IndexFunc(jobs, func(j *batchv1.Job) bool { return j.Name == run.Name })
	if idx < 0 {
		err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: qj.Namespace, Name: run.Name}, &batchv1.Job{})
		if err == nil {
			return true, nil // the cache has not seen the Job yet; its event comes
		}
		if !apierrors.IsNotFound(err) {
			return true, err
		}
		// A copy older than the API server's (a manager that just took over and
		// whose cache lags) may still show a run that finished and whose Job was
		// deleted after it succeeded: the run is failed only from the current version.
		if err := r.requireCurrent(ctx, qj, obs); err != nil {
			return true, err
		}
		r.finishRun(qj, nil, quarksv1alpha1.RunReasonJobDeleted, fmt.Sprintf("job %s was deleted before it finished", run.Name))
		return false, nil
	}
	job := jobs[idx]
	output := jobOutputResult(job)
	if output.Secrets != nil {
		run.OutputSecrets = output.Secrets
	}
	cond := jobFinished(job)
	if output.Reason != "" && (cond != nil || job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever) {
		// The output of the run was rejected; the run fails with that reason at
		// once (QJ-F17, QJ-F18). With restartPolicy Never the Job's
		// podFailurePolicy fails it as soon as the sidecar exits; otherwise the
		// pods would restart in place until the backoff limit, so the Job is deleted.
		r.finishRun(qj, job, output.Reason, output.Message)
		if cond == nil {
			*after = append(*after, func(ctx context.Context) error {
				err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &job.UID})
				return client.IgnoreNotFound(err)
			})
		}
		return false, r.pruneFailed(ctx, qj, jobs)
	}
	if cond == nil {
		r.setActive(ctx, qj, obs)
		return true, nil
	}
	if cond.Type == batchv1.JobComplete {
		r.finishRun(qj, job, "", "")
		obs.finished = job.Name
		// After the status write: a failed or interrupted deletion is found
		// again by cleanUpSucceeded.
		*after = append(*after, func(ctx context.Context) error { return r.deleteSucceeded(ctx, qj, job) })
		return false, nil
	}
	reason, message := cond.Reason, cond.Message
	if timedOut, err := r.sidecarTimedOut(ctx, job); err != nil {
		return true, err
	} else if timedOut {
		reason = quarksv1alpha1.RunReasonOutputTimeout
		message = fmt.Sprintf("the %s sidecar of job %s gave up waiting", quarksv1alpha1.OutputPersistContainerName, job.Name)
	}
	r.finishRun(qj, job, reason, message)
	return false, r.pruneFailed(ctx, qj, jobs)
}

// sidecarTimedOut reports whether the output-persist sidecar of a pod of the
// failed job exited with its timeout code (QJ-A7). The pods are read directly,
// once per failed run.
func (r *QuarksJobReconciler) sidecarTimedOut(ctx context.Context, job *batchv1.Job) (bool, error) {
	if !slices.ContainsFunc(job.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
		return c.Name == quarksv1alpha1.OutputPersistContainerName
	}) {
		return false, nil
	}
	var pods corev1.PodList
	if err := r.apiReader.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{
		quarksv1alpha1.QuarksJobNameLabel: job.Labels[quarksv1alpha1.QuarksJobNameLabel],
		quarksv1alpha1.RunNumberLabel:     job.Labels[quarksv1alpha1.RunNumberLabel],
	}); err != nil {
		return false, fmt.Errorf("listing the pods of job %s: %w", job.Name, err)
	}
	for _, pod := range pods.Items {
		for _, st := range pod.Status.ContainerStatuses {
			if st.Name != quarksv1alpha1.OutputPersistContainerName {
				continue
			}
			// With restartPolicy OnFailure the sidecar restarts in place: its
			// timeout is in the last termination state.
			for _, t := range []*corev1.ContainerStateTerminated{st.State.Terminated, st.LastTerminationState.Terminated} {
				if t != nil && t.ExitCode == outputPersistTimeoutCode {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// finishRun records the end of the active run (QJ-17, QJ-18).
func (r *QuarksJobReconciler) finishRun(qj *quarksv1alpha1.QuarksJob, job *batchv1.Job, reason, message string) {
	run := qj.Status.LastRun
	defer func() { r.expectations.Expect(qj.UID, runProgress(qj)) }()
	now := metav1.NewTime(r.Clock.Now())
	run.CompletionTime = &now
	if job != nil && job.Status.CompletionTime != nil {
		run.CompletionTime = job.Status.CompletionTime
	}
	var related runtime.Object // a typed nil would not be a nil interface
	if job != nil {
		related = job
	}
	succeeded := job != nil && reason == "" && jobFinished(job).Type == batchv1.JobComplete
	if succeeded {
		run.Result = quarksv1alpha1.RunResultSucceeded
		run.Reason, run.Message = "", ""
		qj.Status.Completed = true
		r.Recorder.Eventf(qj, related, corev1.EventTypeNormal, EventRunSucceeded, "Run", "run %d (job %s) succeeded", qj.Status.RunCount, run.Name)
		observeRun(qj, run, kindmetrics.ResultSucceeded)
	} else {
		run.Result = quarksv1alpha1.RunResultFailed
		run.Reason, run.Message = reason, message
		qj.Status.Completed = false
		r.Recorder.Eventf(qj, related, corev1.EventTypeWarning, EventRunFailed, "Run", "run %d (job %s) failed: %s: %s",
			qj.Status.RunCount, run.Name, reason, message)
		observeRun(qj, run, kindmetrics.ResultFailed)
	}
}

// jobOutputResult reads what the results side recorded about the run's output
// on its Job; zero when nothing was recorded.
func jobOutputResult(job *batchv1.Job) quarksv1alpha1.JobOutputResult {
	var r quarksv1alpha1.JobOutputResult
	if v := job.Annotations[quarksv1alpha1.OutputResultAnnotation]; v != "" {
		_ = json.Unmarshal([]byte(v), &r)
	}
	return r
}

// pruneFailed deletes failed Jobs beyond failedJobsHistoryLimit, oldest first (QJ-18).
func (r *QuarksJobReconciler) pruneFailed(ctx context.Context, qj *quarksv1alpha1.QuarksJob, jobs []*batchv1.Job) error {
	limit := defaultFailedJobsHistoryLimit
	if qj.Spec.FailedJobsHistoryLimit != nil {
		limit = int(*qj.Spec.FailedJobsHistoryLimit)
	}
	var failed []*batchv1.Job
	for _, j := range jobs {
		if c := jobFinished(j); c != nil && c.Type == batchv1.JobFailed && j.DeletionTimestamp == nil {
			failed = append(failed, j)
		}
	}
	if len(failed) <= limit {
		return nil
	}
	slices.SortFunc(failed, func(a, b *batchv1.Job) int { return runNumber(a) - runNumber(b) })
	for _, j := range failed[:len(failed)-limit] {
		if err := r.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting failed job %s: %w", j.Name, err)
		}
	}
	return nil
}

func runNumber(j *batchv1.Job) int {
	n, _ := strconv.Atoi(j.Labels[quarksv1alpha1.RunNumberLabel])
	return n
}

// dueTrigger returns the trigger of the run that is due, if any (QJ-1 to QJ-5, QJ-13, QJ-F3, QJ-F4).
// A trigger is a request, not a field value: a run-request token that differs
// from the last handled one is one request; a once that a GitOps tool
// re-asserts after the write-back to done, with the spec and data of the last
// run, asks for nothing (amended QJ-F3).
func (r *QuarksJobReconciler) dueTrigger(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed) (quarksv1alpha1.RunTrigger, error) {
	if runs.NewRequest(qj.Annotations[quarksv1alpha1.RunRequestAnnotation], qj.Status.LastHandledRunRequest) {
		return quarksv1alpha1.RunTriggerRequest, nil
	}
	handled := qj.Status.LastRun != nil && qj.Status.LastRun.Generation == qj.Generation
	switch qj.Spec.Trigger.Strategy {
	case quarksv1alpha1.StrategyNow:
		if !handled {
			return quarksv1alpha1.RunTriggerNow, nil
		}
	case quarksv1alpha1.StrategyOnce:
		if !handled {
			same, err := r.sameAsLastRun(ctx, qj, obs)
			if err != nil {
				return "", err
			}
			if !same {
				return quarksv1alpha1.RunTriggerOnce, nil
			}
			// Re-asserted: nothing runs, and once is not written back to done
			// again, so that a field manager that owns the strategy (Flux, Argo
			// CD) is not fought forever. The Event is emitted once per generation.
			if qj.Status.ObservedGeneration != qj.Generation {
				r.Recorder.Eventf(qj, nil, corev1.EventTypeNormal, EventTriggerMerged, "Merge",
					"strategy once of generation %d asks for the spec and referenced data that run %d already ran",
					qj.Generation, qj.Status.RunCount)
			}
		}
	}
	strategy := qj.Spec.Trigger.Strategy
	if !qj.Spec.UpdateOnConfigChange || (strategy != quarksv1alpha1.StrategyOnce && strategy != quarksv1alpha1.StrategyDone) {
		return "", nil
	}
	refs, err := r.references(ctx, qj, obs)
	if err != nil {
		return "", err
	}
	hash := podrefs.Hash(r.HashKey.ID, r.HashKey.Key, refs.resolved)
	switch old := qj.Status.ConfigHash; {
	case old == "":
		qj.Status.ConfigHash = hash // a baseline, not a change
	case podrefs.HashKeyID(old) != r.HashKey.ID:
		qj.Status.ConfigHash = hash
		r.Recorder.Eventf(qj, nil, corev1.EventTypeWarning, EventConfigHashRebased, "Hash",
			"the configuration hash key changed; the current configuration is the new baseline")
	case old != hash:
		return quarksv1alpha1.RunTriggerConfigChange, nil
	}
	return "", nil
}

// sameAsLastRun reports whether a run now would run what the last run ran:
// the same spec (without spec.trigger) and the same referenced data.
func (r *QuarksJobReconciler) sameAsLastRun(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed) (bool, error) {
	run := qj.Status.LastRun
	if run == nil || run.SpecHash == "" || qj.Status.ConfigHash == "" {
		return false, nil
	}
	hash, err := specHash(qj)
	if err != nil || hash != run.SpecHash {
		return false, err
	}
	refs, err := r.references(ctx, qj, obs)
	if err != nil {
		return false, err
	}
	return podrefs.Hash(r.HashKey.ID, r.HashKey.Key, refs.resolved) == qj.Status.ConfigHash, nil
}

// startRun creates the Job of the next run, unless references are missing (QJ-1, QJ-7, QJ-14).
func (r *QuarksJobReconciler) startRun(ctx context.Context, qj *quarksv1alpha1.QuarksJob, trigger quarksv1alpha1.RunTrigger,
	obs *observed, after *[]func(context.Context) error) error {
	refs, err := r.references(ctx, qj, obs)
	if err != nil {
		return err
	}
	if len(refs.missing) > 0 {
		r.setMissing(qj, refs.missing)
		return nil
	}
	r.setResolved(qj)

	// The cache can lag behind a spec change made just before the data change
	// that made this run due, e.g. a strategy set to manual (QJ-5). Start a
	// run only from a QuarksJob cache proven to hold every change made before
	// the references were read (see cacheFreshness), or else from the
	// QuarksJob as the API server has it now; otherwise the event of the newer
	// version comes and decides again.
	if readAt, ok := refs.readAt(); !ok || !r.freshness.covers(qj.Namespace, readAt) {
		if err := r.requireCurrent(ctx, qj, obs); err != nil {
			return err
		}
	}

	hash, err := specHash(qj)
	if err != nil {
		return err
	}
	n := qj.Status.RunCount + 1
	job, err := buildRunJob(qj, n, refs.rename, r.Sidecar)
	if err != nil {
		return err
	}
	if hasOutput(qj.Spec.Output) {
		// The sidecar's projected volume needs the results CA in this namespace.
		if err := r.ResultsCA.Ensure(ctx, qj.Namespace); err != nil {
			return err
		}
	}
	// An earlier attempt may have created run n's Job and stopped before the
	// status write: it is adopted. A foreign or dying Job with the name is not.
	created, err := runs.CreateOrAdopt(ctx, r.Client, r.apiReader, job, func(o client.Object) bool {
		j, ok := o.(*batchv1.Job)
		return ok && ownedBy(j, qj) && o.GetLabels()[quarksv1alpha1.RunNumberLabel] == strconv.FormatInt(n, 10)
	})
	if err != nil {
		return r.createFailed(qj, job.Name, err)
	}
	if created {
		r.Recorder.Eventf(qj, job, corev1.EventTypeNormal, EventCreateJob, "Create", "created job %s for run %d (%s)", job.Name, n, trigger)
	}
	if trigger == quarksv1alpha1.RunTriggerRequest {
		token := qj.Annotations[quarksv1alpha1.RunRequestAnnotation]
		qj.Status.LastHandledRunRequest = token
		if created {
			r.Recorder.Eventf(qj, job, corev1.EventTypeNormal, EventRunRequested, "Run", "run request %q runs as job %s", token, job.Name)
		}
	}

	now := metav1.NewTime(r.Clock.Now())
	qj.Status.RunCount = n
	qj.Status.Completed = false
	qj.Status.LastReconcile = &now
	qj.Status.ConfigHash = podrefs.Hash(r.HashKey.ID, r.HashKey.Key, refs.resolved)
	qj.Status.LastRun = &quarksv1alpha1.RunStatus{
		Name: job.Name, Result: quarksv1alpha1.RunResultRunning, Trigger: trigger,
		Generation: qj.Generation, SpecHash: hash, StartTime: &now,
	}
	r.expectations.Expect(qj.UID, runProgress(qj))
	r.setActive(ctx, qj, obs)
	quarksJobMetrics.Active.WithLabelValues(qj.Namespace, qj.Name).Set(1)

	if next, ok := writeBack[qj.Spec.Trigger.Strategy]; ok {
		*after = append(*after, func(ctx context.Context) error { return r.writeBack(ctx, qj, next) })
	}
	return nil
}

// createFailed turns a refused Job creation into status and an Event: an
// invalid Job (422) stalls until the spec changes; a refusal (RBAC, quota,
// admission policy) and anything else is retried with backoff while
// Reconciling says why.
func (r *QuarksJobReconciler) createFailed(qj *quarksv1alpha1.QuarksJob, name string, err error) error {
	msg := fmt.Sprintf("creating job %s: %v", name, err)
	summary := createFailedSummary(msg, err)
	if c := meta.FindStatusCondition(qj.Status.Conditions, status.TypeReady); c == nil || c.Message != msg {
		r.Recorder.Eventf(qj, nil, corev1.EventTypeWarning, EventCreateJobError, "Create", "%s", msg)
	}
	applySummary(qj, summary)
	if summary.Stalled != nil {
		// Only a new spec can help; its generation change brings the next reconcile.
		return reconcile.TerminalError(fmt.Errorf("%s", msg))
	}
	return fmt.Errorf("%s", msg)
}

// writeBack maps a strategy to the one written back once its run has started.
var writeBack = map[quarksv1alpha1.Strategy]quarksv1alpha1.Strategy{
	quarksv1alpha1.StrategyNow:  quarksv1alpha1.StrategyManual,
	quarksv1alpha1.StrategyOnce: quarksv1alpha1.StrategyDone,
}

// writeBack patches the strategy with a resourceVersion precondition. A
// strategy that already reads next is left alone.
func (r *QuarksJobReconciler) writeBack(ctx context.Context, qj *quarksv1alpha1.QuarksJob, next quarksv1alpha1.Strategy) error {
	if qj.Spec.Trigger.Strategy == next {
		return nil
	}
	patch := client.MergeFromWithOptions(qj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	qj.Spec.Trigger.Strategy = next
	sent := time.Now()
	if err := r.Patch(ctx, qj, patch); err != nil {
		if !apierrors.IsConflict(err) {
			r.Recorder.Eventf(qj, nil, corev1.EventTypeWarning, EventUpdateError, "Update", "writing back strategy %s: %v", next, err)
		}
		return fmt.Errorf("writing back strategy %s: %w", next, err)
	}
	r.freshness.wrote(qj.Namespace, qj.ResourceVersion, sent)
	if r.writeBacks != nil {
		r.writeBacks.Expect(qj.UID, qj.Generation)
	}
	return nil
}

// pendingTrigger reports whether a trigger waits behind the active run (QJ-6).
func pendingTrigger(qj *quarksv1alpha1.QuarksJob) bool {
	s := qj.Spec.Trigger.Strategy
	handled := qj.Status.LastRun != nil && qj.Status.LastRun.Generation == qj.Generation
	return (s == quarksv1alpha1.StrategyNow || s == quarksv1alpha1.StrategyOnce) && !handled ||
		runs.NewRequest(qj.Annotations[quarksv1alpha1.RunRequestAnnotation], qj.Status.LastHandledRunRequest)
}

// setActive writes the status of an active run, queued trigger or not.
func (r *QuarksJobReconciler) setActive(ctx context.Context, qj *quarksv1alpha1.QuarksJob, obs *observed) {
	queued := pendingTrigger(qj)
	if !queued && qj.Spec.UpdateOnConfigChange && qj.Status.ConfigHash != "" {
		if refs, err := r.references(ctx, qj, obs); err == nil {
			queued = podrefs.Hash(r.HashKey.ID, r.HashKey.Key, refs.resolved) != qj.Status.ConfigHash
		}
	}
	s := activeSummary(qj.Status.RunCount, queued)
	if c := meta.FindStatusCondition(qj.Status.Conditions, status.TypeReconciling); queued && (c == nil || c.Reason != s.Reconciling.Reason) {
		r.Recorder.Eventf(qj, nil, corev1.EventTypeNormal, EventRunQueued, "Queue", "%s", s.ReadyMessage)
	}
	applySummary(qj, s)
}

// setIdle writes the status when no run is active or due.
func (r *QuarksJobReconciler) setIdle(qj *quarksv1alpha1.QuarksJob) {
	applySummary(qj, idleSummary(qj.Status.LastRun, qj.Status.RunCount))
}

// setMissing blocks a due run on missing references (QJ-14).
func (r *QuarksJobReconciler) setMissing(qj *quarksv1alpha1.QuarksJob, missing []string) {
	msg := missingMessage(missing)
	if c := meta.FindStatusCondition(qj.Status.Conditions, quarksv1alpha1.ConditionReferencesResolved); c == nil || c.Message != msg {
		r.Recorder.Eventf(qj, nil, corev1.EventTypeWarning, EventReferencesMissing, "Resolve", "%s", msg)
	}
	meta.SetStatusCondition(&qj.Status.Conditions, metav1.Condition{
		Type: quarksv1alpha1.ConditionReferencesResolved, Status: metav1.ConditionFalse,
		Reason: quarksv1alpha1.ReasonReferencesMissing, Message: msg, ObservedGeneration: qj.Generation,
	})
	applySummary(qj, missingSummary(missing))
}

// setResolved records that every required reference exists.
func (r *QuarksJobReconciler) setResolved(qj *quarksv1alpha1.QuarksJob) {
	meta.SetStatusCondition(&qj.Status.Conditions, metav1.Condition{
		Type: quarksv1alpha1.ConditionReferencesResolved, Status: metav1.ConditionTrue,
		Reason: quarksv1alpha1.ReasonReferencesFound, Message: "every required reference exists", ObservedGeneration: qj.Generation,
	})
}

func applySummary(qj *quarksv1alpha1.QuarksJob, s status.Summary) {
	qj.Status.ObservedGeneration = qj.Generation
	status.Apply(&qj.Status.Conditions, qj.Generation, s)
}

// resolvedRefs is what the references of a QuarksJob resolve to now.
type resolvedRefs struct {
	resolved []podrefs.Resolved
	missing  []string
	rename   map[string]string
	// read is the latest time at which the API server answered with what a
	// reference resolved to; every version used was committed before it.
	read time.Time
	// fromCache is set when a resolution rests on the cache alone (the
	// members of a versioned series), with no such time.
	fromCache bool
}

// readAt returns the time before which every change that the resolution
// reflects was made; false when there is none.
func (rr *resolvedRefs) readAt() (time.Time, bool) {
	return rr.read, !rr.fromCache
}

// resolve reads every referenced ConfigMap and Secret (see readReferenced);
// versioned references resolve to the newest member of their series (QJ-12, QJ-15, QJ-16).
func (r *QuarksJobReconciler) resolve(ctx context.Context, qj *quarksv1alpha1.QuarksJob) (*resolvedRefs, error) {
	out := &resolvedRefs{rename: map[string]string{}}
	for _, ref := range podrefs.References(&qj.Spec.Template.Spec.Template.Spec) {
		name := ref.Name
		if ref.Kind == podrefs.Secret {
			if prefix, _, ok := podrefs.VersionedSeries(ref.Name); ok {
				out.fromCache = true
				latest, err := r.latestVersion(ctx, qj.Namespace, prefix)
				if err != nil {
					return nil, err
				}
				if latest == "" {
					// No member of a series: a plain Secret that only has a
					// name like tls-v2 is used as it is.
					plain := &metav1.PartialObjectMetadata{}
					plain.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
					err := r.Get(ctx, client.ObjectKey{Namespace: qj.Namespace, Name: ref.Name}, plain)
					switch {
					case err == nil:
						latest = ref.Name
					case !apierrors.IsNotFound(err):
						return nil, fmt.Errorf("reading secret %s: %w", ref.Name, err)
					}
				}
				if latest == "" {
					if !ref.Optional {
						out.missing = append(out.missing, fmt.Sprintf("versioned Secret series %s", prefix))
					}
					out.resolved = append(out.resolved, podrefs.Resolved{Kind: ref.Kind, Name: ref.Name})
					continue
				}
				name = latest
				out.rename[ref.Name] = latest
			}
		}
		res := podrefs.Resolved{Kind: ref.Kind, Name: name}
		present, data, read, err := r.readReferenced(ctx, refKey{namespace: qj.Namespace, kind: ref.Kind, name: name})
		if read.After(out.read) {
			out.read = read
		}
		switch {
		case err != nil:
			return nil, fmt.Errorf("reading %s %s: %w", ref.Kind, name, err)
		case !present:
			if !ref.Optional {
				out.missing = append(out.missing, fmt.Sprintf("%s %s", ref.Kind, name))
			}
		default:
			res.Present = true
			res.Data = data
		}
		out.resolved = append(out.resolved, res)
	}
	return out, nil
}

// readReferenced returns the data of a referenced ConfigMap or Secret,
// whether it exists, and the time the API server answered with it. The data
// comes from the memo when the metadata cache shows the resourceVersion it was
// read at; otherwise from the API server, one reader at a time per object. An
// object the cache does not have (yet) is read from the API server.
func (r *QuarksJobReconciler) readReferenced(ctx context.Context, key refKey) (bool, map[string][]byte, time.Time, error) {
	if r.refMemo == nil {
		return r.readLive(ctx, key)
	}
	for {
		rv := r.cachedVersion(ctx, key)
		if rv == "" {
			return r.readLive(ctx, key)
		}
		if data, read, ok := r.refMemo.lookup(key, rv); ok {
			return true, data, read, nil
		}
		release, wait := r.refMemo.claim(key)
		if release == nil {
			select {
			case <-wait:
				continue // the other reader may have read this version
			case <-ctx.Done():
				return false, nil, time.Time{}, ctx.Err()
			}
		}
		present, data, read, err := r.readLive(ctx, key)
		release()
		return present, data, read, err
	}
}

// cachedVersion returns the resourceVersion of a ConfigMap or Secret in the
// metadata cache, or "" when the cache does not have it.
func (r *QuarksJobReconciler) cachedVersion(ctx context.Context, key refKey) string {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(string(key.kind)))
	if err := r.Get(ctx, key.objectKey(), m); err != nil {
		return ""
	}
	return m.ResourceVersion
}

// readLive reads a ConfigMap or Secret from the API server and remembers its data.
func (r *QuarksJobReconciler) readLive(ctx context.Context, key refKey) (bool, map[string][]byte, time.Time, error) {
	var obj client.Object = &corev1.ConfigMap{}
	if key.kind == podrefs.Secret {
		obj = &corev1.Secret{}
	}
	err := r.apiReader.Get(ctx, key.objectKey(), obj)
	read := time.Now()
	switch {
	case apierrors.IsNotFound(err):
		if r.refMemo != nil {
			r.refMemo.forget(key)
		}
		return false, nil, read, nil
	case err != nil:
		return false, nil, time.Time{}, err
	}
	data := objectData(obj)
	if r.refMemo != nil {
		r.refMemo.store(key, obj.GetResourceVersion(), data, read)
	}
	return true, data, read, nil
}

// objectData returns the data and binaryData of a ConfigMap or Secret as one map.
func objectData(obj client.Object) map[string][]byte {
	data := map[string][]byte{}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		for k, v := range o.Data {
			data["data/"+k] = []byte(v)
		}
		for k, v := range o.BinaryData {
			data["binaryData/"+k] = v
		}
	case *corev1.Secret:
		for k, v := range o.Data {
			data["data/"+k] = v
		}
	}
	return data
}

// latestVersion returns the newest member `<prefix>-v<N>` of a versioned
// Secret series, matched on the exact name and version label (QJ-F8).
func (r *QuarksJobReconciler) latestVersion(ctx context.Context, namespace, prefix string) (string, error) {
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := r.List(ctx, &list, client.InNamespace(namespace),
		client.MatchingLabels{quarksv1alpha1.SecretKindLabel: quarksv1alpha1.SecretKindVersioned}); err != nil {
		return "", fmt.Errorf("listing versioned secrets: %w", err)
	}
	best, bestVersion := "", -1
	for _, s := range list.Items {
		p, v, ok := podrefs.VersionedSeries(s.Name)
		if !ok || p != prefix || s.Labels[quarksv1alpha1.SecretVersionLabel] != strconv.Itoa(v) {
			continue
		}
		if v > bestVersion {
			best, bestVersion = s.Name, v
		}
	}
	return best, nil
}

// SetupWithManager sets up the controller with the Manager. Jobs are watched
// through their own cache, restricted to Jobs labelled with a QuarksJob name;
// ConfigMaps and Secrets are watched as metadata only (QJ-F28).
func (r *QuarksJobReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("jobkeeper-quarksjob")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.apiReader = mgr.GetAPIReader()
	r.expectations = runs.NewExpectations()
	r.refMemo = newRefMemo(refMemoBudget)
	r.freshness = newCacheFreshness()
	r.writeBacks = runs.NewExpectations()
	r.deleted = newDeletedJobs()

	jobCache, err := labelcache.New(mgr, &batchv1.Job{}, quarksv1alpha1.QuarksJobNameLabel, r.Namespaces,
		labelcache.Index{Field: jobOwnerIndex, Extract: func(o client.Object) []string {
			if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == quarksJobKind {
				return []string{string(ref.UID)}
			}
			return nil
		}})
	if err != nil {
		return err
	}
	r.jobs = jobCache

	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &quarksv1alpha1.QuarksJob{}, referenceIndex, referenceKeys); err != nil {
		return err
	}

	b := ctrl.NewControllerManagedBy(mgr)
	if r.MonitoredID != "" {
		// A namespace labelled later starts its pending QuarksJobs.
		b = b.WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.forNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{}))
	}
	return b.
		For(&quarksv1alpha1.QuarksJob{}, builder.WithPredicates(r.freshness.predicate(), predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, runRequestChanged(), r.expectations.PendingPredicate()))).
		WatchesRawSource(source.Kind(jobCache, &batchv1.Job{}, handler.TypedEnqueueRequestsFromMapFunc(quarksJobForJob))).
		WatchesMetadata(&corev1.ConfigMap{}, forgetOnDelete{handler.EnqueueRequestsFromMapFunc(r.forReferenced("configmap")), r.refMemo, podrefs.ConfigMap}).
		WatchesMetadata(&corev1.Secret{}, forgetOnDelete{handler.EnqueueRequestsFromMapFunc(r.forReferenced("secret")), r.refMemo, podrefs.Secret}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Named("quarks-quarksjob").
		Complete(r)
}

// referenceKeys are the index keys of what a QuarksJob references.
func referenceKeys(o client.Object) []string {
	qj := o.(*quarksv1alpha1.QuarksJob)
	var keys []string
	for _, ref := range podrefs.References(&qj.Spec.Template.Spec.Template.Spec) {
		switch ref.Kind {
		case podrefs.ConfigMap:
			keys = append(keys, "configmap/"+ref.Name)
		case podrefs.Secret:
			keys = append(keys, "secret/"+ref.Name)
			if prefix, _, ok := podrefs.VersionedSeries(ref.Name); ok {
				keys = append(keys, "vseries/"+prefix)
			}
		}
	}
	return keys
}

// forReferenced maps a ConfigMap or Secret event to the QuarksJobs that
// reference it, or reference its versioned series.
func (r *QuarksJobReconciler) forReferenced(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		keys := []string{kind + "/" + o.GetName()}
		if prefix, _, ok := podrefs.VersionedSeries(o.GetName()); ok && kind == "secret" {
			keys = append(keys, "vseries/"+prefix)
		}
		seen := map[types.NamespacedName]bool{}
		var reqs []reconcile.Request
		for _, key := range keys {
			var list quarksv1alpha1.QuarksJobList
			if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{referenceIndex: key}); err != nil {
				continue
			}
			for _, qj := range list.Items {
				nn := types.NamespacedName{Namespace: qj.Namespace, Name: qj.Name}
				if !seen[nn] {
					seen[nn] = true
					reqs = append(reqs, reconcile.Request{NamespacedName: nn})
				}
			}
		}
		return reqs
	}
}

// forNamespace maps a namespace to its QuarksJobs.
func (r *QuarksJobReconciler) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list quarksv1alpha1.QuarksJobList
	if err := r.List(ctx, &list, client.InNamespace(o.GetName())); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, qj := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: qj.Namespace, Name: qj.Name}})
	}
	return reqs
}

// quarksJobForJob maps a Job to the QuarksJob that controls it.
func quarksJobForJob(_ context.Context, job *batchv1.Job) []reconcile.Request {
	ref := metav1.GetControllerOf(job)
	if ref == nil || ref.Kind != quarksJobKind || ref.APIVersion != quarksv1alpha1.GroupVersion.String() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: job.Namespace, Name: ref.Name}}}
}

// runRequestChanged passes updates that change the run-request annotation.
func runRequestChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetAnnotations()[quarksv1alpha1.RunRequestAnnotation] !=
				e.ObjectNew.GetAnnotations()[quarksv1alpha1.RunRequestAnnotation]
		},
	}
}
