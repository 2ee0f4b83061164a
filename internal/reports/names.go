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

package reports

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// MaxFileNameBytes is the longest stored file name.
const MaxFileNameBytes = 200

// SanitizeFileName turns a client-supplied file name into a stored name
// (NJ-29): backslashes become slashes, only the last path element is kept,
// and every character outside [A-Za-z0-9._-] becomes "_". A name that ends up
// empty, "." or "..", or longer than MaxFileNameBytes, is ErrInvalid.
func SanitizeFileName(name string) (string, error) {
	name = strings.ReplaceAll(name, `\`, "/")
	name = strings.TrimRight(name, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || out == "." || out == ".." || len(out) > MaxFileNameBytes {
		return "", newError(ErrInvalid, nil, "invalid file name %q", truncate(name))
	}
	return out, nil
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
