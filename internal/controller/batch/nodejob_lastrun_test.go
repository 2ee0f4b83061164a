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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// The NodeJob's lastRun follows its newest run's phases, not every count the run writes on the way: a run of
// thousands of nodes writes its status hundreds of times, and the NodeJob's status must not be written with it.
func TestNodeJobLastRunFollowsPhases(t *testing.T) {
	r := &NodeJobReconciler{Recorder: events.NewFakeRecorder(10)}
	nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "nj"}}
	run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "nj-1"}}
	run.Spec.ExecutionID = "e1"
	observe := func(phase batchv1alpha1.NodeJobRunPhase, succeeded, failed int32) batchv1alpha1.NodeJobLastRun {
		t.Helper()
		run.Status.Phase, run.Status.Desired, run.Status.Succeeded, run.Status.Failed = phase, 10, succeeded, failed
		r.observeRuns(nj, []*batchv1alpha1.NodeJobRun{run}, true)
		if nj.Status.LastRun == nil {
			t.Fatal("no lastRun")
		}
		return *nj.Status.LastRun
	}

	if got := observe(batchv1alpha1.NodeJobRunPhaseRunning, 0, 0); got.Phase != batchv1alpha1.NodeJobRunPhaseRunning ||
		got.Desired != 10 || got.Succeeded != 0 {
		t.Fatalf("run started: %+v", got)
	}
	for n := int32(1); n < 10; n++ {
		if got := observe(batchv1alpha1.NodeJobRunPhaseRunning, n, 0); got.Succeeded != 0 {
			t.Fatalf("node %d of a running run changed the summary: %+v", n, got)
		}
	}
	if got := observe(batchv1alpha1.NodeJobRunPhaseSucceeded, 9, 1); got.Phase != batchv1alpha1.NodeJobRunPhaseSucceeded ||
		got.Succeeded != 9 || got.Failed != 1 {
		t.Fatalf("run finished: %+v", got)
	}
	// A later correction of a finished run's counts still reaches the summary.
	if got := observe(batchv1alpha1.NodeJobRunPhaseSucceeded, 10, 0); got.Succeeded != 10 || got.Failed != 0 {
		t.Fatalf("finished run corrected: %+v", got)
	}
}
