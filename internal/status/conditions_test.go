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

package status

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestApplyNeverLeavesReconcilingAndStalledBothTrue(t *testing.T) {
	var conds []metav1.Condition
	Apply(&conds, 1, Summary{Ready: metav1.ConditionUnknown, ReadyReason: "Processing",
		Reconciling: &Reason{Reason: "JobActive"}})
	if !meta.IsStatusConditionTrue(conds, TypeReconciling) || meta.FindStatusCondition(conds, TypeStalled) != nil {
		t.Fatalf("want Reconciling only, got %+v", conds)
	}
	Apply(&conds, 2, Summary{Ready: metav1.ConditionFalse, ReadyReason: "Error",
		Reconciling: &Reason{Reason: "JobActive"}, Stalled: &Reason{Reason: "JobFailed"}})
	if meta.FindStatusCondition(conds, TypeReconciling) != nil || !meta.IsStatusConditionTrue(conds, TypeStalled) {
		t.Fatalf("want Stalled only, got %+v", conds)
	}
	if c := meta.FindStatusCondition(conds, TypeReady); c.ObservedGeneration != 2 || c.Reason != "Error" {
		t.Fatalf("Ready not updated: %+v", c)
	}
	Apply(&conds, 2, Summary{Ready: metav1.ConditionTrue, ReadyReason: "Ready"})
	if len(conds) != 1 {
		t.Fatalf("want only Ready, got %+v", conds)
	}
}

func TestApplyKeepsTransitionTimeWhenUnchanged(t *testing.T) {
	past := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	conds := []metav1.Condition{{Type: TypeReady, Status: metav1.ConditionTrue, Reason: "Ready",
		ObservedGeneration: 1, LastTransitionTime: past}}
	Apply(&conds, 1, Summary{Ready: metav1.ConditionTrue, ReadyReason: "Ready"})
	if got := conds[0].LastTransitionTime; !got.Equal(&past) {
		t.Fatalf("lastTransitionTime rewritten: %v", got)
	}
}
