//go:build bench

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

package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one reading of the manager's /metrics.
type scrape map[string]*dto.MetricFamily

func (m *manager) scrape() (scrape, error) {
	resp, err := http.Get("http://" + m.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sum adds the values of a counter or gauge family over the series whose labels match.
func (s scrape) sum(family string, match func(labels map[string]string) bool) float64 {
	f, ok := s[family]
	if !ok {
		return 0
	}
	var total float64
	for _, m := range f.GetMetric() {
		labels := labelsOf(m)
		if match != nil && !match(labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// writeVerbs are the request methods that change something in the API server.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// writes is the number of write requests the manager's clients have sent (rest_client_requests_total).
func (s scrape) writes() float64 {
	return s.sum("rest_client_requests_total", func(l map[string]string) bool { return writeVerbs[l["method"]] })
}

// requests is the number of requests the manager's clients have sent.
func (s scrape) requests() float64 {
	return s.sum("rest_client_requests_total", nil)
}

// writesByVerb breaks the write requests down by method.
func (s scrape) writesByVerb() map[string]float64 {
	out := map[string]float64{}
	for v := range writeVerbs {
		out[v] = s.sum("rest_client_requests_total", func(l map[string]string) bool { return l["method"] == v })
	}
	return out
}

// reconciles is the number of reconciles of all controllers so far.
func (s scrape) reconciles() float64 {
	return s.sum("controller_runtime_reconcile_total", nil)
}

// activity summarises what the manager did between two scrapes: reconciles and their mean duration per controller,
// API requests by method, and the CPU time it used. It is the evidence for where a figure's time goes.
func activity(before, after scrape) string {
	var b strings.Builder
	for _, ctrl := range controllers(after) {
		is := func(l map[string]string) bool { return l["controller"] == ctrl }
		n := after.sum("controller_runtime_reconcile_total", is) - before.sum("controller_runtime_reconcile_total", is)
		if n == 0 {
			continue
		}
		t := after.histogramSum("controller_runtime_reconcile_time_seconds", is) -
			before.histogramSum("controller_runtime_reconcile_time_seconds", is)
		fmt.Fprintf(&b, "%s: %.0f reconciles, mean %.1f ms; ", ctrl, n, 1000*t/n)
	}
	for _, path := range webhookPaths(after) {
		is := func(l map[string]string) bool { return l["webhook"] == path }
		n := after.histogramCount("controller_runtime_webhook_latency_seconds", is) -
			before.histogramCount("controller_runtime_webhook_latency_seconds", is)
		if n == 0 {
			continue
		}
		t := after.histogramSum("controller_runtime_webhook_latency_seconds", is) -
			before.histogramSum("controller_runtime_webhook_latency_seconds", is)
		fmt.Fprintf(&b, "webhook %s: %.0f calls, mean %.1f ms; ", path, n, 1000*t/n)
	}
	for _, verb := range []string{"GET", "LIST", "POST", "PUT", "PATCH", "DELETE"} {
		is := func(l map[string]string) bool { return l["method"] == verb }
		if n := after.sum("rest_client_requests_total", is) - before.sum("rest_client_requests_total", is); n > 0 {
			fmt.Fprintf(&b, "%s %.0f ", verb, n)
		}
	}
	cpu := after.sum("process_cpu_seconds_total", nil) - before.sum("process_cpu_seconds_total", nil)
	fmt.Fprintf(&b, "requests; %.1f CPU-s", cpu)
	return b.String()
}

// controllers lists the controller label values of the reconcile counter.
func controllers(s scrape) []string {
	return labelValues(s, "controller_runtime_reconcile_total", "controller")
}

// webhookPaths lists the webhook label values of the webhook latency histogram.
func webhookPaths(s scrape) []string {
	return labelValues(s, "controller_runtime_webhook_latency_seconds", "webhook")
}

// labelValues lists, sorted, the values a label takes in the series of a family.
func labelValues(s scrape, family, label string) []string {
	seen := map[string]bool{}
	var out []string
	if f, ok := s[family]; ok {
		for _, m := range f.GetMetric() {
			if v := labelsOf(m)[label]; v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// histogramCount adds the sample counts of a histogram family over the series whose labels match.
func (s scrape) histogramCount(family string, match func(labels map[string]string) bool) float64 {
	f, ok := s[family]
	if !ok {
		return 0
	}
	var total float64
	for _, m := range f.GetMetric() {
		if m.Histogram != nil && (match == nil || match(labelsOf(m))) {
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// labelsOf returns the labels of a series by name.
func labelsOf(m *dto.Metric) map[string]string {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

// histogramSum adds the sums of a histogram family over the series whose labels match.
func (s scrape) histogramSum(family string, match func(labels map[string]string) bool) float64 {
	f, ok := s[family]
	if !ok {
		return 0
	}
	var total float64
	for _, m := range f.GetMetric() {
		labels := labelsOf(m)
		if m.Histogram != nil && (match == nil || match(labels)) {
			total += m.GetHistogram().GetSampleSum()
		}
	}
	return total
}
