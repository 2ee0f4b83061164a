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
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/kindmetrics"
)

// quarksJobMetrics are the run metrics of the kind (QJ-31).
var quarksJobMetrics = kindmetrics.New("quarksjob")

// observeRun counts a finished run.
func observeRun(qj *quarksv1alpha1.QuarksJob, run *quarksv1alpha1.RunStatus, result string) {
	seconds := -1.0
	if run.StartTime != nil && run.CompletionTime != nil {
		seconds = run.CompletionTime.Sub(run.StartTime.Time).Seconds()
	}
	quarksJobMetrics.Finished(qj.Namespace, qj.Name, result, seconds)
	quarksJobMetrics.Active.WithLabelValues(qj.Namespace, qj.Name).Set(0)
}

// forgetMetrics removes the series of a deleted QuarksJob.
func forgetMetrics(namespace, name string) {
	quarksJobMetrics.Forget(namespace, name)
}
