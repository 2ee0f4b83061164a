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
	"slices"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
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
	"github.com/jobkeeper/jobkeeper/internal/labelcache"
	"github.com/jobkeeper/jobkeeper/internal/runs"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// Event reasons of the ReactiveJob controller (RJ-27).
const (
	EventJobCreated           = "JobCreated"
	EventJobAdopted           = "JobAdopted"
	EventJobSucceeded         = "JobSucceeded"
	EventJobFailed            = "JobFailed"
	EventJobReplaced          = "JobReplaced"
	EventRunQueued            = "RunQueued"
	EventRerunRequested       = "RerunRequested"
	EventJobsPruned           = "JobsPruned"
	EventCreateJobFailed      = "CreateJobFailed"
	EventInvalidJobAnnotation = "InvalidJobAnnotation"
	EventReconcileError       = "ReconcileError"
)

const (
	// reactiveJobOwnerIndex indexes the cached Jobs by the ReactiveJob UID label.
	reactiveJobOwnerIndex = "reactivejob.controller-uid"
	// maxJobNameCandidates bounds the search for a free deterministic Job name.
	maxJobNameCandidates = 10
	// maxCreateBackoff caps the retry interval after a refused Job creation (RJ-X10).
	maxCreateBackoff = 5 * time.Minute
)

// ReactiveJobReconciler runs a ReactiveJob's template as a new Job whenever the
// template changes, and mirrors the current Job in the ReactiveJob's status.
type ReactiveJobReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	// Recorder emits events.k8s.io Events; nil uses the manager's.
	Recorder events.EventRecorder
	// Clock tells the time; nil uses the real clock.
	Clock clock.PassiveClock
	// Namespaces limits the Job cache to these namespaces; empty means all.
	Namespaces []string
	// MaxConcurrentReconciles is the number of ReactiveJobs reconciled at once (default 1).
	MaxConcurrentReconciles int

	// apiReader reads from the API server, for what the cache may not have seen yet.
	apiReader client.Reader
	// expectations hold back a reconcile until the cache shows this controller's last run record.
	expectations *runs.Expectations
	// jobs is the cache of Jobs labelled with a ReactiveJob UID.
	jobs    client.Reader
	metrics *reactiveJobMetrics
	// warned remembers Jobs already reported with an invalid annotation.
	warned sync.Map
}

// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=reactivejobs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=reactivejobs/status,verbs=get;patch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=reactivejobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a ReactiveJob towards its desired state.
func (r *ReactiveJobReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rj := &batchv1alpha1.ReactiveJob{}
	if err := r.Get(ctx, req.NamespacedName, rj); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.expectations.Fresh(rj.UID, rj.Status.RunCount) {
		// The cache has not yet seen this controller's last status write; acting
		// on an older copy could create or replace a Job twice. The write's own
		// watch event brings the next reconcile.
		return ctrl.Result{}, nil
	}
	if rj.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(rj, batchv1alpha1.ReactiveJobFinalizer) {
		// The finalizer comes before the first Job, through a patch (RJ-21).
		patch := client.MergeFrom(rj.DeepCopy())
		controllerutil.AddFinalizer(rj, batchv1alpha1.ReactiveJobFinalizer)
		if err := r.Patch(ctx, rj, patch); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	before := rj.DeepCopy()

	jobs, err := r.listJobs(ctx, rj)
	if err != nil {
		return ctrl.Result{}, err
	}

	var result ctrl.Result
	if !rj.DeletionTimestamp.IsZero() {
		err = r.reconcileDelete(ctx, rj, before, jobs)
		return ctrl.Result{}, err
	}
	result, err = r.reconcileNormal(ctx, rj, jobs)
	if _, perr := status.PatchIfChanged(ctx, r.Client, before, rj, &before.Status, &rj.Status); perr != nil {
		// The run was not recorded: the next reconcile computes the same run
		// number and adopts the Job this one created.
		r.expectations.Forget(rj.UID)
		err = errors.Join(err, fmt.Errorf("patching status: %w", perr))
	}
	return result, err
}

// reconcileNormal adopts Jobs, creates the Job the template asks for, and
// derives the status from the current Job.
func (r *ReactiveJobReconciler) reconcileNormal(ctx context.Context, rj *batchv1alpha1.ReactiveJob, all []*batchv1.Job) (ctrl.Result, error) {
	jobs := r.validJobs(rj, all)
	if err := r.adopt(ctx, rj, all); err != nil {
		return ctrl.Result{}, r.transient(rj, err)
	}

	recoverRunRecord(rj, jobs)
	candidates := jobs
	if rj.Status.CurrentJobName == "" {
		// Adoption never takes a Job that is being deleted for the current one.
		candidates = slices.DeleteFunc(slices.Clone(jobs), func(j *batchv1.Job) bool { return j.DeletionTimestamp != nil })
	}
	current := selectCurrentJob(rj.Status.CurrentJobName, candidates)
	if current == nil && rj.Status.CurrentJobName != "" {
		// The cache may lag behind a Job created a moment ago: confirm with a direct read.
		gone, err := r.jobGone(ctx, rj.Namespace, rj.Status.CurrentJobName)
		if err != nil {
			return ctrl.Result{}, r.transient(rj, err)
		}
		if !gone {
			return ctrl.Result{}, nil // the Job's watch event brings the next reconcile
		}
	}
	if current != nil && rj.Status.CurrentJobName == "" {
		// Adoption of an existing Job: it becomes current in this status write.
		rj.Status.CurrentJobName = current.Name
		if h := current.Annotations[batchv1alpha1.ReactiveJobTemplateHashAnnotation]; h != "" {
			rj.Status.TemplateHash = h
		}
	}
	if err := recordAdoptedHash(rj, current); err != nil {
		return ctrl.Result{}, r.transient(rj, err)
	}

	token, create, err := r.needsJob(rj, current)
	if err != nil {
		return ctrl.Result{}, r.transient(rj, err)
	}
	if create {
		queued, err := r.makeRoom(ctx, rj, jobs)
		if err != nil {
			return ctrl.Result{}, r.transient(rj, err)
		}
		if queued {
			r.setWaiting(rj, current)
			r.observe(rj, jobs)
			return ctrl.Result{}, nil
		}
		job, err := r.createJob(ctx, rj, token)
		if err != nil {
			return r.createFailed(rj, err)
		}
		current = job
		jobs = append(jobs, job)
	}

	r.setStatus(rj, current)
	if err := r.prune(ctx, rj, jobs); err != nil {
		return ctrl.Result{}, r.transient(rj, err)
	}
	r.observe(rj, jobs)
	return ctrl.Result{}, nil
}

// listJobs returns the Jobs labelled with the ReactiveJob's UID (RJ-1).
func (r *ReactiveJobReconciler) listJobs(ctx context.Context, rj *batchv1alpha1.ReactiveJob) ([]*batchv1.Job, error) {
	var list batchv1.JobList
	if err := r.jobs.List(ctx, &list, client.InNamespace(rj.Namespace),
		client.MatchingFields{reactiveJobOwnerIndex: string(rj.UID)}); err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	jobs := make([]*batchv1.Job, 0, len(list.Items))
	for i := range list.Items {
		jobs = append(jobs, &list.Items[i])
	}
	return jobs, nil
}

// validJobs leaves out Jobs without a numeric generation annotation, with a
// Warning event once per Job (RJ-F9, RJ-X11).
func (r *ReactiveJobReconciler) validJobs(rj *batchv1alpha1.ReactiveJob, jobs []*batchv1.Job) []*batchv1.Job {
	valid := make([]*batchv1.Job, 0, len(jobs))
	for _, j := range jobs {
		if _, ok := jobGeneration(j); ok {
			valid = append(valid, j)
			continue
		}
		if _, seen := r.warned.LoadOrStore(j.UID, true); !seen {
			r.Recorder.Eventf(rj, j, corev1.EventTypeWarning, EventInvalidJobAnnotation, "Select",
				"job %s has no valid %s annotation and is ignored", j.Name, batchv1alpha1.ReactiveJobGenerationAnnotation)
		}
	}
	return valid
}

// adopt gives labelled Jobs without a controller an ownerReference and removes
// the legacy finalizer from every labelled Job (RJ-19, RJ-20).
func (r *ReactiveJobReconciler) adopt(ctx context.Context, rj *batchv1alpha1.ReactiveJob, jobs []*batchv1.Job) error {
	adopted := 0
	for _, j := range jobs {
		owned := metav1.GetControllerOf(j) == nil
		legacy := controllerutil.ContainsFinalizer(j, batchv1alpha1.ReactiveJobFinalizer)
		if !owned && !legacy {
			continue
		}
		patch := client.MergeFromWithOptions(j.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if owned {
			if err := controllerutil.SetControllerReference(rj, j, r.Scheme); err != nil {
				return fmt.Errorf("adopting job %s: %w", j.Name, err)
			}
			adopted++
		}
		controllerutil.RemoveFinalizer(j, batchv1alpha1.ReactiveJobFinalizer)
		if err := r.Patch(ctx, j, patch); err != nil {
			return fmt.Errorf("adopting job %s: %w", j.Name, err)
		}
	}
	if adopted > 0 {
		r.Recorder.Eventf(rj, nil, corev1.EventTypeNormal, EventJobAdopted, "Adopt", "adopted %d existing job(s)", adopted)
	}
	return nil
}

// jobGone confirms with a direct read that a Job no longer exists.
func (r *ReactiveJobReconciler) jobGone(ctx context.Context, namespace, name string) (bool, error) {
	err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &batchv1.Job{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// needsJob decides whether a new Job is due and with which rerun token (RJ-3 to RJ-6, RJ-17).
func (r *ReactiveJobReconciler) needsJob(rj *batchv1alpha1.ReactiveJob, current *batchv1.Job) (string, bool, error) {
	if token := rj.Annotations[batchv1alpha1.ReactiveJobRerunAnnotation]; runs.NewRequest(token, rj.Status.LastHandledRerun) {
		return token, true, nil
	}
	if current == nil && rj.Status.CurrentJobName == "" {
		return "", true, nil // first run
	}
	if current != nil {
		if g, _ := jobGeneration(current); g == rj.Generation {
			return "", false, nil
		}
	}
	hash, err := canonicalTemplateHash(&rj.Spec.JobTemplate)
	if err != nil {
		return "", false, err
	}
	previous := rj.Status.TemplateHash
	if current != nil {
		previous = current.Annotations[batchv1alpha1.ReactiveJobTemplateHashAnnotation]
		if previous == "" {
			same, err := legacyHashMatches(current, &rj.Spec.JobTemplate)
			if err != nil || same {
				return "", false, err
			}
		}
	}
	if previous == "" && current == nil {
		// The current Job is gone and its hash unknown: only a newer generation runs.
		return "", rj.Status.ObservedGeneration != rj.Generation, nil
	}
	return "", hash != previous, nil
}

// recoverRunRecord restores the record of the newest run from its Job when
// the status write that followed the Job's creation was lost (a restart in
// between): the run counter, the current Job, its hash and its rerun token.
// Without it, the counter would name the next run like the last one.
func recoverRunRecord(rj *batchv1alpha1.ReactiveJob, jobs []*batchv1.Job) {
	var newest *batchv1.Job
	var run int64
	for _, j := range jobs {
		if j.DeletionTimestamp != nil {
			continue // a dying Job is never taken for a run
		}
		if n, err := strconv.ParseInt(j.Annotations[batchv1alpha1.ReactiveJobRunAnnotation], 10, 64); err == nil && n > run {
			newest, run = j, n
		}
	}
	if newest == nil || run <= rj.Status.RunCount {
		return
	}
	rj.Status.RunCount = run
	rj.Status.CurrentJobName = newest.Name
	if h := newest.Annotations[batchv1alpha1.ReactiveJobTemplateHashAnnotation]; h != "" {
		rj.Status.TemplateHash = h
	}
	if token := newest.Annotations[batchv1alpha1.ReactiveJobRerunAnnotation]; token != "" {
		rj.Status.LastHandledRerun = token
	}
}

// recordAdoptedHash records the canonical hash of the template for a current
// Job written by an earlier operator (legacy hash only) when that Job ran the
// template as it is now. Without it, a spec change that leaves the template
// alone would run the template again once the adopted Job is gone (RJ-19).
func recordAdoptedHash(rj *batchv1alpha1.ReactiveJob, current *batchv1.Job) error {
	if current == nil || rj.Status.TemplateHash != "" || current.Annotations[batchv1alpha1.ReactiveJobTemplateHashAnnotation] != "" {
		return nil
	}
	same, err := legacyHashMatches(current, &rj.Spec.JobTemplate)
	if err != nil || !same {
		return err
	}
	hash, err := canonicalTemplateHash(&rj.Spec.JobTemplate)
	if err != nil {
		return err
	}
	rj.Status.TemplateHash = hash
	return nil
}

// makeRoom applies the concurrency policy before a new Job is created and
// reports whether the new Job has to wait (RJ-14 to RJ-16).
func (r *ReactiveJobReconciler) makeRoom(ctx context.Context, rj *batchv1alpha1.ReactiveJob, jobs []*batchv1.Job) (bool, error) {
	var active []*batchv1.Job
	for _, j := range jobs {
		if jobFinished(j) == nil && j.DeletionTimestamp == nil {
			active = append(active, j)
		}
	}
	switch rj.Spec.ConcurrencyPolicy {
	case batchv1alpha1.ForbidConcurrent:
		return len(active) > 0, nil
	case batchv1alpha1.ReplaceConcurrent:
		for _, j := range active {
			if err := r.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
				return false, fmt.Errorf("replacing job %s: %w", j.Name, err)
			}
			r.Recorder.Eventf(rj, j, corev1.EventTypeNormal, EventJobReplaced, "Replace", "deleted active job %s to replace it", j.Name)
		}
	}
	return false, nil
}

// setWaiting records that a new Job waits for an active one (RJ-15).
func (r *ReactiveJobReconciler) setWaiting(rj *batchv1alpha1.ReactiveJob, current *batchv1.Job) {
	if c := findCondition(rj.Status.Conditions, status.TypeReconciling); c == nil || c.Reason != batchv1alpha1.ReactiveJobReasonWaitingForActiveJob {
		r.Recorder.Eventf(rj, nil, corev1.EventTypeNormal, EventRunQueued, "Queue",
			"a job for generation %d waits for the active jobs to finish", rj.Generation)
	}
	if current != nil {
		copyJobStatus(&rj.Status, current)
	}
	msg := fmt.Sprintf(msgWaitingForActive, rj.Generation)
	s := summaryForState(batchv1alpha1.ReactiveJobStateProcessing, metav1.ConditionUnknown, msg)
	s.summary.Reconciling = &status.Reason{Reason: batchv1alpha1.ReactiveJobReasonWaitingForActiveJob, Message: msg}
	applySummary(rj, s)
}

// createJob creates the Job of the next run, or adopts the one an earlier
// attempt created for that run (RJ-7). A Job with the name that is not this
// run's (foreign, or being deleted) is never taken: the next candidate name is tried.
func (r *ReactiveJobReconciler) createJob(ctx context.Context, rj *batchv1alpha1.ReactiveJob, token string) (*batchv1.Job, error) {
	hash, err := canonicalTemplateHash(&rj.Spec.JobTemplate)
	if err != nil {
		return nil, err
	}
	legacy, err := legacyTemplateHash(&rj.Spec.JobTemplate)
	if err != nil {
		return nil, err
	}
	run := rj.Status.RunCount + 1
	ours := func(o client.Object) bool {
		return o.GetLabels()[batchv1alpha1.ReactiveJobControllerUIDLabel] == string(rj.UID) &&
			o.GetAnnotations()[batchv1alpha1.ReactiveJobRunAnnotation] == strconv.FormatInt(run, 10)
	}
	for i := range maxJobNameCandidates {
		job := buildReactiveJobJob(rj, reactiveJobJobName(rj, run, i), run, token, hash, legacy)
		created, err := runs.CreateOrAdopt(ctx, r.Client, r.apiReader, job, ours)
		switch {
		case errors.Is(err, runs.ErrNotOurs):
			continue
		case err != nil:
			return nil, err
		}
		if created {
			r.Recorder.Eventf(rj, job, corev1.EventTypeNormal, EventJobCreated, "Create",
				"created job %s for generation %d (run %d)", job.Name, rj.Generation, run)
			if token != "" {
				r.Recorder.Eventf(rj, job, corev1.EventTypeNormal, EventRerunRequested, "Rerun",
					"rerun %q runs as job %s", token, job.Name)
			}
		}
		r.recordRun(rj, job, run, token, hash)
		return job, nil
	}
	return nil, fmt.Errorf("no free job name among %d candidates", maxJobNameCandidates)
}

// recordRun notes in status the Job that now is current, and that the next
// reconcile must see this status before it acts again.
func (r *ReactiveJobReconciler) recordRun(rj *batchv1alpha1.ReactiveJob, job *batchv1.Job, run int64, token, hash string) {
	if token != "" {
		rj.Status.LastHandledRerun = token
	}
	rj.Status.RunCount = run
	rj.Status.CurrentJobName = job.Name
	rj.Status.TemplateHash = hash
	r.expectations.Expect(rj.UID, run)
}

// createFailed turns a refused Job creation into status: invalid templates and
// refusals (quota, policy) stall the object, anything else is retried (RJ-25, RJ-X6, RJ-X10).
func (r *ReactiveJobReconciler) createFailed(rj *batchv1alpha1.ReactiveJob, err error) (ctrl.Result, error) {
	var reason string
	switch {
	case apierrors.IsInvalid(err):
		reason = batchv1alpha1.ReactiveJobReasonInvalidJobTemplate
	case apierrors.IsForbidden(err):
		reason = batchv1alpha1.ReactiveJobReasonJobCreationForbidden
	default:
		return ctrl.Result{}, r.transient(rj, err)
	}
	msg := fmt.Sprintf("creating job: %v", err)
	if c := findCondition(rj.Status.Conditions, status.TypeStalled); c == nil || c.Reason != reason || c.Message != msg {
		r.Recorder.Eventf(rj, nil, corev1.EventTypeWarning, EventCreateJobFailed, "Create", "%s", msg)
	}
	s := summaryForState(batchv1alpha1.ReactiveJobStateError, metav1.ConditionFalse, msg)
	s.summary.Stalled = &status.Reason{Reason: reason, Message: msg}
	applySummary(rj, s)
	if reason == batchv1alpha1.ReactiveJobReasonInvalidJobTemplate {
		// Only a new template can help; its generation change brings the next reconcile.
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return ctrl.Result{}, err // retried with backoff capped at maxCreateBackoff
}

// transient records a transient error: Reconciling while work for this
// generation is pending, and the error returned for a retry with backoff (RJ-F4).
func (r *ReactiveJobReconciler) transient(rj *batchv1alpha1.ReactiveJob, err error) error {
	if apierrors.IsConflict(err) {
		return err // a newer version of an object is on its way; no event
	}
	r.Recorder.Eventf(rj, nil, corev1.EventTypeWarning, EventReconcileError, "Reconcile", "%v", err)
	if rj.Status.ObservedGeneration != rj.Generation || rj.Status.CurrentJobName == "" {
		// The work for this generation is not done: Ready is not carried over
		// from the previous generation, so that waiting for Ready waits for it.
		msg := fmt.Sprintf("retrying after an error: %v", err)
		s := summaryForState(batchv1alpha1.ReactiveJobStateProcessing, metav1.ConditionUnknown, msg)
		s.summary.Reconciling = &status.Reason{Reason: batchv1alpha1.ReactiveJobReasonRetryingAfterError, Message: err.Error()}
		applySummary(rj, s)
	}
	return err
}

// setStatus derives the status from the current Job, or keeps what the status
// says when the Job is gone (RJ-8 to RJ-13).
func (r *ReactiveJobReconciler) setStatus(rj *batchv1alpha1.ReactiveJob, current *batchv1.Job) {
	prevState := rj.Status.State
	var s reactiveJobSummary
	switch {
	case current != nil:
		copyJobStatus(&rj.Status, current)
		s = summaryForJob(current)
	case prevState == batchv1alpha1.ReactiveJobStateReady || prevState == batchv1alpha1.ReactiveJobStateError:
		s = summaryFromStatus(&rj.Status) // a finished Job went away: keep what it said
	default:
		msg := fmt.Sprintf(msgJobDeleted, rj.Status.CurrentJobName)
		s = summaryForState(batchv1alpha1.ReactiveJobStateError, metav1.ConditionFalse, msg)
		s.summary.Stalled = &status.Reason{Reason: batchv1alpha1.ReactiveJobReasonJobDeleted, Message: msg}
	}
	if current != nil && s.state != prevState {
		switch s.state {
		case batchv1alpha1.ReactiveJobStateReady:
			r.Recorder.Eventf(rj, current, corev1.EventTypeNormal, EventJobSucceeded, "Complete", "job %s succeeded", current.Name)
		case batchv1alpha1.ReactiveJobStateError:
			r.Recorder.Eventf(rj, current, corev1.EventTypeWarning, EventJobFailed, "Fail", "job %s failed: %s",
				current.Name, s.summary.ReadyMessage)
		}
	}
	applySummary(rj, s)
}

// prune deletes finished Jobs beyond the history limits (RJ-18).
func (r *ReactiveJobReconciler) prune(ctx context.Context, rj *batchv1alpha1.ReactiveJob, jobs []*batchv1.Job) error {
	victims := jobsToPrune(jobs, rj.Status.CurrentJobName, rj.Spec.SuccessfulJobsHistoryLimit, rj.Spec.FailedJobsHistoryLimit)
	for _, j := range victims {
		if err := r.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("pruning job %s: %w", j.Name, err)
		}
	}
	if len(victims) > 0 {
		r.Recorder.Eventf(rj, nil, corev1.EventTypeNormal, EventJobsPruned, "Prune", "deleted %d finished job(s) beyond the history limits", len(victims))
	}
	return nil
}

// observe updates the metrics of the kind (RJ-28).
func (r *ReactiveJobReconciler) observe(rj *batchv1alpha1.ReactiveJob, jobs []*batchv1.Job) {
	r.metrics.observe(types.NamespacedName{Namespace: rj.Namespace, Name: rj.Name}, jobs)
}

// reconcileDelete removes the ReactiveJob's Jobs, then its finalizer (RJ-21, RJ-22).
func (r *ReactiveJobReconciler) reconcileDelete(ctx context.Context, rj, before *batchv1alpha1.ReactiveJob, jobs []*batchv1.Job) error {
	if !controllerutil.ContainsFinalizer(rj, batchv1alpha1.ReactiveJobFinalizer) {
		return nil
	}
	for _, j := range jobs {
		if controllerutil.ContainsFinalizer(j, batchv1alpha1.ReactiveJobFinalizer) {
			patch := client.MergeFrom(j.DeepCopy())
			controllerutil.RemoveFinalizer(j, batchv1alpha1.ReactiveJobFinalizer)
			if err := r.Patch(ctx, j, patch); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("removing finalizer from job %s: %w", j.Name, err)
			}
		}
		if j.DeletionTimestamp == nil {
			if err := r.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationForeground)); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting job %s: %w", j.Name, err)
			}
		}
	}

	var s reactiveJobSummary
	switch {
	case len(jobs) > 0:
		s = summaryForState(batchv1alpha1.ReactiveJobStateDeleting, metav1.ConditionUnknown, msgDeleting)
	case len(rj.Finalizers) > 1:
		s = summaryForState(batchv1alpha1.ReactiveJobStateDeletionBlocked, metav1.ConditionUnknown, msgDeletionBlocked)
	}
	if s.state != "" {
		applySummary(rj, s)
		if _, err := status.PatchIfChanged(ctx, r.Client, before, rj, &before.Status, &rj.Status); err != nil {
			return fmt.Errorf("patching status: %w", err)
		}
	}
	if len(jobs) > 0 {
		return nil // the Jobs' delete events bring the next reconcile
	}
	patch := client.MergeFrom(rj.DeepCopy())
	controllerutil.RemoveFinalizer(rj, batchv1alpha1.ReactiveJobFinalizer)
	if err := r.Patch(ctx, rj, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing finalizer: %w", err)
	}
	r.metrics.forget(types.NamespacedName{Namespace: rj.Namespace, Name: rj.Name})
	return nil
}

func findCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// SetupWithManager sets up the controller with the Manager. Jobs are watched
// through a cache of their own that holds only Jobs labelled with a ReactiveJob
// UID, indexed by that UID (RJ-29).
func (r *ReactiveJobReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("jobkeeper-reactivejob")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.apiReader = mgr.GetAPIReader()
	r.expectations = runs.NewExpectations()
	r.metrics = newReactiveJobMetrics(r.Clock.Now())

	jobCache, err := labelcache.New(mgr, &batchv1.Job{}, batchv1alpha1.ReactiveJobControllerUIDLabel, r.Namespaces,
		labelcache.Index{Field: reactiveJobOwnerIndex, Extract: func(o client.Object) []string {
			return []string{o.GetLabels()[batchv1alpha1.ReactiveJobControllerUIDLabel]}
		}})
	if err != nil {
		return err
	}
	r.jobs = jobCache

	return ctrl.NewControllerManagedBy(mgr).
		For(&batchv1alpha1.ReactiveJob{}, builder.WithPredicates(predicate.Or(reactiveJobChanged(), r.expectations.PendingPredicate()))).
		WatchesRawSource(source.Kind(jobCache, &batchv1.Job{},
			handler.TypedEnqueueRequestsFromMapFunc(reactiveJobForJob))).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles),
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
				5*time.Millisecond, maxCreateBackoff),
		}).
		Named("batch-reactivejob").
		Complete(r)
}

