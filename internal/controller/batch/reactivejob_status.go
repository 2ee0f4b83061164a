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
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// Messages of the ReactiveJob's Ready condition.
const (
	msgFirstSeen        = "First seen"
	msgWaitingForJob    = "waiting for job to complete"
	msgDeleting         = "waiting for deletion of dependent jobs"
	msgDeletionBlocked  = "Deletion blocked due to foreign finalizers"
	msgJobDeleted       = "job %s was deleted before it finished"
	msgWaitingForActive = "waiting for active jobs to finish before creating a job for generation %d"
)

// reactiveJobSummary is the state of a ReactiveJob with its kstatus summary.
type reactiveJobSummary struct {
	state   batchv1alpha1.ReactiveJobState
	summary status.Summary
}

// summaryForState builds the summary whose Ready reason equals the state.
func summaryForState(state batchv1alpha1.ReactiveJobState, ready metav1.ConditionStatus, msg string) reactiveJobSummary {
	return reactiveJobSummary{state: state, summary: status.Summary{
		Ready: ready, ReadyReason: string(state), ReadyMessage: msg,
	}}
}

// summaryForJob derives the ReactiveJob's state from its current Job (RJ-8 to RJ-11).
func summaryForJob(job *batchv1.Job) reactiveJobSummary {
	if c := jobFinished(job); c != nil {
		msg := fmt.Sprintf("%s: %s", c.Reason, c.Message)
		if c.Type == batchv1.JobComplete {
			return summaryForState(batchv1alpha1.ReactiveJobStateReady, metav1.ConditionTrue, msg)
		}
		s := summaryForState(batchv1alpha1.ReactiveJobStateError, metav1.ConditionFalse, msg)
		s.summary.Stalled = &status.Reason{Reason: batchv1alpha1.ReactiveJobReasonJobFailed, Message: msg}
		return s
	}
	if jobSuspended(job) {
		msg := fmt.Sprintf("job %s is suspended", job.Name)
		s := summaryForState(batchv1alpha1.ReactiveJobStateProcessing, metav1.ConditionUnknown, msg)
		s.summary.Reconciling = &status.Reason{Reason: batchv1alpha1.ReactiveJobReasonJobSuspended, Message: msg}
		return s
	}
	s := summaryForState(batchv1alpha1.ReactiveJobStateProcessing, metav1.ConditionUnknown, msgWaitingForJob)
	s.summary.Reconciling = &status.Reason{Reason: batchv1alpha1.ReactiveJobReasonJobActive, Message: msgWaitingForJob}
	return s
}

// summaryFromStatus returns the summary that the stored status already says, so
// that it can be written again for a newer generation without changing it.
func summaryFromStatus(st *batchv1alpha1.ReactiveJobStatus) reactiveJobSummary {
	s := reactiveJobSummary{state: st.State}
	for _, c := range st.Conditions {
		switch c.Type {
		case status.TypeReady:
			s.summary.Ready, s.summary.ReadyReason, s.summary.ReadyMessage = c.Status, c.Reason, c.Message
		case status.TypeReconciling:
			s.summary.Reconciling = &status.Reason{Reason: c.Reason, Message: c.Message}
		case status.TypeStalled:
			s.summary.Stalled = &status.Reason{Reason: c.Reason, Message: c.Message}
		}
	}
	if s.summary.Ready == "" {
		s = summaryForState(batchv1alpha1.ReactiveJobStateNew, metav1.ConditionUnknown, msgFirstSeen)
		s.summary.Reconciling = &status.Reason{Reason: string(batchv1alpha1.ReactiveJobStateNew), Message: msgFirstSeen}
	}
	return s
}

// copyJobStatus mirrors the current Job's counters and times (RJ-12).
func copyJobStatus(st *batchv1alpha1.ReactiveJobStatus, job *batchv1.Job) {
	st.Active = job.Status.Active
	st.Succeeded = job.Status.Succeeded
	st.Failed = job.Status.Failed
	st.StartTime = job.Status.StartTime
	st.CompletionTime = job.Status.CompletionTime
}

// applySummary writes state and conditions for the object's generation.
func applySummary(rj *batchv1alpha1.ReactiveJob, s reactiveJobSummary) {
	rj.Status.State = s.state
	rj.Status.ObservedGeneration = rj.Generation
	status.Apply(&rj.Status.Conditions, rj.Generation, s.summary)
}
