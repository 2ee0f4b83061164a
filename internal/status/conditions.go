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

// Package status holds the kstatus vocabulary shared by every kind: the Ready,
// Reconciling and Stalled conditions and a status patch that is sent only when
// the status changed.
package status

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Condition types understood by kstatus.
const (
	// TypeReady is True when the object reached its desired state.
	TypeReady = "Ready"
	// TypeReconciling is True (abnormal-true) while work for the current generation is in progress.
	TypeReconciling = "Reconciling"
	// TypeStalled is True (abnormal-true) when the object cannot progress without a change.
	TypeStalled = "Stalled"
)

// Reason is the reason and message of an abnormal-true condition.
type Reason struct {
	Reason  string
	Message string
}

// Summary is the kstatus view of an object: its Ready condition and, at most
// one of them, a Reconciling or a Stalled reason.
type Summary struct {
	Ready        metav1.ConditionStatus
	ReadyReason  string
	ReadyMessage string
	// Reconciling, when set, makes Reconciling=True; otherwise the condition is removed.
	Reconciling *Reason
	// Stalled, when set, makes Stalled=True; otherwise the condition is removed.
	// Stalled wins over Reconciling so that the two are never both True.
	Stalled *Reason
}

// Apply writes the summary into conditions for generation. Conditions whose
// status does not change keep their lastTransitionTime.
func Apply(conditions *[]metav1.Condition, generation int64, s Summary) {
	meta.SetStatusCondition(conditions, metav1.Condition{
		Type:               TypeReady,
		Status:             s.Ready,
		Reason:             s.ReadyReason,
		Message:            s.ReadyMessage,
		ObservedGeneration: generation,
	})
	reconciling, stalled := s.Reconciling, s.Stalled
	if stalled != nil {
		reconciling = nil
	}
	setAbnormal(conditions, TypeReconciling, generation, reconciling)
	setAbnormal(conditions, TypeStalled, generation, stalled)
}

func setAbnormal(conditions *[]metav1.Condition, condType string, generation int64, r *Reason) {
	if r == nil {
		meta.RemoveStatusCondition(conditions, condType)
		return
	}
	meta.SetStatusCondition(conditions, metav1.Condition{
		Type:               condType,
		Status:             metav1.ConditionTrue,
		Reason:             r.Reason,
		Message:            r.Message,
		ObservedGeneration: generation,
	})
}

// PatchIfChanged sends a merge patch of obj's status against before when the
// two status values differ, and reports whether it patched.
func PatchIfChanged(ctx context.Context, c client.Client, before, obj client.Object, oldStatus, newStatus any) (bool, error) {
	if equality.Semantic.DeepEqual(oldStatus, newStatus) {
		return false, nil
	}
	return true, c.Status().Patch(ctx, obj, client.MergeFrom(before))
}
