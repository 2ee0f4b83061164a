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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// Condition reasons of NodeJobs and NodeJobRuns (NJ-34).
const (
	NodeJobReasonRunActive   = "RunActive"
	NodeJobReasonRunQueued   = "RunQueued"
	NodeJobReasonIdle        = "Idle"
	NodeJobReasonSucceeded   = "Succeeded"
	NodeJobReasonSuspended   = "Suspended"
	NodeJobReasonRunFailed   = "RunFailed"
	NodeJobReasonRunPaused   = "RunPaused"
	NodeJobReasonInvalidSpec = "InvalidSpec"
	// NodeJobReasonMetricConflict: an older NodeJob declares one of the metric families differently (NJ-X12).
	NodeJobReasonMetricConflict = "MetricConflict"

	NodeJobRunReasonNodesFailed  = "NodesFailed"
	NodeJobRunReasonTooManyNodes = "TooManyNodes"
	NodeJobRunReasonNoNodes      = "NoNodesSelected"
	// NodeJobRunReasonPodRejected: the API server refused the run's pod as invalid or forbidden.
	NodeJobRunReasonPodRejected = "PodRejected"
)

// runFinished reports whether a run reached a terminal phase.
func runFinished(phase batchv1alpha1.NodeJobRunPhase) bool {
	return phase == batchv1alpha1.NodeJobRunPhaseSucceeded || phase == batchv1alpha1.NodeJobRunPhaseFailed
}

// runSummary is the kstatus view of a run (NJ-34).
func runSummary(st *batchv1alpha1.NodeJobRunStatus) status.Summary {
	switch st.Phase {
	case batchv1alpha1.NodeJobRunPhaseSucceeded:
		return status.Summary{Ready: metav1.ConditionTrue, ReadyReason: NodeJobReasonSucceeded, ReadyMessage: st.Message}
	case batchv1alpha1.NodeJobRunPhaseFailed, batchv1alpha1.NodeJobRunPhasePaused:
		reason := st.Reason
		if reason == "" {
			reason = string(st.Phase)
		}
		msg := st.Message
		if msg == "" {
			msg = "run " + string(st.Phase)
		}
		return status.Summary{Ready: metav1.ConditionFalse, ReadyReason: reason, ReadyMessage: msg,
			Stalled: &status.Reason{Reason: reason, Message: msg}}
	}
	phase := st.Phase
	if phase == "" {
		phase = batchv1alpha1.NodeJobRunPhasePending
	}
	msg := fmt.Sprintf("%d of %d nodes active, %d succeeded, %d failed", st.Active, st.Desired, st.Succeeded, st.Failed)
	return status.Summary{Ready: metav1.ConditionUnknown, ReadyReason: string(phase), ReadyMessage: msg,
		Reconciling: &status.Reason{Reason: string(phase), Message: msg}}
}

// nodeJobView is what the kstatus of a NodeJob depends on.
type nodeJobView struct {
	invalid   string // message of an invalid spec, or ""
	conflict  string // message of a metric family conflict, or ""
	queued    bool   // a requested run waits
	active    int    // runs Pending or Running
	lastPhase batchv1alpha1.NodeJobRunPhase
	lastName  string
	suspended bool
}

// nodeJobSummary is the kstatus view of a NodeJob (NJ-34).
func nodeJobSummary(v nodeJobView) status.Summary {
	switch {
	case v.invalid != "":
		return status.Summary{Ready: metav1.ConditionFalse, ReadyReason: NodeJobReasonInvalidSpec, ReadyMessage: v.invalid,
			Stalled: &status.Reason{Reason: NodeJobReasonInvalidSpec, Message: v.invalid}}
	case v.conflict != "":
		return status.Summary{Ready: metav1.ConditionFalse, ReadyReason: NodeJobReasonMetricConflict,
			ReadyMessage: v.conflict, Stalled: &status.Reason{Reason: NodeJobReasonMetricConflict, Message: v.conflict}}
	case v.queued:
		msg := "a requested run waits for the active run to finish"
		return status.Summary{Ready: metav1.ConditionUnknown, ReadyReason: NodeJobReasonRunActive, ReadyMessage: msg,
			Reconciling: &status.Reason{Reason: NodeJobReasonRunQueued, Message: msg}}
	case v.active > 0:
		msg := fmt.Sprintf("%d run(s) active", v.active)
		return status.Summary{Ready: metav1.ConditionUnknown, ReadyReason: NodeJobReasonRunActive, ReadyMessage: msg,
			Reconciling: &status.Reason{Reason: NodeJobReasonRunActive, Message: msg}}
	case v.lastPhase == batchv1alpha1.NodeJobRunPhasePaused:
		msg := fmt.Sprintf("run %s is paused", v.lastName)
		return status.Summary{Ready: metav1.ConditionFalse, ReadyReason: NodeJobReasonRunPaused, ReadyMessage: msg,
			Stalled: &status.Reason{Reason: NodeJobReasonRunPaused, Message: msg}}
	case v.lastPhase == batchv1alpha1.NodeJobRunPhaseFailed:
		msg := fmt.Sprintf("run %s failed", v.lastName)
		return status.Summary{Ready: metav1.ConditionFalse, ReadyReason: NodeJobReasonRunFailed, ReadyMessage: msg,
			Stalled: &status.Reason{Reason: NodeJobReasonRunFailed, Message: msg}}
	case v.suspended:
		return status.Summary{Ready: metav1.ConditionTrue, ReadyReason: NodeJobReasonSuspended, ReadyMessage: "suspended"}
	case v.lastPhase == batchv1alpha1.NodeJobRunPhaseSucceeded:
		return status.Summary{Ready: metav1.ConditionTrue, ReadyReason: NodeJobReasonSucceeded,
			ReadyMessage: fmt.Sprintf("run %s succeeded", v.lastName)}
	}
	return status.Summary{Ready: metav1.ConditionTrue, ReadyReason: NodeJobReasonIdle, ReadyMessage: "no run so far"}
}
