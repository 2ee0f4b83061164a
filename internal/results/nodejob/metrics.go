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

package nodejob

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// resultItemsIgnored counts the items of accepted results that were ignored (NJ-X16).
var resultItemsIgnored = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "jobkeeper_nodejob_result_items_ignored_total",
	Help: "Items of accepted NodeJob results that were ignored, by reason: undeclared_suffix, undeclared_label.",
}, []string{"namespace", "name", "reason"})

func init() {
	metrics.Registry.MustRegister(resultItemsIgnored)
}

// countIgnored counts the ignored items of an accepted result of a NodeJob.
func countIgnored(namespace, nodeJob string, res *Result) {
	for reason, n := range res.Ignored {
		resultItemsIgnored.WithLabelValues(namespace, nodeJob, reason).Add(float64(n))
	}
}
