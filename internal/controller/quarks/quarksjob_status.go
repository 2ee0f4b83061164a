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
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// The kstatus summaries of a QuarksJob, one pure function per situation the
// reconciler observes. The reconciler applies exactly one of them per
// reconcile, and the status is written once, at its end.

// idleSummary is the status when no run is active or due: what the last run,
// if any, ended with.
func idleSummary(run *quarksv1alpha1.RunStatus, runCount int64) status.Summary {
	switch {
	case run == nil:
		return status.Summary{Ready: metav1.ConditionTrue, ReadyReason: quarksv1alpha1.ReasonIdle, ReadyMessage: "no run so far"}
	case run.Result == quarksv1alpha1.RunResultSucceeded:
		return status.Summary{Ready: metav1.ConditionTrue, ReadyReason: quarksv1alpha1.ReasonSucceeded,
			ReadyMessage: fmt.Sprintf("run %d succeeded", runCount)}
	default:
		msg := run.Reason
		if run.Message != "" {
			msg = run.Reason + ": " + run.Message
		}
		return status.Summary{Ready: metav1.ConditionFalse, ReadyReason: quarksv1alpha1.ReasonRunFailed, ReadyMessage: msg,
			Stalled: &status.Reason{Reason: quarksv1alpha1.ReasonRunFailed, Message: msg}}
	}
}

// activeSummary is the status while run runCount is active, with another run
// queued behind it or not.
func activeSummary(runCount int64, queued bool) status.Summary {
	reason, msg := quarksv1alpha1.ReasonRunActive, fmt.Sprintf("run %d is active", runCount)
	if queued {
		reason, msg = quarksv1alpha1.ReasonRunQueued, fmt.Sprintf("a run is queued behind run %d", runCount)
	}
	return status.Summary{
		Ready: metav1.ConditionUnknown, ReadyReason: quarksv1alpha1.ReasonRunActive, ReadyMessage: msg,
		Reconciling: &status.Reason{Reason: reason, Message: msg},
	}
}

// missingSummary is the status while a due run waits for missing references (QJ-14).
func missingSummary(missing []string) status.Summary {
	msg := missingMessage(missing)
	return status.Summary{
		Ready: metav1.ConditionFalse, ReadyReason: quarksv1alpha1.ReasonReferencesMissing, ReadyMessage: msg,
		Reconciling: &status.Reason{Reason: quarksv1alpha1.ReasonWaitingForReferences, Message: msg},
	}
}

func missingMessage(missing []string) string {
	return "missing: " + strings.Join(missing, ", ")
}

// createFailedSummary is the status after the API server refused the run's
// Job: an invalid Job stalls until the spec changes; a refusal (RBAC, quota,
// admission policy) or any other error is retried while Reconciling says why.
func createFailedSummary(msg string, err error) status.Summary {
	s := status.Summary{Ready: metav1.ConditionFalse, ReadyMessage: msg}
	switch {
	case apierrors.IsInvalid(err):
		s.ReadyReason = quarksv1alpha1.ReasonInvalidJobTemplate
		s.Stalled = &status.Reason{Reason: quarksv1alpha1.ReasonInvalidJobTemplate, Message: msg}
	case apierrors.IsForbidden(err):
		s.ReadyReason = quarksv1alpha1.ReasonJobCreationForbidden
		s.Reconciling = &status.Reason{Reason: quarksv1alpha1.ReasonJobCreationForbidden, Message: msg}
	default:
		s.ReadyReason = quarksv1alpha1.ReasonRetryingAfterError
		s.Reconciling = &status.Reason{Reason: quarksv1alpha1.ReasonRetryingAfterError, Message: msg}
	}
	return s
}
