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

// Package kindmetrics holds the metrics every kind exports, labelled by the
// object's namespace and name: jobkeeper_<kind>_runs_total{result},
// jobkeeper_<kind>_run_duration_seconds{result} and jobkeeper_<kind>_active_runs.
package kindmetrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label names and result values of the per-kind metrics.
const (
	LabelNamespace  = "namespace"
	LabelName       = "name"
	LabelResult     = "result"
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"
)

// Kind is the set of run metrics of one kind.
type Kind struct {
	Runs     *prometheus.CounterVec
	Duration *prometheus.HistogramVec
	Active   *prometheus.GaugeVec
}

// New creates the metrics of kind (lower case, e.g. "reactivejob") and
// registers them with the controller-runtime registry.
func New(kind string) *Kind {
	k := &Kind{
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobkeeper_" + kind + "_runs_total",
			Help: "Finished runs, by result.",
		}, []string{LabelNamespace, LabelName, LabelResult}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jobkeeper_" + kind + "_run_duration_seconds",
			Help:    "Time from the start of a run to its end, by result.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16),
		}, []string{LabelNamespace, LabelName, LabelResult}),
		Active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jobkeeper_" + kind + "_active_runs",
			Help: "Active runs.",
		}, []string{LabelNamespace, LabelName}),
	}
	metrics.Registry.MustRegister(k.Runs, k.Duration, k.Active)
	return k
}

// Finished counts a finished run and its duration in seconds (negative: unknown).
func (k *Kind) Finished(namespace, name, result string, seconds float64) {
	k.Runs.WithLabelValues(namespace, name, result).Inc()
	if seconds >= 0 {
		k.Duration.WithLabelValues(namespace, name, result).Observe(seconds)
	}
}

// Forget removes the series of a deleted object.
func (k *Kind) Forget(namespace, name string) {
	labels := prometheus.Labels{LabelNamespace: namespace, LabelName: name}
	k.Runs.DeletePartialMatch(labels)
	k.Duration.DeletePartialMatch(labels)
	k.Active.DeletePartialMatch(labels)
}
