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
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// kstatusOfSummary is what kstatus reads from a QuarksJob whose status is s
// for its current generation.
func kstatusOfSummary(t *testing.T, s status.Summary) kstatus.Status {
	t.Helper()
	qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 2}}
	qj.SetGroupVersionKind(quarksv1alpha1.GroupVersion.WithKind("QuarksJob"))
	applySummary(qj, s)
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(qj)
	if err != nil {
		t.Fatal(err)
	}
	res, err := kstatus.Compute(&unstructured.Unstructured{Object: u})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func TestQuarksJobStatusSummaries(t *testing.T) {
	gr := schema.GroupResource{Group: "batch", Resource: "jobs"}
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: "batch", Kind: "Job"}, "j",
		field.ErrorList{field.Invalid(field.NewPath("spec", "template"), 1, "bad")})
	for _, tc := range []struct {
		name        string
		summary     status.Summary
		ready       metav1.ConditionStatus
		reason      string
		reconciling string
		stalled     string
		kstatus     kstatus.Status
	}{
		{"never ran", idleSummary(nil, 0), metav1.ConditionTrue, quarksv1alpha1.ReasonIdle, "", "", kstatus.CurrentStatus},
		{"last run succeeded", idleSummary(&quarksv1alpha1.RunStatus{Result: quarksv1alpha1.RunResultSucceeded}, 3),
			metav1.ConditionTrue, quarksv1alpha1.ReasonSucceeded, "", "", kstatus.CurrentStatus},
		{"last run failed", idleSummary(&quarksv1alpha1.RunStatus{Result: quarksv1alpha1.RunResultFailed,
			Reason: "OutputInvalid", Message: "bad"}, 3),
			metav1.ConditionFalse, quarksv1alpha1.ReasonRunFailed, "", quarksv1alpha1.ReasonRunFailed, kstatus.FailedStatus},
		{"run active", activeSummary(2, false), metav1.ConditionUnknown, quarksv1alpha1.ReasonRunActive,
			quarksv1alpha1.ReasonRunActive, "", kstatus.InProgressStatus},
		{"run queued", activeSummary(2, true), metav1.ConditionUnknown, quarksv1alpha1.ReasonRunActive,
			quarksv1alpha1.ReasonRunQueued, "", kstatus.InProgressStatus},
		{"references missing", missingSummary([]string{"configmap a"}), metav1.ConditionFalse, quarksv1alpha1.ReasonReferencesMissing,
			quarksv1alpha1.ReasonWaitingForReferences, "", kstatus.InProgressStatus},
		{"job invalid", createFailedSummary("creating job j: invalid", invalid), metav1.ConditionFalse,
			quarksv1alpha1.ReasonInvalidJobTemplate, "", quarksv1alpha1.ReasonInvalidJobTemplate, kstatus.FailedStatus},
		{"job forbidden", createFailedSummary("creating job j: forbidden", apierrors.NewForbidden(gr, "j", errors.New("quota"))),
			metav1.ConditionFalse, quarksv1alpha1.ReasonJobCreationForbidden, quarksv1alpha1.ReasonJobCreationForbidden, "",
			kstatus.InProgressStatus},
		{"transient", createFailedSummary("creating job j: timeout", apierrors.NewServerTimeout(gr, "create", 1)),
			metav1.ConditionFalse, quarksv1alpha1.ReasonRetryingAfterError, quarksv1alpha1.ReasonRetryingAfterError, "",
			kstatus.InProgressStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.summary
			if s.Ready != tc.ready || s.ReadyReason != tc.reason {
				t.Errorf("Ready = %s %s, want %s %s", s.Ready, s.ReadyReason, tc.ready, tc.reason)
			}
			if got := reasonOf(s.Reconciling); got != tc.reconciling {
				t.Errorf("Reconciling = %q, want %q", got, tc.reconciling)
			}
			if got := reasonOf(s.Stalled); got != tc.stalled {
				t.Errorf("Stalled = %q, want %q", got, tc.stalled)
			}
			if got := kstatusOfSummary(t, s); got != tc.kstatus {
				t.Errorf("kstatus = %s, want %s", got, tc.kstatus)
			}
		})
	}
}

func reasonOf(r *status.Reason) string {
	if r == nil {
		return ""
	}
	return r.Reason
}
