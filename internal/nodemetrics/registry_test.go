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

package nodemetrics

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

func nodeJob(name string, created time.Time, labels ...string) *batchv1alpha1.NodeJob {
	nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name,
		CreationTimestamp: metav1.NewTime(created)}}
	nj.Spec.Metrics.Prefix = "p"
	nj.Spec.Metrics.Gauges = map[string]batchv1alpha1.NodeJobGauge{"test": {Help: "a test", Labels: labels}}
	return nj
}

func nodeJobRun(nodeJob, name, executionID string, scheduled time.Time, phase batchv1alpha1.NodeJobRunPhase,
	nodes ...batchv1alpha1.NodeJobRunNode) *batchv1alpha1.NodeJobRun {
	run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	run.Spec.NodeJobName, run.Spec.ExecutionID, run.Spec.ScheduledTime = nodeJob, executionID, metav1.NewTime(scheduled)
	run.Status.Phase, run.Status.Desired = phase, int32(len(nodes))
	return run
}

func collect(t *testing.T, r *Registry, names ...string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if len(names) == 0 || slices.Contains(names, mf.GetName()) {
			if err := enc.Encode(mf); err != nil {
				t.Fatalf("encoding: %v", err)
			}
		}
	}
	return b.String()
}

func mustContain(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q in\n%s", w, text)
		}
	}
}

func mustNotContain(t *testing.T, text string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			t.Errorf("unexpected %q in\n%s", w, text)
		}
	}
}

func TestResultSeriesAndOwnGauges(t *testing.T) {
	r := New()
	if _, err := r.Declare(nodeJob("nj", t0, "label_a", "label_b")); err != nil {
		t.Fatal(err)
	}
	start := metav1.NewTime(t0)
	end := metav1.NewTime(t0.Add(1500 * time.Millisecond))
	nodes := []batchv1alpha1.NodeJobRunNode{
		{Name: "n1", Phase: batchv1alpha1.NodeJobRunNodePhaseRunning, StartTime: &start},
		{Name: "n2", Phase: batchv1alpha1.NodeJobRunNodePhaseFailed, StartTime: &start, CompletionTime: &end},
	}
	run := nodeJobRun("nj", "nj-1", "202601020304", t0, batchv1alpha1.NodeJobRunPhaseRunning, nodes...)
	r.SyncRun(run, nodes, nil)
	r.SetResult(run, "n1", []Series{
		{Suffix: "test", Value: 1, Labels: map[string]string{"label_a": "AAA", "label_b": "BBB"}},
		{Suffix: "test", Value: 2.554, Labels: map[string]string{"label_a": "AAA2"}},
	})
	got := collect(t, r)
	mustContain(t, got,
		`p_test{executionID="202601020304",label_a="AAA",label_b="BBB",namespace="ns",node="n1",nodejob="nj"} 1`,
		`p_test{executionID="202601020304",label_a="AAA2",label_b="",namespace="ns",node="n1",nodejob="nj"} 2.554`,
		`p_processing{executionID="202601020304",namespace="ns",node="n1",nodejob="nj"} 0`,
		`p_processing{executionID="202601020304",namespace="ns",node="n2",nodejob="nj"} 1`,
		`p_duration{executionID="202601020304",namespace="ns",node="n2",nodejob="nj"} 1500`,
		`p_pods{namespace="ns",nodejob="nj"} 2`,
		`p_current_execution_id{namespace="ns",nodejob="nj"} 2.02601020304e+11`,
		"# HELP p_test a test",
	)
	mustNotContain(t, got, `executionID="latest"`)

	// A second result replaces the node's series.
	r.SetResult(run, "n1", []Series{{Suffix: "test", Value: 3, Labels: map[string]string{"label_a": "X"}}})
	got = collect(t, r, "p_test")
	mustContain(t, got, `label_a="X"`)
	mustNotContain(t, got, `label_a="AAA"`)

	r.DeleteRun("ns", "nj-1")
	mustNotContain(t, collect(t, r), "p_test{", "p_processing{", "p_pods{")
}

