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
	"encoding/json"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
	"github.com/jobkeeper/jobkeeper/internal/reports"
)

// records builds node records: n nodes node-000.. in phase, then the given extra ones.
func records(n int, phase batchv1alpha1.NodeJobRunNodePhase, extra ...reports.NodeRecord) []reports.NodeRecord {
	out := make([]reports.NodeRecord, 0, n+len(extra))
	for i := range n {
		out = append(out, reports.NodeRecord{Name: fmt.Sprintf("node-%03d", i), Phase: phase})
	}
	return append(out, extra...)
}

func TestNodeJobRunStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC))
	started := metav1.NewTime(now.Add(-time.Minute))
	running := batchv1alpha1.NodeJobRunNodePhaseRunning
	succeeded := batchv1alpha1.NodeJobRunNodePhaseSucceeded
	failed := batchv1alpha1.NodeJobRunNodePhaseFailed
	tests := []struct {
		name   string
		paused bool
		prior  batchv1alpha1.NodeJobRunStatus
		obs    runObservation
		check  func(t *testing.T, st batchv1alpha1.NodeJobRunStatus)
	}{{
		name: "a new run starts now and runs while nodes are pending",
		obs:  runObservation{nodes: records(3, batchv1alpha1.NodeJobRunNodePhasePending), desired: 3},
		check: func(t *testing.T, st batchv1alpha1.NodeJobRunStatus) {
			if st.Phase != batchv1alpha1.NodeJobRunPhaseRunning || !st.StartTime.Equal(&now) || st.CompletionTime != nil {
				t.Errorf("phase %s, start %v, completion %v", st.Phase, st.StartTime, st.CompletionTime)
			}
			if st.Selected != 3 || st.Desired != 3 || st.Active != 0 {
				t.Errorf("counts %d/%d/%d", st.Selected, st.Desired, st.Active)
			}
		},
	}, {
		name:  "counts cover every node; results are counted; storage is taken as observed",
		prior: batchv1alpha1.NodeJobRunStatus{StartTime: &started, Phase: batchv1alpha1.NodeJobRunPhaseRunning},
		obs: runObservation{desired: 4, storageBytes: 42, nodes: []reports.NodeRecord{
			{Name: "a", Phase: running, ResultReceived: true}, {Name: "b", Phase: succeeded, ResultReceived: true},
			{Name: "c", Phase: succeeded}, {Name: "d", Phase: running},
			{Name: "e", Phase: batchv1alpha1.NodeJobRunNodePhaseSkipped, Reason: NodeReasonNotReady},
		}},
		check: func(t *testing.T, st batchv1alpha1.NodeJobRunStatus) {
			if st.Active != 2 || st.Succeeded != 2 || st.Skipped != 1 || st.Failed != 0 || st.Reported != 2 ||
				st.Selected != 5 || st.StorageBytes != 42 || !st.StartTime.Equal(&started) {
				t.Errorf("status %+v", st)
			}
			if len(st.FailedNodes) != 0 {
				t.Errorf("nodes listed without a failure: %v", st.FailedNodes)
			}
		},
	}, {
		name:  "every node final with a failure: Failed NodesFailed, and the failed node listed with its reason",
		prior: batchv1alpha1.NodeJobRunStatus{StartTime: &started, Phase: batchv1alpha1.NodeJobRunPhaseRunning},
		obs: runObservation{desired: 2, now: now, nodes: []reports.NodeRecord{
			{Name: "a", Phase: succeeded}, {Name: "b", Phase: failed, Reason: NodeReasonContainerFailed, Message: "exit 3"},
		}},
		check: func(t *testing.T, st batchv1alpha1.NodeJobRunStatus) {
			if st.Phase != batchv1alpha1.NodeJobRunPhaseFailed || st.Reason != NodeJobRunReasonNodesFailed ||
				st.Message != "1 of 2 nodes failed" || !st.CompletionTime.Equal(&now) {
				t.Errorf("phase %s %s %q, completion %v", st.Phase, st.Reason, st.Message, st.CompletionTime)
			}
			if len(st.FailedNodes) != 1 || st.FailedNodes[0].Name != "b" || st.FailedNodes[0].Reason != NodeReasonContainerFailed {
				t.Errorf("failed nodes %+v", st.FailedNodes)
			}
			if c := meta.FindStatusCondition(st.Conditions, "Stalled"); c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("conditions %+v", st.Conditions)
			}
		},
	}, {
		name:  "the failed-node list is bounded, the count is not",
		prior: batchv1alpha1.NodeJobRunStatus{StartTime: &started, Phase: batchv1alpha1.NodeJobRunPhaseRunning},
		obs:   runObservation{desired: 5000, nodes: records(5000, failed)},
		check: func(t *testing.T, st batchv1alpha1.NodeJobRunStatus) {
			if st.Failed != 5000 || len(st.FailedNodes) != batchv1alpha1.NodeJobRunMaxFailedNodes ||
				st.FailedNodes[0].Name != "node-000" {
				t.Errorf("failed %d, listed %d", st.Failed, len(st.FailedNodes))
			}
		},
	}, {
		name:   "a failure under Pause with nodes left: Paused",
		paused: true,
		prior:  batchv1alpha1.NodeJobRunStatus{StartTime: &started, Phase: batchv1alpha1.NodeJobRunPhaseRunning},
		obs: runObservation{desired: 2, nodes: []reports.NodeRecord{
			{Name: "a", Phase: failed}, {Name: "b", Phase: batchv1alpha1.NodeJobRunNodePhasePending}}},
		check: func(t *testing.T, st batchv1alpha1.NodeJobRunStatus) {
			if st.Phase != batchv1alpha1.NodeJobRunPhasePaused || st.Reason != NodeJobReasonRunPaused {
				t.Errorf("phase %s %s", st.Phase, st.Reason)
			}
		},
	}, {
		name:  "a stop decided now ends the run with its reason",
		prior: batchv1alpha1.NodeJobRunStatus{StartTime: &started, Phase: batchv1alpha1.NodeJobRunPhaseRunning},
		obs: runObservation{desired: 1, now: now, nodes: records(1, running),
			stop: outcome(batchv1alpha1.NodeJobRunPhaseFailed, NodeReasonDeadlineExceeded, "too long")},
		check: func(t *testing.T, st batchv1alpha1.NodeJobRunStatus) {
			if st.Phase != batchv1alpha1.NodeJobRunPhaseFailed || st.Reason != NodeReasonDeadlineExceeded ||
				!st.CompletionTime.Equal(&now) {
				t.Errorf("phase %s %s, completion %v", st.Phase, st.Reason, st.CompletionTime)
			}
		},
	}, {
		name: "a finished run keeps its phase, reason and completion time",
		prior: batchv1alpha1.NodeJobRunStatus{StartTime: &started, CompletionTime: &started,
			Phase: batchv1alpha1.NodeJobRunPhaseFailed, Reason: NodeReasonFailFast, Message: "a node failed"},
		obs: runObservation{desired: 2, now: now, nodes: []reports.NodeRecord{
			{Name: "a", Phase: failed}, {Name: "b", Phase: batchv1alpha1.NodeJobRunNodePhaseSkipped, Reason: NodeReasonFailFast}}},
		check: func(t *testing.T, st batchv1alpha1.NodeJobRunStatus) {
			if st.Phase != batchv1alpha1.NodeJobRunPhaseFailed || st.Reason != NodeReasonFailFast ||
				!st.CompletionTime.Equal(&started) || st.Failed != 1 || st.Skipped != 1 {
				t.Errorf("status %+v", st)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Status: tt.prior}
			run.Spec.Paused = tt.paused
			if tt.obs.now.IsZero() {
				tt.obs.now = now
			}
			st := nodeJobRunStatus(run, tt.obs)
			if st.ObservedGeneration != 2 {
				t.Errorf("observedGeneration %d", st.ObservedGeneration)
			}
			tt.check(t, st)
			// The same observation again gives the same status: nothing to write.
			run.Status = st
			if again := nodeJobRunStatus(run, tt.obs); !equalJSON(t, again, st) {
				t.Errorf("not stable:\n%+v\n%+v", again, st)
			}
		})
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

