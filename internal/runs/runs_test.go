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

package runs

import (
	"context"
	"errors"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestExpectationsStaleCopyWaitsForOwnWrite(t *testing.T) {
	e := NewExpectations()
	uid := types.UID("u1")
	if !e.Fresh(uid, 0) {
		t.Fatal("nothing expected: any copy is fresh")
	}
	e.Expect(uid, 3)
	e.Expect(uid, 2) // an older write never lowers what is expected
	for _, tc := range []struct {
		progress int64
		fresh    bool
	}{{0, false}, {2, false}, {3, true}, {3, true}, {1, true}} {
		if got := e.Fresh(uid, tc.progress); got != tc.fresh {
			t.Errorf("Fresh(%d) = %v, want %v", tc.progress, got, tc.fresh)
		}
	}
	if e.Pending(uid) {
		t.Error("a seen expectation stays pending")
	}
	e.Expect(uid, 5)
	e.Forget(uid)
	if e.Pending(uid) || !e.Fresh(uid, 0) {
		t.Error("a forgotten object keeps its expectation")
	}
}

func TestPendingPredicatePassesOnlyAwaitedUpdates(t *testing.T) {
	e := NewExpectations()
	p := e.PendingPredicate()
	awaited := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{UID: "a"}}
	other := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{UID: "b"}}
	e.Expect("a", 1)
	if !p.Update(event.UpdateEvent{ObjectOld: awaited, ObjectNew: awaited}) {
		t.Error("the update of an awaited object is dropped")
	}
	if p.Update(event.UpdateEvent{ObjectOld: other, ObjectNew: other}) {
		t.Error("the update of an object without expectations passes")
	}
	if p.Create(event.CreateEvent{Object: awaited}) || p.Delete(event.DeleteEvent{Object: awaited}) {
		t.Error("create and delete events pass")
	}
}

func TestNewRequestReusedTokenIsANewRequest(t *testing.T) {
	for _, tc := range []struct {
		token, last string
		want        bool
	}{{"", "", false}, {"a", "", true}, {"a", "a", false}, {"b", "a", true}, {"a", "b", true}} {
		if got := NewRequest(tc.token, tc.last); got != tc.want {
			t.Errorf("NewRequest(%q, %q) = %v, want %v", tc.token, tc.last, got, tc.want)
		}
	}
}

func job(name, run string) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"run": run}}}
}

func ours(run string) func(client.Object) bool {
	return func(o client.Object) bool { return o.GetLabels()["run"] == run }
}

func TestCreateOrAdopt(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	dying := job("dying", "1")
	dying.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	dying.Finalizers = []string{"x"}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(job("mine", "1"), job("foreign", "9"), dying).Build()
	ctx := context.Background()

	created, err := CreateOrAdopt(ctx, c, c, job("new", "1"), ours("1"))
	if err != nil || !created {
		t.Fatalf("new: created=%v err=%v", created, err)
	}

	adopted := job("mine", "1")
	created, err = CreateOrAdopt(ctx, c, c, adopted, ours("1"))
	if err != nil || created || adopted.ResourceVersion == "" {
		t.Fatalf("mine: created=%v err=%v rv=%q, want the existing object read back", created, err, adopted.ResourceVersion)
	}

	for _, name := range []string{"foreign", "dying"} {
		if _, err := CreateOrAdopt(ctx, c, c, job(name, "1"), ours("1")); !errors.Is(err, ErrNotOurs) {
			t.Errorf("%s: err = %v, want ErrNotOurs", name, err)
		}
	}
}
