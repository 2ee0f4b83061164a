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
	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
	"github.com/jobkeeper/jobkeeper/internal/reports"
)

// NodeHash is the hash of a node name that names its pod (names.NodeHash).
func NodeHash(node string) string {
	return names.NodeHash(node)
}

// PodName is the name of the pod of a run on a node (names.NodeJobPodName).
func PodName(run, node string) string {
	return names.NodeJobPodName(run, node)
}

// Limits are the effective resultLimits of a run, defaults applied.
type Limits = reports.Limits

// LimitsOf returns the result limits of a run, with the defaults of the CRD
// for unset fields and the schema maxima enforced.
func LimitsOf(run *batchv1alpha1.NodeJobRun) Limits {
	return reports.LimitsOf(run)
}