// TestNodeJobRunStatusSizeIsBounded: the serialized status of a run is the same size for 10 and for 5,000
// nodes (in any mix of outcomes), far below the object size limit.
func TestNodeJobRunStatusSizeIsBounded(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC))
	size := func(n int) int {
		nodes := make([]reports.NodeRecord, n)
		for i := range nodes {
			nodes[i] = reports.NodeRecord{Name: fmt.Sprintf("node-%05d", i), Phase: batchv1alpha1.NodeJobRunNodePhaseFailed,
				Reason: NodeReasonContainerFailed, Message: "ContainerFailed: exit 1", PodName: fmt.Sprintf("run-%016x", i),
				ResultReceived: true, StartTime: &now, CompletionTime: &now}
		}
		run := &batchv1alpha1.NodeJobRun{}
		run.Status.StartTime = &now
		st := nodeJobRunStatus(run, runObservation{nodes: nodes, desired: n, now: now})
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		return len(data)
	}
	small, large := size(20), size(5000)
	// Only the digits of the counts differ.
	if large-small > 32 || large > 16<<10 {
		t.Errorf("status of 20 nodes: %d bytes, of 5000 nodes: %d bytes", small, large)
	}
}

// TestPodNamesOfFNV32CollisionsDiffer: two node names with the same FNV-32a hash, which once shared one pod
// name, get distinct pods, and both are selected.
func TestPodNamesOfFNV32CollisionsDiffer(t *testing.T) {
	a, b, ok := fnv32Collision("node-")
	if !ok {
		t.Fatal("no collision found")
	}
	if names.NodeJobPodName("run-1", a) == names.NodeJobPodName("run-1", b) {
		t.Fatalf("nodes %s and %s share a pod name", a, b)
	}
	ready := []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	sel, err := selectNodes(&batchv1alpha1.NodeJobRunSpec{}, []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: a}, Status: corev1.NodeStatus{Conditions: ready}},
		{ObjectMeta: metav1.ObjectMeta{Name: b}, Status: corev1.NodeStatus{Conditions: ready}},
	})
	if err != nil || sel.desired != 2 {
		t.Fatalf("selected %+v, %v", sel, err)
	}
	run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Name: "run-1", Namespace: "ns"}}
	run.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}
	pa, pb := buildNodeJobPod(run, a, resultsEndpoint{}), buildNodeJobPod(run, b, resultsEndpoint{})
	if pa.Name == pb.Name || pa.Labels[batchv1alpha1.NodeJobNodeHashLabel] == pb.Labels[batchv1alpha1.NodeJobNodeHashLabel] {
		t.Errorf("pods %s and %s", pa.Name, pb.Name)
	}
}

