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

package plugin

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

func TestWatchPrinterTable(t *testing.T) {
	objs, err := listObjects(context.Background(), listFixture(t), listKinds, "", labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p := &watchPrinter{withNamespace: true, now: func() time.Time { return listNow }, rows: rowPrinter{w: &out}}
	if err := p.start(objs); err != nil {
		t.Fatal(err)
	}
	changed := listed(kindReactiveJob, &batchv1alpha1.ReactiveJob{ObjectMeta: listMeta("a", "migrate", 1, nil),
		Status: batchv1alpha1.ReactiveJobStatus{Conditions: ready(metav1.ConditionTrue, "Ready", 1)}})
	if err := p.object(changed); err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE   NAME                                       READY     REASON             AGE
a           quarksjob.quarks.cloudfoundry.org/errand   True      Idle               60m
a           reactivejob.batch.cs.sap.com/migrate       Unknown   Processing         60m
b           reactivejob.batch.cs.sap.com/migrate       False     Error (outdated)   60m
a           nodejob.batch.cs.sap.com/disk-check        -         -                  60m
a           reactivejob.batch.cs.sap.com/migrate       True      Ready              60m
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("watch table (-want +got):\n%s", diff)
	}

	out.Reset()
	p = &watchPrinter{output: outputName, now: func() time.Time { return listNow }, rows: rowPrinter{w: &out}}
	if err := p.object(changed); err != nil || out.String() != "reactivejob.batch.cs.sap.com/migrate\n" {
		t.Errorf("-o name printed %q (%v)", out.String(), err)
	}
}

func TestWatchObjects(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(NewScheme()).Build()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan listedObject, 100)
	done := make(chan error, 1)
	go func() {
		done <- watchObjects(ctx, c, listKinds, "a", labels.Everything(), map[string]string{},
			func(l listedObject) error { got <- l; return nil })
	}()

	// The watches start in the background; change the object until a change arrives.
	rj := &batchv1alpha1.ReactiveJob{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "migrate"}}
	rj.Spec.JobTemplate.Spec.Template.Spec = podSpec()
	if err := c.Create(ctx, rj); err != nil {
		t.Fatal(err)
	}
	other := &batchv1alpha1.ReactiveJob{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "elsewhere"}}
	other.Spec.JobTemplate.Spec.Template.Spec = podSpec()
	if err := c.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		select {
		case l := <-got:
			if l.obj.GetNamespace() != "a" || l.kind.gvk != kindReactiveJob.gvk || l.obj.GetName() != "migrate" {
				t.Fatalf("watched %s in %s, want only reactivejob migrate of namespace a",
					l.kind.ref(l.obj.GetName()), l.obj.GetNamespace())
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("watchObjects: %v", err)
			}
			return
		case <-deadline:
			t.Fatal("no change was watched")
		case <-time.After(100 * time.Millisecond):
			rj.Labels = map[string]string{"touch": strings.Repeat("x", i%5+1)}
			if err := c.Update(ctx, rj); err != nil {
				t.Fatal(err)
			}
		}
	}
}
