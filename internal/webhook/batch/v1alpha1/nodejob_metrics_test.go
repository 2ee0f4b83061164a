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
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

func TestNodeJobMetricConflicts(t *testing.T) {
	if err := batchv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		t.Fatal(err)
	}
	withGauges := func(ns, name, prefix string, gauges map[string]batchv1alpha1.NodeJobGauge) *batchv1alpha1.NodeJob {
		nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		nj.Spec.Metrics.Prefix, nj.Spec.Metrics.Gauges = prefix, gauges
		return nj
	}
	g := func(help string, labels ...string) map[string]batchv1alpha1.NodeJobGauge {
		return map[string]batchv1alpha1.NodeJobGauge{"load": {Help: help, Labels: labels}}
	}
	index := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc,
		toolscache.Indexers{NodeJobMetricFamilyIndex: NodeJobMetricFamilyValues})
	for _, nj := range []*batchv1alpha1.NodeJob{
		withGauges("ns", "owner", "p", g("Load.", "b", "a")),
		withGauges("ns", "plain", "", nil),
		withGauges("ns", "sub", "p_sub", nil),
		// Many NodeJobs that agree, and one older that does not: the lookup must not stop at the agreeing ones.
		withGauges("ns", "a-odd", "q", g("Odd.")),
	} {
		if err := index.Add(nj); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if err := index.Add(withGauges("many", fmt.Sprintf("n-%02d", i), "q", g("Load."))); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name      string
		old, nj   *batchv1alpha1.NodeJob
		wantField string
		// wantOther is the NodeJob the conflict names, when it matters.
		wantOther string
	}{
		{name: "same declaration, labels in another order", nj: withGauges("o", "x", "p", g("Load.", "a", "b", "node"))},
		{name: "same default prefix, no gauges", nj: withGauges("o", "x", "nodejob", nil)},
		{name: "other help", nj: withGauges("o", "x", "p", g("Other.", "a", "b")), wantField: "spec.metrics.gauges[load]"},
		{name: "other labels", nj: withGauges("o", "x", "p", g("Load.", "a")), wantField: "spec.metrics.gauges[load]"},
		{name: "the NodeJob itself", nj: withGauges("ns", "owner", "p", g("Changed.", "a", "b"))},
		{name: "gauge named like another prefix's own family", nj: withGauges("o", "x", "p",
			map[string]batchv1alpha1.NodeJobGauge{"sub_duration": {Help: "D."}}), wantField: "spec.metrics.gauges[sub_duration]"},
		{name: "prefix whose own family is another NodeJob's gauge", nj: withGauges("o", "x", "p_load", nil) /* no clash: p_load_* */},
		{name: "update that keeps a conflicting family", old: withGauges("o", "x", "p", g("Other.")),
			nj: withGauges("o", "x", "p", g("Other."))},
		{name: "agrees with many, not with one", nj: withGauges("o", "x", "q", g("Load.")),
			wantField: "spec.metrics.gauges[load]", wantOther: "ns/a-odd"},
		{name: "one of the many, changed", old: withGauges("many", "n-07", "q", g("Load.")),
			nj: withGauges("many", "n-07", "q", g("Changed.")), wantField: "spec.metrics.gauges[load]", wantOther: "many/n-00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, err := metricConflicts(index, tt.old, tt.nj)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantField == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected conflicts: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.wantField || !strings.Contains(errs[0].Detail, "already declared") {
				t.Fatalf("conflicts = %v, want one at %s", errs, tt.wantField)
			}
			if tt.wantOther != "" && !strings.Contains(errs[0].Detail, "NodeJob "+tt.wantOther+" ") {
				t.Fatalf("conflict %q does not name %s", errs[0].Detail, tt.wantOther)
			}
		})
	}
	if errs, err := metricConflicts(nil, nil, withGauges("o", "x", "p", g("Other."))); err != nil || errs != nil {
		t.Fatalf("without a reader: %v, %v", errs, err)
	}
}

// An admission before the informer of NodeJobs has synced waits for it, and is refused when the wait ends first: an
// index that holds only part of the cluster would admit a conflicting declaration.
func TestNodeJobValidateWaitsForTheFamilyIndex(t *testing.T) {
	index := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc,
		toolscache.Indexers{NodeJobMetricFamilyIndex: NodeJobMetricFamilyValues})
	nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "nj"}}
	nj.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}

	waited := 0
	v := &NodeJobCustomValidator{Families: index, FamiliesSynced: func(context.Context) bool { waited++; return false }}
	_, err := v.ValidateCreate(context.Background(), nj)
	if !apierrors.IsServiceUnavailable(err) || waited != 1 {
		t.Fatalf("before the sync: %v after %d waits, want ServiceUnavailable after 1", err, waited)
	}
	v.FamiliesSynced = func(context.Context) bool { return true }
	if _, err := v.ValidateCreate(context.Background(), nj); err != nil {
		t.Fatalf("after the sync: %v", err)
	}
}
