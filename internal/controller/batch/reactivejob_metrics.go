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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label names of the per-kind metrics.
const (
	labelNamespace = "namespace"
	labelName      = "name"
	labelResult    = "result"
)

var (
	reactiveJobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobkeeper_reactivejob_runs_total",
		Help: "Jobs of a ReactiveJob that reached a terminal condition, by result.",
	}, []string{labelNamespace, labelName, labelResult})
	reactiveJobRunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "jobkeeper_reactivejob_run_duration_seconds",
		Help:    "Time from a Job's start to its completion, by result.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 16),
	}, []string{labelNamespace, labelName, labelResult})
	reactiveJobActiveRuns = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jobkeeper_reactivejob_active_runs",
		Help: "Active Jobs of a ReactiveJob.",
	}, []string{labelNamespace, labelName})
)

func init() {
	metrics.Registry.MustRegister(reactiveJobRuns, reactiveJobRunDuration, reactiveJobActiveRuns)
}

// reactiveJobMetrics counts each Job's terminal condition once. Only Jobs that
// finish after the process started are counted, so a restart does not count
// old runs again.
type reactiveJobMetrics struct {
	started time.Time
	mu      sync.Mutex
	counted map[types.NamespacedName]map[types.UID]bool // ReactiveJob -> Job UIDs already counted
}

func newReactiveJobMetrics(started time.Time) *reactiveJobMetrics {
	// API times have a resolution of one second.
	return &reactiveJobMetrics{started: started.Truncate(time.Second), counted: map[types.NamespacedName]map[types.UID]bool{}}
}

// observe records the Jobs of one ReactiveJob.
func (m *reactiveJobMetrics) observe(key types.NamespacedName, jobs []*batchv1.Job) {
	namespace, name := key.Namespace, key.Name
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.counted[key]
	next := make(map[types.UID]bool, len(jobs))
	active := 0
	for _, j := range jobs {
		c := jobFinished(j)
		if c == nil {
			active++
			continue
		}
		if prev[j.UID] {
			next[j.UID] = true
			continue
		}
		if finishTime(j).Time.Before(m.started) {
			continue
		}
		result := "succeeded"
		if c.Type == batchv1.JobFailed {
			result = "failed"
		}
		reactiveJobRuns.WithLabelValues(namespace, name, result).Inc()
		if j.Status.StartTime != nil {
			end := finishTime(j)
			reactiveJobRunDuration.WithLabelValues(namespace, name, result).Observe(end.Sub(j.Status.StartTime.Time).Seconds())
		}
		next[j.UID] = true
	}
	m.counted[key] = next
	reactiveJobActiveRuns.WithLabelValues(namespace, name).Set(float64(active))
}

// forget removes the series of a deleted ReactiveJob.
func (m *reactiveJobMetrics) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.counted, key)
	labels := prometheus.Labels{labelNamespace: key.Namespace, labelName: key.Name}
	reactiveJobRuns.DeletePartialMatch(labels)
	reactiveJobRunDuration.DeletePartialMatch(labels)
	reactiveJobActiveRuns.DeletePartialMatch(labels)
}