func TestSyncRunLoadsSeriesOnce(t *testing.T) {
	r := New()
	if _, err := r.Declare(nodeJob("nj", t0)); err != nil {
		t.Fatal(err)
	}
	nodes := []batchv1alpha1.NodeJobRunNode{
		{Name: "n1", Phase: batchv1alpha1.NodeJobRunNodePhaseRunning, ResultReceived: true},
		{Name: "n2", Phase: batchv1alpha1.NodeJobRunNodePhaseRunning},
	}
	run := nodeJobRun("nj", "nj-1", "202601020304", t0, batchv1alpha1.NodeJobRunPhaseRunning, nodes...)
	loads := 0
	load := func(_ *batchv1alpha1.NodeJobRun, node string) []Series {
		loads++
		if node != "n1" {
			t.Errorf("loaded node %s without a result", node)
		}
		return []Series{{Suffix: "test", Value: 7}}
	}
	r.SyncRun(run, nodes, load)
	r.SyncRun(run, nodes, load)
	if loads != 1 {
		t.Errorf("loaded %d times, want 1", loads)
	}
	mustContain(t, collect(t, r, "p_test", "p_processing"),
		`p_test{executionID="202601020304",namespace="ns",node="n1",nodejob="nj"} 7`,
		`p_processing{executionID="202601020304",namespace="ns",node="n1",nodejob="nj"} 0`)
}

func TestConflictingFamilies(t *testing.T) {
	r := New()
	older := nodeJob("older", t0, "a")
	newer := nodeJob("newer", t0.Add(time.Minute), "b")
	// The newer one declares first; the older one takes the family over.
	if _, err := r.Declare(newer); err != nil {
		t.Fatal(err)
	}
	displaced, err := r.Declare(older)
	if err != nil {
		t.Fatalf("older NodeJob: %v", err)
	}
	if len(displaced) != 1 || displaced[0] != (types.NamespacedName{Namespace: "ns", Name: "newer"}) {
		t.Errorf("displaced %v, want ns/newer", displaced)
	}
	var conflict *ConflictError
	if err := r.Conflict(types.NamespacedName{Namespace: "ns", Name: "newer"}); !errors.As(err, &conflict) ||
		conflict.Family != "p_test" || conflict.Owner.Name != "older" {
		t.Fatalf("conflict of the newer NodeJob = %v", err)
	}
	for _, nj := range []string{"older", "newer"} {
		run := nodeJobRun(nj, nj+"-1", "202601020304", t0, batchv1alpha1.NodeJobRunPhaseRunning)
		r.SetResult(run, "n1", []Series{{Suffix: "test", Value: 1, Labels: map[string]string{"a": "x", "b": "y"}}})
	}
	got := collect(t, r, "p_test", "p_processing")
	mustContain(t, got, `p_test{a="x",executionID="202601020304",namespace="ns",node="n1",nodejob="older"} 1`,
		// The reserved families are declared alike, so both export them.
		`nodejob="newer"} 0`)
	mustNotContain(t, got, `b="y"`)

	// Once the older one is gone, the newer one owns the family.
	r.Forget(types.NamespacedName{Namespace: "ns", Name: "older"})
	if err := r.Conflict(types.NamespacedName{Namespace: "ns", Name: "newer"}); err != nil {
		t.Errorf("conflict after the owner was forgotten: %v", err)
	}
	mustContain(t, collect(t, r, "p_test"), `b="y"`)
}

func TestLatestSeries(t *testing.T) {
	r := New()
	nj := nodeJob("nj", t0)
	nj.Spec.LatestMetricsLabel = true
	if _, err := r.Declare(nj); err != nil {
		t.Fatal(err)
	}
	first := nodeJobRun("nj", "nj-1", "202601020304", t0, batchv1alpha1.NodeJobRunPhaseSucceeded)
	r.SetResult(first, "a", []Series{{Suffix: "test", Value: 1}})
	r.SetResult(first, "b", []Series{{Suffix: "test", Value: 2}})
	second := nodeJobRun("nj", "nj-2", "202601020404", t0.Add(time.Hour), batchv1alpha1.NodeJobRunPhaseRunning)
	r.SetResult(second, "a", []Series{{Suffix: "test", Value: 10}})

	got := collect(t, r, "p_test")
	mustContain(t, got,
		`p_test{executionID="latest",namespace="ns",node="a",nodejob="nj"} 10`,
		`p_test{executionID="latest",namespace="ns",node="b",nodejob="nj"} 2`)

	// When the second run finishes without node b, b's latest series goes.
	second.Status.Phase = batchv1alpha1.NodeJobRunPhaseSucceeded
	r.SyncRun(second, nil, nil)
	got = collect(t, r, "p_test")
	mustContain(t, got, `p_test{executionID="latest",namespace="ns",node="a",nodejob="nj"} 10`,
		`p_test{executionID="202601020304",namespace="ns",node="b",nodejob="nj"} 2`)
	mustNotContain(t, got, `p_test{executionID="latest",namespace="ns",node="b"`)
}
