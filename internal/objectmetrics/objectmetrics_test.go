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

package objectmetrics

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

func cond(t string, s metav1.ConditionStatus) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: "Test", LastTransitionTime: metav1.Now()}
}

func meta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}

// objects are one object of each kind in each interesting state.
func objects() []client.Object {
	return []client.Object{
		// Ready and working on a new generation.
		&quarksv1alpha1.QuarksJob{ObjectMeta: meta("a", "errand"), Status: quarksv1alpha1.QuarksJobStatus{
			Conditions: []metav1.Condition{cond("Ready", metav1.ConditionTrue), cond("Reconciling", metav1.ConditionTrue)},
		}},
		// Stuck: Ready false and Stalled true; a kind's own condition is not exported.
		&batchv1alpha1.ReactiveJob{ObjectMeta: meta("b", "migrate"), Status: batchv1alpha1.ReactiveJobStatus{
			Conditions: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse), cond("Stalled", metav1.ConditionTrue),
				cond("JobFailed", metav1.ConditionTrue),
			},
		}},
		// Not reconciled yet: no conditions, no series.
		&batchv1alpha1.ReactiveJob{ObjectMeta: meta("b", "new")},
		// Unknown status.
		&batchv1alpha1.NodeJob{ObjectMeta: meta("c", "disk-check"), Status: batchv1alpha1.NodeJobStatus{
			Conditions: []metav1.Condition{cond("Ready", metav1.ConditionUnknown)},
		}},
	}
}

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := quarksv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := batchv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

const header = `# HELP jobkeeper_object_condition The conditions Ready, Stalled and Reconciling of every QuarksJob, ReactiveJob and NodeJob: 1 for the status (true, false, unknown) the condition has; no series when the object lacks the condition.
# TYPE jobkeeper_object_condition gauge
`

func TestCollectorExportsTheConditionsOfEveryKind(t *testing.T) {
	r := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objects()...).Build()
	want := header + `
jobkeeper_object_condition{condition="Ready",kind="NodeJob",name="disk-check",namespace="c",status="unknown"} 1
jobkeeper_object_condition{condition="Ready",kind="QuarksJob",name="errand",namespace="a",status="true"} 1
jobkeeper_object_condition{condition="Reconciling",kind="QuarksJob",name="errand",namespace="a",status="true"} 1
jobkeeper_object_condition{condition="Ready",kind="ReactiveJob",name="migrate",namespace="b",status="false"} 1
jobkeeper_object_condition{condition="Stalled",kind="ReactiveJob",name="migrate",namespace="b",status="true"} 1
`
	if err := testutil.CollectAndCompare(New(r, nil), strings.NewReader(want), MetricName); err != nil {
		t.Error(err)
	}
}

func TestCollectorFollowsTheObjects(t *testing.T) {
	ctx := context.Background()
	r := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objects()...).Build()
	c := New(r, nil)

	// The stalled ReactiveJob is fixed: Stalled goes away, Ready turns true.
	rj := &batchv1alpha1.ReactiveJob{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: "b", Name: "migrate"}, rj); err != nil {
		t.Fatal(err)
	}
	rj.Status.Conditions = []metav1.Condition{cond("Ready", metav1.ConditionTrue)}
	if err := r.Update(ctx, rj); err != nil {
		t.Fatal(err)
	}
	// The NodeJob is deleted: its series goes with it.
	if err := r.Delete(ctx, &batchv1alpha1.NodeJob{ObjectMeta: meta("c", "disk-check")}); err != nil {
		t.Fatal(err)
	}

	want := header + `
jobkeeper_object_condition{condition="Ready",kind="QuarksJob",name="errand",namespace="a",status="true"} 1
jobkeeper_object_condition{condition="Reconciling",kind="QuarksJob",name="errand",namespace="a",status="true"} 1
jobkeeper_object_condition{condition="Ready",kind="ReactiveJob",name="migrate",namespace="b",status="true"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), MetricName); err != nil {
		t.Error(err)
	}
}

func TestCollectorReportsOnlyOnceElected(t *testing.T) {
	r := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objects()...).Build()
	elected := make(chan struct{})
	c := New(r, elected)
	if n := testutil.CollectAndCount(c, MetricName); n != 0 {
		t.Errorf("before the election: %d series, want none", n)
	}
	close(elected)
	if n := testutil.CollectAndCount(c, MetricName); n != 5 {
		t.Errorf("after the election: %d series, want 5", n)
	}
}

func TestCollectorSkipsAKindThatCannotBeListed(t *testing.T) {
	r := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objects()...).
		WithInterceptorFuncs(interceptor.Funcs{
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				if _, ok := list.(*batchv1alpha1.ReactiveJobList); ok {
					return errors.New("cache not synced")
				}
				return c.List(ctx, list, opts...)
			},
		}).Build()
	want := header + `
jobkeeper_object_condition{condition="Ready",kind="NodeJob",name="disk-check",namespace="c",status="unknown"} 1
jobkeeper_object_condition{condition="Ready",kind="QuarksJob",name="errand",namespace="a",status="true"} 1
jobkeeper_object_condition{condition="Reconciling",kind="QuarksJob",name="errand",namespace="a",status="true"} 1
`
	if err := testutil.CollectAndCompare(New(r, nil), strings.NewReader(want), MetricName); err != nil {
		t.Error(err)
	}
}

func TestCollectorPassesTheLinter(t *testing.T) {
	r := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objects()...).Build()
	problems, err := testutil.CollectAndLint(New(r, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
