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

package v1alpha1

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// NodeJobMetricFamilyIndex is the field index of NodeJobs by the names of the metric families they declare: every
// <prefix>_<suffix> of their gauges and of the operator's own suffixes.
const NodeJobMetricFamilyIndex = "jobkeeper.spec.metrics.families"

// The conflict check lists NodeJobs from the manager's cache.
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobs,verbs=get;list;watch

// metricFamily is how a NodeJob declares one family, normalised as the metrics registry compares declarations:
// the declared labels sorted and without duplicates, followed by the implicit labels that were not declared.
type metricFamily struct {
	name   string
	help   string
	labels []string
	// reserved is the operator's own suffix, or "" for a declared gauge.
	reserved string
	// path is the field that declares the family.
	path *field.Path
}

// same reports whether two declarations agree. The operator's own families agree with each other when they have
// the same suffix; a gauge never agrees with one of them.
func (f *metricFamily) same(o *metricFamily) bool {
	if f.reserved != "" || o.reserved != "" {
		return f.reserved == o.reserved
	}
	return f.help == o.help && slices.Equal(f.labels, o.labels)
}

// Implicit labels of NodeJob series, in the order they follow the declared labels.
var (
	nodeSeriesLabels = []string{
		batchv1alpha1.NodeJobMetricLabelNode, batchv1alpha1.NodeJobMetricLabelExecutionID,
		batchv1alpha1.NodeJobMetricLabelNamespace, batchv1alpha1.NodeJobMetricLabelNodeJob,
	}
	jobSeriesLabels = []string{batchv1alpha1.NodeJobMetricLabelNamespace, batchv1alpha1.NodeJobMetricLabelNodeJob}
)

// metricFamilies returns the families a NodeJob spec declares, by name.
func metricFamilies(spec *batchv1alpha1.NodeJobSpec) map[string]*metricFamily {
	metrics := field.NewPath("spec", "metrics")
	prefix := cmp.Or(spec.Metrics.Prefix, batchv1alpha1.DefaultNodeJobMetricsPrefix)
	out := make(map[string]*metricFamily, len(spec.Metrics.Gauges)+len(batchv1alpha1.NodeJobReservedGaugeSuffixes))
	for _, s := range batchv1alpha1.NodeJobReservedGaugeSuffixes {
		implicit := nodeSeriesLabels
		if s == batchv1alpha1.NodeJobMetricSuffixPods || s == batchv1alpha1.NodeJobMetricSuffixCurrentExecutionID {
			implicit = jobSeriesLabels
		}
		out[prefix+"_"+s] = &metricFamily{name: prefix + "_" + s, labels: implicit, reserved: s, path: metrics.Child("prefix")}
	}
	for suffix, g := range spec.Metrics.Gauges {
		labels := slices.Clone(g.Labels)
		slices.Sort(labels)
		labels = slices.Compact(labels)
		for _, l := range nodeSeriesLabels {
			if !slices.Contains(labels, l) {
				labels = append(labels, l)
			}
		}
		name := prefix + "_" + suffix
		// A gauge that takes the name of a reserved family of the same prefix is rejected elsewhere (NJ-X10).
		out[name] = &metricFamily{name: name, help: g.Help, labels: labels, path: metrics.Child("gauges").Key(suffix)}
	}
	return out
}

// NodeJobMetricFamilyNames is the extractor of NodeJobMetricFamilyIndex.
func NodeJobMetricFamilyNames(obj client.Object) []string {
	nj, ok := obj.(*batchv1alpha1.NodeJob)
	if !ok {
		return nil
	}
	fams := metricFamilies(&nj.Spec)
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// metricConflicts returns an error for every family of nj that another NodeJob declares with other labels or help
// (NJ-X12). On update (old is set) only the families that the update adds or changes are checked, so that a
// NodeJob whose families were admitted can still be changed elsewhere. The other NodeJobs are listed from reader
// by NodeJobMetricFamilyIndex; without a reader nothing is checked.
func metricConflicts(ctx context.Context, reader client.Reader, old, nj *batchv1alpha1.NodeJob) (field.ErrorList, error) {
	if reader == nil {
		return nil, nil
	}
	var before map[string]*metricFamily
	if old != nil {
		before = metricFamilies(&old.Spec)
	}
	fams := metricFamilies(&nj.Spec)
	names := make([]string, 0, len(fams))
	for n, f := range fams {
		if b := before[n]; b == nil || !b.same(f) {
			names = append(names, n)
		}
	}
	slices.Sort(names)

	var errs field.ErrorList
	for _, n := range names {
		var list batchv1alpha1.NodeJobList
		if err := reader.List(ctx, &list, client.MatchingFields{NodeJobMetricFamilyIndex: n}); err != nil {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("listing NodeJobs that declare metric %s: %v", n, err))
		}
		slices.SortFunc(list.Items, func(a, b batchv1alpha1.NodeJob) int {
			return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
		})
		f := fams[n]
		for i := range list.Items {
			other := &list.Items[i]
			if other.Namespace == nj.Namespace && other.Name == nj.Name {
				continue
			}
			if o := metricFamilies(&other.Spec)[n]; o != nil && !f.same(o) {
				errs = append(errs, field.Invalid(f.path, describeFamily(f),
					fmt.Sprintf("metric %s is already declared with other labels or help by NodeJob %s/%s (%s)",
						n, other.Namespace, other.Name, describeFamily(o))))
				break
			}
		}
	}
	return errs, nil
}

// describeFamily renders a declaration for messages.
func describeFamily(f *metricFamily) string {
	if f.reserved != "" {
		return fmt.Sprintf("%s: the operator's %s gauge", f.name, f.reserved)
	}
	return fmt.Sprintf("%s{%s}: %q", f.name, strings.Join(f.labels, ","), f.help)
}
