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
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// resultSeries builds series the way the results API hands them over: every
// declared label (missing ones "") and the implicit labels of the run.
func resultSeries(run *batchv1alpha1.NodeJobRun, node string, value float64, labels map[string]string) Series {
	l := map[string]string{
		batchv1alpha1.NodeJobMetricLabelNode:        node,
		batchv1alpha1.NodeJobMetricLabelExecutionID: run.Spec.ExecutionID,
		batchv1alpha1.NodeJobMetricLabelNamespace:   run.Namespace,
		batchv1alpha1.NodeJobMetricLabelNodeJob:     run.Spec.NodeJobName,
	}
	maps.Copy(l, labels)
	return Series{Suffix: "test", Value: value, Labels: l}
}

// tenantScenario fills a registry with what used to break /metrics: a
// labelled gauge with latestMetricsLabel, a finished run and an active second
// run that report the same label values, results whose series differ only in
// a label the gauge then stops declaring, and a family with a reserved name.
func tenantScenario(t *testing.T) *Registry {
	t.Helper()
	r := New()
	nj := nodeJob("nj", t0, "label_a", "label_b")
	nj.Spec.LatestMetricsLabel = true
	if _, err := r.Declare(nj); err != nil {
		t.Fatal(err)
	}
	first := nodeJobRun("nj", "nj-1", "202601020304", t0, batchv1alpha1.NodeJobRunPhaseSucceeded)
	r.SetResult(first, "a", []Series{
		resultSeries(first, "a", 1, map[string]string{"label_a": "x", "label_b": "1"}),
		resultSeries(first, "a", 2, map[string]string{"label_a": "x", "label_b": "2"}),
	})
	second := nodeJobRun("nj", "nj-2", "202601020404", t0.Add(time.Hour), batchv1alpha1.NodeJobRunPhaseRunning)
	r.SetResult(second, "a", []Series{
		resultSeries(second, "a", 10, map[string]string{"label_a": "x", "label_b": "1"}),
		resultSeries(second, "a", 20, map[string]string{"label_a": "x", "label_b": "2"}),
	})

	// label_b is removed while both runs are kept: each run now has two series with the same label values.
	nj = nodeJob("nj", t0, "label_a")
	nj.Spec.LatestMetricsLabel = true
	if _, err := r.Declare(nj); err != nil {
		t.Fatal(err)
	}

	// A NodeJob whose family would collide with the operator's own metrics.
	reserved := nodeJob("reserved", t0)
	reserved.Spec.Metrics.Prefix = "jobkeeper_nodejob"
	if _, err := r.Declare(reserved); err != nil {
		t.Fatal(err)
	}
	run := nodeJobRun("reserved", "reserved-1", "202601020304", t0, batchv1alpha1.NodeJobRunPhaseRunning)
	r.SetResult(run, "a", []Series{{Suffix: "test", Value: 1}})
	return r
}

func TestCollectNeverFailsTheScrape(t *testing.T) {
	r := tenantScenario(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(r)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	// The newest run wins the latest series; each run keeps one series per label set.
	got := collect(t, r, "p_test")
	mustContain(t, got,
		`p_test{executionID="202601020404",label_a="x",namespace="ns",node="a",nodejob="nj"} 10`,
		`p_test{executionID="202601020304",label_a="x",namespace="ns",node="a",nodejob="nj"} 1`,
		`p_test{executionID="latest",label_a="x",namespace="ns",node="a",nodejob="nj"} 10`)
	mustNotContain(t, got, "label_b")
	for _, mf := range families {
		if strings.HasPrefix(mf.GetName(), "jobkeeper_nodejob_test") {
			t.Errorf("family %s with a reserved name exported", mf.GetName())
		}
	}
	nj := types.NamespacedName{Namespace: "ns", Name: "nj"}
	if got := testutil.ToFloat64(r.dropped.WithLabelValues(nj.Namespace, nj.Name, DropDuplicate)); got == 0 {
		t.Error("duplicates not counted")
	}
	if got := testutil.ToFloat64(r.dropped.WithLabelValues(nj.Namespace, nj.Name, DropUndeclaredLabel)); got == 0 {
		t.Error("series with an undeclared label not counted")
	}
	if got := testutil.ToFloat64(r.dropped.WithLabelValues("ns", "reserved", DropReservedName)); got == 0 {
		t.Error("reserved family not counted")
	}
}

func TestMetricsEndpointAnswers200(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(tenantScenario(t))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	for range 2 { // a second scrape sees the same series again
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics answered %d: %s", resp.StatusCode, body)
		}
		if !strings.Contains(string(body), `p_test{executionID="latest"`) {
			t.Fatalf("no latest series in\n%s", body)
		}
	}
}

func TestGlobalSeriesLimit(t *testing.T) {
	r := New()
	r.SetMaxSeries(3)
	if _, err := r.Declare(nodeJob("nj", t0, "label_a")); err != nil {
		t.Fatal(err)
	}
	run := nodeJobRun("nj", "nj-1", "202601020304", t0, batchv1alpha1.NodeJobRunPhaseRunning)
	series := func(n int) []Series {
		out := make([]Series, n)
		for i := range out {
			out[i] = resultSeries(run, "a", float64(i), map[string]string{"label_a": strings.Repeat("v", i+1)})
		}
		return out
	}
	r.SetResult(run, "a", series(2))
	r.SetResult(run, "b", series(2))
	if got := r.Series(); got != 3 {
		t.Fatalf("held %d series, want the limit 3", got)
	}
	if got := testutil.ToFloat64(r.dropped.WithLabelValues("ns", "nj", DropSeriesLimit)); got != 1 {
		t.Errorf("dropped %v series for the limit, want 1", got)
	}
	// A node's new result replaces its old series, so it may use the room they took.
	r.SetResult(run, "a", series(1))
	r.SetResult(run, "b", series(2))
	if got := r.Series(); got != 3 {
		t.Fatalf("held %d series after replacing, want 3", got)
	}
	r.DeleteRun("ns", "nj-1")
	if got := r.Series(); got != 0 {
		t.Fatalf("held %d series after the run was deleted, want 0", got)
	}
	r.SetResult(run, "a", series(2))
	r.Forget(types.NamespacedName{Namespace: "ns", Name: "nj"})
	if got := r.Series(); got != 0 {
		t.Fatalf("held %d series after the NodeJob was forgotten, want 0", got)
	}
}
