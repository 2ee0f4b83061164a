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
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// NodeJobMetricFamilyIndex is the index of NodeJobs, in the informer of the manager's cache, by the metric families
// they declare: for every <prefix>_<suffix> of their gauges and of the operator's own suffixes, the family's name,
// and its name with its declaration (metricFamily.key). Who declares a family, and who declares it the same way, are two
// lookups that copy nothing, however many NodeJobs share the family.
const NodeJobMetricFamilyIndex = "jobkeeper.spec.metrics.families"

// FamilyIndex finds the NodeJobs of an index value: the informer's indexer, whose objects are read, never changed.
type FamilyIndex interface {
	ByIndex(indexName, indexedValue string) ([]any, error)
}

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

// key is the index value of a family with its declaration.
func (f *metricFamily) key() string {
	if f.reserved != "" {
		return f.name + "\x00\x01" + f.reserved
	}
	return f.name + "\x00" + f.help + "\x00" + strings.Join(f.labels, ",")
}

// NodeJobMetricFamilyValues is the index function of NodeJobMetricFamilyIndex.
func NodeJobMetricFamilyValues(obj any) ([]string, error) {
	nj, ok := obj.(*batchv1alpha1.NodeJob)
	if !ok {
		return nil, nil
	}
	fams := metricFamilies(&nj.Spec)
	values := make([]string, 0, 2*len(fams))
	for n, f := range fams {
		values = append(values, n, f.key())
	}
	slices.Sort(values)
	return values, nil
}

// metricConflicts returns an error for every family of nj that another NodeJob declares with other labels or help
// (NJ-X12). On update (old is set) only the families that the update adds or changes are checked, so that a
// NodeJob whose families were admitted can still be changed elsewhere. Without an index nothing is checked.
func metricConflicts(index FamilyIndex, old, nj *batchv1alpha1.NodeJob) (field.ErrorList, error) {
	if index == nil {
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
		f := fams[n]
		all, err := index.ByIndex(NodeJobMetricFamilyIndex, n)
		if err != nil {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("looking up NodeJobs that declare metric %s: %v", n, err))
		}
		same, err := index.ByIndex(NodeJobMetricFamilyIndex, f.key())
		if err != nil {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("looking up NodeJobs that declare metric %s: %v", n, err))
		}
		if others(all, nj) == others(same, nj) {
			continue // every other NodeJob that declares the family declares it the same way
		}
		if o := firstConflict(all, nj, f); o != nil {
			errs = append(errs, field.Invalid(f.path, describeFamily(f),
				fmt.Sprintf("metric %s is already declared with other labels or help by NodeJob %s/%s (%s)",
					n, o.nj.Namespace, o.nj.Name, describeFamily(o.family))))
		}
	}
	return errs, nil
}

// others counts the NodeJobs of objs other than nj.
func others(objs []any, nj *batchv1alpha1.NodeJob) int {
	n := 0
	for _, o := range objs {
		if other, ok := o.(*batchv1alpha1.NodeJob); ok && (other.Namespace != nj.Namespace || other.Name != nj.Name) {
			n++
		}
	}
	return n
}

// declaration is a family as another NodeJob declares it.
type declaration struct {
	nj     *batchv1alpha1.NodeJob
	family *metricFamily
}

// firstConflict returns, in namespace/name order, the first NodeJob of objs other than nj that declares f's family
// differently.
func firstConflict(objs []any, nj *batchv1alpha1.NodeJob, f *metricFamily) *declaration {
	var first *declaration
	for _, o := range objs {
		other, ok := o.(*batchv1alpha1.NodeJob)
		if !ok || (other.Namespace == nj.Namespace && other.Name == nj.Name) {
			continue
		}
		if first != nil && strings.Compare(other.Namespace+"/"+other.Name, first.nj.Namespace+"/"+first.nj.Name) > 0 {
			continue
		}
		if d := metricFamilies(&other.Spec)[f.name]; d != nil && !f.same(d) {
			first = &declaration{nj: other, family: d}
		}
	}
	return first
}

// describeFamily renders a declaration for messages.
func describeFamily(f *metricFamily) string {
	if f.reserved != "" {
		return fmt.Sprintf("%s: the operator's %s gauge", f.name, f.reserved)
	}
	return fmt.Sprintf("%s{%s}: %q", f.name, strings.Join(f.labels, ","), f.help)
}
