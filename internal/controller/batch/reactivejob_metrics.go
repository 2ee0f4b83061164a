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

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/jobkeeper/jobkeeper/internal/kindmetrics"
)

// reactiveJobKind are the run metrics of the kind (RJ-28).
var reactiveJobKind = kindmetrics.New("reactivejob")

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
		result := kindmetrics.ResultSucceeded
		if c.Type == batchv1.JobFailed {
			result = kindmetrics.ResultFailed
		}
		seconds := -1.0
		if j.Status.StartTime != nil {
			end := finishTime(j)
			seconds = end.Sub(j.Status.StartTime.Time).Seconds()
		}
		reactiveJobKind.Finished(namespace, name, result, seconds)
		next[j.UID] = true
	}
	m.counted[key] = next
	reactiveJobKind.Active.WithLabelValues(namespace, name).Set(float64(active))
}

// forget removes the series of a deleted ReactiveJob.
func (m *reactiveJobMetrics) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.counted, key)
	reactiveJobKind.Forget(key.Namespace, key.Name)
}
