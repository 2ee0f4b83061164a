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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

// The stored result is the node's receipt: one write, and the record says resultReceived with the result's
// time, also after a restart, without node.json holding it; the record's own fields are kept apart.
func TestResultIsTheReceipt(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpdateNode(testLoc, "a", func(r *NodeRecord) error {
		r.Phase, r.PodName, r.PodUID = batchv1alpha1.NodeJobRunNodePhaseRunning, "pod-a", "uid-a"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	recordFile := filepath.Join(s.Dir(), "ns/nj/nj-1/nodes/a", NodeRecordFileName)
	before, err := os.ReadFile(recordFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutResult(testLoc, "a", []byte(`{"a":[]}`), 100); err != nil {
		t.Fatal(err)
	}
	at := modTime(t, s, "a")
	// A node without a record that stored a result (written by other means) has one with the result.
	if err := s.PutResult(testLoc, "b", []byte(`{"b":[]}`), 100); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(recordFile); string(after) != string(before) {
		t.Fatalf("node.json was written by the result: %s", after)
	}
	check := func(s *FileStore, what string) {
		t.Helper()
		rec, ok, err := s.Node(testLoc, "a")
		if err != nil || !ok || !rec.ResultReceived || rec.ResultTime == nil || !rec.ResultTime.Time.Equal(at) ||
			rec.PodUID != "uid-a" || rec.Phase != batchv1alpha1.NodeJobRunNodePhaseRunning {
			t.Fatalf("%s: record = %+v, %v, %v", what, rec, ok, err)
		}
		recs, err := s.Nodes(testLoc)
		if err != nil || len(recs) != 2 || !recs["a"].ResultReceived || !recs["b"].ResultReceived || recs["b"].Name != "b" {
			t.Fatalf("%s: records = %+v, %v", what, recs, err)
		}
	}
	check(s, "after the result")

	// The run controller's writes neither drop nor write the result fields.
	rec, err := s.UpdateNode(testLoc, "a", func(r *NodeRecord) error {
		if !r.ResultReceived {
			t.Error("UpdateNode's change does not see the result")
		}
		r.Phase = batchv1alpha1.NodeJobRunNodePhaseSucceeded
		r.ResultReceived, r.ResultTime = false, nil
		return nil
	})
	if err != nil || !rec.ResultReceived || !rec.ResultTime.Time.Equal(at) {
		t.Fatalf("UpdateNode = %+v, %v", rec, err)
	}
	if data, _ := os.ReadFile(recordFile); strings.Contains(string(data), "result") {
		t.Fatalf("node.json holds result fields: %s", data)
	}
	if _, err := s.UpdateNode(testLoc, "a", func(r *NodeRecord) error {
		r.Phase = batchv1alpha1.NodeJobRunNodePhaseRunning
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check(s, "after UpdateNode")

	// A restart reads the same from disk.
	s2, err := NewFileStore(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s2.Close() }()
	check(s2, "after reopening")

	// A later result moves the time; one refused for the run's storage changes nothing.
	time.Sleep(20 * time.Millisecond)
	if err := s2.PutResult(testLoc, "a", []byte(`{"c":[]}`), 100); err != nil {
		t.Fatal(err)
	}
	later := modTime(t, s2, "a")
	if !later.After(at) {
		t.Fatalf("the later result's time %v is not after %v", later, at)
	}
	time.Sleep(20 * time.Millisecond)
	err = s2.PutResult(testLoc, "a", []byte(strings.Repeat("x", 101)), 100)
	wantError(t, err, ErrTooLarge, "maxRunStorage")
	if rec, _, _ := s2.Node(testLoc, "a"); !rec.ResultTime.Time.Equal(later) {
		t.Fatalf("result time %v, want %v", rec.ResultTime, later)
	}
}

// The read route serves a node's record as Node reads it, with the result fields, and lists it with that size.
func TestOpenServesTheRecordWithTheResult(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpdateNode(testLoc, "a", func(r *NodeRecord) error {
		r.Phase = batchv1alpha1.NodeJobRunNodePhaseRunning
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutResult(testLoc, "a", []byte(`{"a":[]}`), 100); err != nil {
		t.Fatal(err)
	}
	at := modTime(t, s, "a")
	o, err := s.Open(testLoc, "nodes/a/node.json")
	if err != nil {
		t.Fatal(err)
	}
	if o.IsDir() || o.File != nil || o.Name != NodeRecordFileName {
		t.Fatalf("opened %+v", o)
	}
	var rec NodeRecord
	// The JSON of a time has whole seconds.
	if err := json.Unmarshal(o.Record, &rec); err != nil || !rec.ResultReceived ||
		!rec.ResultTime.Time.Equal(at.Truncate(time.Second)) ||
		rec.Phase != batchv1alpha1.NodeJobRunNodePhaseRunning {
		t.Fatalf("served record %s: %v", o.Record, err)
	}
	if o.Info.Size() != int64(len(o.Record)) || o.Info.ModTime().Before(at) {
		t.Fatalf("info: size %d, time %v", o.Info.Size(), o.Info.ModTime())
	}
	dir, err := s.Open(testLoc, "nodes/a")
	if err != nil || !dir.IsDir() {
		t.Fatalf("listing %+v, %v", dir, err)
	}
	var sizes []string
	for _, e := range dir.Entries {
		sizes = append(sizes, e.Name+"="+strconv.FormatInt(e.Size, 10))
	}
	want := []string{"node.json=" + strconv.Itoa(len(o.Record)), "result.json=8"}
	if !slices.Equal(sizes, want) {
		t.Fatalf("listing %v, want %v", sizes, want)
	}
	// Other files are served as they are.
	res, err := s.Open(testLoc, "nodes/a/result.json")
	if err != nil || res.File == nil {
		t.Fatalf("result.json: %+v, %v", res, err)
	}
	_ = res.File.Close()
}

// modTime is the modification time of the result.json of node in testLoc.
func modTime(t *testing.T, s *FileStore, node string) time.Time {
	t.Helper()
	info, err := os.Stat(filepath.Join(s.Dir(), "ns/nj/nj-1/nodes", node, ResultFileName))
	if err != nil {
		t.Fatal(err)
	}
	return info.ModTime()
}
