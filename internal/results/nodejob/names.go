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
	"fmt"
	"hash/fnv"

	"k8s.io/apimachinery/pkg/api/resource"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// NodeHash is the FNV-32a hash of a node name as 8 lower-case hex digits; it
// names the node's pod and is the value of the node-hash label.
func NodeHash(node string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(node))
	return fmt.Sprintf("%08x", h.Sum32())
}

// PodName is the name of the pod of a run on a node: <run>-<node hash>.
func PodName(run, node string) string {
	return run + "-" + NodeHash(node)
}

// Limits are the effective resultLimits of a run, defaults applied.
type Limits struct {
	MaxResultSize    int64
	MaxFileSize      int64
	MaxFilesPerNode  int
	MaxRunStorage    int64
	MaxEventsPerNode int
	MaxSeriesPerNode int
	MaxLogSize       int64
}

// LimitsOf returns the result limits of a run, with the defaults of the CRD
// for unset fields and the schema maxima enforced.
func LimitsOf(run *batchv1alpha1.NodeJobRun) Limits {
	l := run.Spec.ResultLimits
	return Limits{
		MaxResultSize: min(quantity(l.MaxResultSize, batchv1alpha1.DefaultNodeJobMaxResultSize),
			parse(batchv1alpha1.NodeJobMaxResultSizeLimit)),
		MaxFileSize: min(quantity(l.MaxFileSize, batchv1alpha1.DefaultNodeJobMaxFileSize),
			parse(batchv1alpha1.NodeJobMaxFileSizeLimit)),
		MaxFilesPerNode: count(l.MaxFilesPerNode, batchv1alpha1.DefaultNodeJobMaxFilesPerNode,
			batchv1alpha1.NodeJobMaxFilesPerNodeLimit),
		MaxRunStorage: quantity(l.MaxRunStorage, batchv1alpha1.DefaultNodeJobMaxRunStorage),
		MaxEventsPerNode: count(l.MaxEventsPerNode, batchv1alpha1.DefaultNodeJobMaxEventsPerNode,
			batchv1alpha1.NodeJobMaxEventsPerNodeLimit),
		MaxSeriesPerNode: count(l.MaxSeriesPerNode, batchv1alpha1.DefaultNodeJobMaxSeriesPerNode,
			batchv1alpha1.NodeJobMaxSeriesPerNodeLimit),
		MaxLogSize: quantity(l.MaxLogSize, batchv1alpha1.DefaultNodeJobMaxLogSize),
	}
}

func quantity(q *resource.Quantity, def string) int64 {
	if q == nil || q.Sign() <= 0 {
		return parse(def)
	}
	return q.Value()
}

func count(v *int32, def, maximum int32) int {
	if v == nil || *v < 1 {
		return int(def)
	}
	return int(min(*v, maximum))
}

// parse returns the value of a quantity constant.
func parse(s string) int64 {
	q := resource.MustParse(s)
	return q.Value()
}