// reactiveJobForJob maps a Job to its ReactiveJob: the controller reference
// when there is one, otherwise the legacy controller-name label (the UID is
// checked when the Jobs are listed, RJ-X12).
func reactiveJobForJob(_ context.Context, job *batchv1.Job) []reconcile.Request {
	name := job.Labels[batchv1alpha1.ReactiveJobControllerNameLabel]
	if ref := metav1.GetControllerOf(job); ref != nil {
		if ref.Kind != "ReactiveJob" || ref.APIVersion != batchv1alpha1.GroupVersion.String() {
			return nil
		}
		name = ref.Name
	}
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: job.Namespace, Name: name}}}
}

// reactiveJobChanged passes creations, deletions, generation changes, changes
// of the rerun annotation and the start of a deletion; status and label writes
// do not reconcile (RJ-29).
func reactiveJobChanged() predicate.Predicate {
	return predicate.Or(
		predicate.GenerationChangedPredicate{},
		predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return false },
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
			UpdateFunc: func(e event.UpdateEvent) bool {
				oldA, newA := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
				return oldA[batchv1alpha1.ReactiveJobRerunAnnotation] != newA[batchv1alpha1.ReactiveJobRerunAnnotation] ||
					(e.ObjectOld.GetDeletionTimestamp() == nil) != (e.ObjectNew.GetDeletionTimestamp() == nil) ||
					len(e.ObjectOld.GetFinalizers()) != len(e.ObjectNew.GetFinalizers()) && e.ObjectNew.GetDeletionTimestamp() != nil
			},
		},
	)
}
