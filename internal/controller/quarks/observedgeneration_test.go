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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

func TestOnlyObservedGenerationMovedDefersNothingButTheGeneration(t *testing.T) {
	at := func(gen int64, result quarksv1alpha1.RunResult, reason string) *quarksv1alpha1.QuarksJob {
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Generation: gen}}
		qj.Status.ObservedGeneration = gen
		qj.Status.RunCount = 1
		qj.Status.LastRun = &quarksv1alpha1.RunStatus{Name: "j-1", Result: result}
		qj.Status.Conditions = []metav1.Condition{{Type: status.TypeReconciling, Status: metav1.ConditionTrue, Reason: reason,
			ObservedGeneration: gen, LastTransitionTime: metav1.Unix(1, 0)}}
		return qj
	}
	running, succeeded := quarksv1alpha1.RunResultRunning, quarksv1alpha1.RunResultSucceeded
	for _, tc := range []struct {
		name          string
		before, after *quarksv1alpha1.QuarksJob
		want          bool
	}{
		{"a run active before and after, the generation alone moved", at(1, running, "RunActive"), at(2, running, "RunActive"), true},
		{"nothing moved", at(1, running, "RunActive"), at(1, running, "RunActive"), false},
		{"a condition changed too", at(1, running, "RunActive"), at(2, running, "RunQueued"), false},
		{"the run ended", at(1, running, "RunActive"), at(2, succeeded, "RunActive"), false},
		{"no run active", at(1, succeeded, "RunActive"), at(2, succeeded, "RunActive"), false},
		{"never observed", func() *quarksv1alpha1.QuarksJob {
			q := at(1, running, "RunActive")
			q.Status.ObservedGeneration = -1
			return q
		}(),
			at(2, running, "RunActive"), false},
	} {
		if got := onlyObservedGenerationMoved(tc.before, tc.after); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
