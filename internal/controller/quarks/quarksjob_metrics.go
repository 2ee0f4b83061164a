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
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// Label names of the per-kind metrics.
const (
	labelNamespace = "namespace"
	labelName      = "name"
	labelResult    = "result"
)

var (
	runsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobkeeper_quarksjob_runs_total",
		Help: "Finished runs of a QuarksJob, by result.",
	}, []string{labelNamespace, labelName, labelResult})
	runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "jobkeeper_quarksjob_run_duration_seconds",
		Help:    "Time from the start of a run to its end, by result.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 16),
	}, []string{labelNamespace, labelName, labelResult})
	activeRuns = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jobkeeper_quarksjob_active_runs",
		Help: "Active runs of a QuarksJob (0 or 1).",
	}, []string{labelNamespace, labelName})
)

func init() {
	metrics.Registry.MustRegister(runsTotal, runDuration, activeRuns)
}

// observeRun counts a finished run (QJ-31).
func observeRun(qj *quarksv1alpha1.QuarksJob, run *quarksv1alpha1.RunStatus, result string) {
	runsTotal.WithLabelValues(qj.Namespace, qj.Name, result).Inc()
	if run.StartTime != nil && run.CompletionTime != nil {
		runDuration.WithLabelValues(qj.Namespace, qj.Name, result).Observe(run.CompletionTime.Sub(run.StartTime.Time).Seconds())
	}
	activeRuns.WithLabelValues(qj.Namespace, qj.Name).Set(0)
}

// forgetMetrics removes the series of a deleted QuarksJob.
func forgetMetrics(namespace, name string) {
	labels := prometheus.Labels{labelNamespace: namespace, labelName: name}
	runsTotal.DeletePartialMatch(labels)
	runDuration.DeletePartialMatch(labels)
	activeRuns.DeletePartialMatch(labels)
}
