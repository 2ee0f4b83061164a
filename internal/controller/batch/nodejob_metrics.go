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
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/kindmetrics"
)

// nodeJobKind are the run metrics of the kind (NJ-36).
var nodeJobKind = kindmetrics.New("nodejob")

// nodeJobCallbacksRejected counts the reports of NodeJob pods that the results API rejected (NJ-36).
var nodeJobCallbacksRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "jobkeeper_nodejob_callbacks_rejected_total",
	Help: "Reports of NodeJob pods rejected by the results API, by status code; namespace and name are empty " +
		"when the caller could not be tied to a NodeJob.",
}, []string{kindmetrics.LabelNamespace, kindmetrics.LabelName, "code"})

func init() {
	metrics.Registry.MustRegister(nodeJobCallbacksRejected)
}

// CountRejectedCallback counts a rejected report; it is the results API's rejection hook for NodeJob routes.
func CountRejectedCallback(namespace, nodeJob string, code int) {
	nodeJobCallbacksRejected.WithLabelValues(namespace, nodeJob, strconv.Itoa(code)).Inc()
}

// nodeJobRuns converts runs for the kind's tracker.
func nodeJobRuns(runs []*batchv1alpha1.NodeJobRun) []kindmetrics.Run {
	out := make([]kindmetrics.Run, 0, len(runs))
	for _, run := range runs {
		r := kindmetrics.Run{UID: run.UID}
		if runFinished(run.Status.Phase) {
			r.Result = kindmetrics.ResultSucceeded
			if run.Status.Phase == batchv1alpha1.NodeJobRunPhaseFailed {
				r.Result = kindmetrics.ResultFailed
			}
			if t := run.Status.CompletionTime; t != nil {
				r.End = t.Time
			}
			if t := run.Status.StartTime; t != nil {
				r.Start = t.Time
			}
		}
		out = append(out, r)
	}
	return out
}
