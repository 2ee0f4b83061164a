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
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/jobkeeper/jobkeeper/internal/kindmetrics"
)

// reactiveJobKind are the run metrics of the kind (RJ-28).
var reactiveJobKind = kindmetrics.New("reactivejob")

// reactiveJobMetrics counts each Job's terminal condition once per process.
type reactiveJobMetrics struct {
	tracker *kindmetrics.Tracker
}

func newReactiveJobMetrics(started time.Time) *reactiveJobMetrics {
	return &reactiveJobMetrics{tracker: reactiveJobKind.NewTracker(started)}
}

// observe records the Jobs of one ReactiveJob.
func (m *reactiveJobMetrics) observe(key types.NamespacedName, jobs []*batchv1.Job) {
	runs := make([]kindmetrics.Run, 0, len(jobs))
	for _, j := range jobs {
		r := kindmetrics.Run{UID: j.UID}
		if c := jobFinished(j); c != nil {
			r.Result, r.End = kindmetrics.ResultSucceeded, finishTime(j).Time
			if c.Type == batchv1.JobFailed {
				r.Result = kindmetrics.ResultFailed
			}
			if j.Status.StartTime != nil {
				r.Start = j.Status.StartTime.Time
			}
		}
		runs = append(runs, r)
	}
	m.tracker.Observe(key, runs)
}

// forget removes the series of a deleted ReactiveJob.
func (m *reactiveJobMetrics) forget(key types.NamespacedName) {
	m.tracker.Forget(key)
}