// fnv32Collision finds two node names, prefix and a number, with the same FNV-32a hash.
func fnv32Collision(prefix string) (string, string, bool) {
	seen := map[uint32]string{}
	for i := range 1 << 22 {
		name := fmt.Sprintf("%s%d", prefix, i)
		h := fnv.New32a()
		_, _ = h.Write([]byte(name))
		if other, ok := seen[h.Sum32()]; ok {
			return other, name, true
		}
		seen[h.Sum32()] = name
	}
	return "", "", false
}

// TestPodTrustsTheResultsCA: every container finds the results CA through the variables curl, OpenSSL, Go,
// Python and Node.js read, unless it sets one of them itself.
func TestPodTrustsTheResultsCA(t *testing.T) {
	run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Name: "run-1", Namespace: "ns"}}
	run.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
	run.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox",
		Env: []corev1.EnvVar{{Name: "REQUESTS_CA_BUNDLE", Value: "/etc/ssl/mine.pem"}}}}
	pod := buildNodeJobPod(run, "node-a", resultsEndpoint{})
	ca := "/var/run/secrets/jobkeeper/results/ca.crt"
	want := map[string]map[string]string{
		"init": {"SSL_CERT_FILE": ca, "CURL_CA_BUNDLE": ca, "REQUESTS_CA_BUNDLE": ca, "NODE_EXTRA_CA_CERTS": ca,
			"CALLBACK_SERVICE_CA_FILE": ca},
		"main": {"SSL_CERT_FILE": ca, "CURL_CA_BUNDLE": ca, "REQUESTS_CA_BUNDLE": "/etc/ssl/mine.pem",
			"NODE_EXTRA_CA_CERTS": ca, "CALLBACK_SERVICE_CA_FILE": ca},
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		got := map[string]string{}
		for _, e := range c.Env {
			if _, dup := got[e.Name]; dup {
				t.Errorf("%s: %s set twice", c.Name, e.Name)
			}
			got[e.Name] = e.Value
		}
		for name, value := range want[c.Name] {
			if got[name] != value {
				t.Errorf("%s: %s = %q, want %q", c.Name, name, got[name], value)
			}
		}
	}
	// The CA file is where the variables point.
	var mounted bool
	for _, src := range pod.Spec.Volumes[len(pod.Spec.Volumes)-1].Projected.Sources {
		if src.ConfigMap != nil && src.ConfigMap.Name == ResultsCAConfigMapName && src.ConfigMap.Items[0].Path == "ca.crt" {
			mounted = true
		}
	}
	if !mounted || pod.Spec.Containers[0].VolumeMounts[0].MountPath+"/ca.crt" != ca {
		t.Errorf("the results CA is not mounted at %s", ca)
	}
}
