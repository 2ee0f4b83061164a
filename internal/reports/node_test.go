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
	"errors"
	"fmt"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

func TestNodeRecordsAreDurableAndConcurrent(t *testing.T) {
	s := newStore(t)
	sel := []SelectedNode{{Name: "a"}, {Name: "b", SkipReason: "NodeNotReady"}}
	if err := s.WriteSelection(testLoc, sel); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateNode(testLoc, "a", func(r *NodeRecord) error {
		r.Phase, r.PodName, r.PodUID = batchv1alpha1.NodeJobRunNodePhaseRunning, "pod-a", "uid-a"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Writers of different fields of one node do not lose each other's updates.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := s.UpdateNode(testLoc, "a", func(r *NodeRecord) error { r.Events++; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// A refusal writes nothing.
	quota := newError(ErrQuota, nil, "no more")
	if _, err := s.UpdateNode(testLoc, "a", func(r *NodeRecord) error { r.Events++; return quota }); !errors.Is(err, ErrQuota) {
		t.Fatalf("error = %v", err)
	}
	if err := s.WriteOutcome(testLoc, RunOutcome{Phase: batchv1alpha1.NodeJobRunPhaseFailed, Reason: "FailFast"}); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteOutcome(testLoc, RunOutcome{Phase: batchv1alpha1.NodeJobRunPhaseFailed, Reason: "Later"}); err != nil {
		t.Fatal(err)
	}

	// A new store (a restart) reads the same from disk.
	s2, err := NewFileStore(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s2.Close() }()
	rec, ok, err := s2.Node(testLoc, "a")
	if err != nil || !ok || rec.Events != 50 || rec.PodUID != types.UID("uid-a") || rec.Phase != batchv1alpha1.NodeJobRunNodePhaseRunning {
		t.Fatalf("record after reopening = %+v, %v, %v", rec, ok, err)
	}
	got, err := s2.Selection(testLoc)
	if err != nil || len(got) != 2 || got[1].SkipReason != "NodeNotReady" {
		t.Fatalf("selection = %+v, %v", got, err)
	}
	if out, err := s2.Outcome(testLoc); err != nil || out == nil || out.Reason != "FailFast" {
		t.Fatalf("outcome = %+v, %v", out, err)
	}
	if _, err := s2.Selection(RunLocation{Namespace: "ns", NodeJob: "nj", Run: "other"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("selection of another run: %v", err)
	}
	// Records are bookkeeping, not the run's storage.
	if u, _ := s2.Usage(testLoc); u != 0 {
		t.Fatalf("usage %d, want 0", u)
	}
}

func TestChangesCoalesceBeforeStart(t *testing.T) {
	c := NewChanges()
	for i := range 3 {
		c.Note("ns", "run-1")
		c.Note("ns", fmt.Sprintf("run-%d", i))
	}
	var got []types.NamespacedName
	c.Start(func(k types.NamespacedName) { got = append(got, k) })
	if len(got) != 3 {
		t.Fatalf("keys before start: %v", got)
	}
	c.Note("ns", "run-9")
	if len(got) != 4 || got[3].Name != "run-9" {
		t.Fatalf("keys after start: %v", got)
	}
	var nilChanges *Changes
	nilChanges.Note("ns", "x") // no receiver: nothing happens
}
