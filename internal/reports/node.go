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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// Names of the per-run and per-node records. They are bookkeeping of the
// operator: readable through the read route, not counted in a run's storage.
const (
	// SelectionFileName lists the candidate nodes of a run: <run>/selection.json.
	SelectionFileName = "selection.json"
	// NodeRecordFileName is the record of one node: <run>/nodes/<node>/node.json.
	NodeRecordFileName = "node.json"
	// OutcomeFileName is the decision that ended a run: <run>/outcome.json.
	OutcomeFileName = "outcome.json"
)

// RunOutcome is the decision that ended a run (a deadline, fail fast, a replacement, a refused pod), recorded
// before its nodes are stopped, so that the decision outlives a status write that fails.
type RunOutcome struct {
	// Phase is the terminal phase of the run.
	Phase batchv1alpha1.NodeJobRunPhase `json:"phase"`
	// Reason is a CamelCase reason.
	Reason string `json:"reason,omitempty"`
	// Message explains the reason.
	Message string `json:"message,omitempty"`
}

// SelectedNode is one candidate node of a run, as the run selected it.
type SelectedNode struct {
	// Name is the node's name.
	Name string `json:"name"`
	// SkipReason says why the node gets no pod; "" when it gets one.
	SkipReason string `json:"skipReason,omitempty"`
	// SkipMessage explains SkipReason.
	SkipMessage string `json:"skipMessage,omitempty"`
}

// NodeRecord is the state of one node of a run. The run controller writes
// the phase, the pod and the logs; the results API writes what the node sent.
// Each writes only its own fields, through UpdateNode, to nodes/<node>/node.json;
// ResultReceived and ResultTime are not written there but derived from the
// node's result.json, whose durable write is the receipt (PutResultAt).
type NodeRecord struct {
	// Name is the node's name.
	Name string `json:"name"`
	// Phase is Pending, Running, Succeeded, Failed or Skipped.
	Phase batchv1alpha1.NodeJobRunNodePhase `json:"phase"`
	// Reason is a CamelCase reason for the phase.
	Reason string `json:"reason,omitempty"`
	// Message explains the phase.
	Message string `json:"message,omitempty"`
	// PodName is the name of the pod the operator created for the node.
	PodName string `json:"podName,omitempty"`
	// PodUID is the UID of that pod, recorded right after its creation. Only a pod with this UID is the
	// node's pod: it is adopted and its reports are accepted.
	PodUID types.UID `json:"podUID,omitempty"`
	// StartTime is when the pod was created.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the node's outcome was recorded.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// ResultReceived is true once a result of the node has been stored: nodes/<node>/result.json exists.
	ResultReceived bool `json:"resultReceived,omitempty"`
	// ResultTime is when the last result was stored: the modification time of result.json.
	ResultTime *metav1.Time `json:"resultTime,omitempty"`
	// Files is the number of files the node has stored.
	Files int `json:"files,omitempty"`
	// Events is the number of events the node has sent.
	Events int `json:"events,omitempty"`
	// LogsSaved is true once the logs of the node's pod have been saved.
	LogsSaved bool `json:"logsSaved,omitempty"`
}

// Final reports whether the node reached its final phase.
func (r *NodeRecord) Final() bool {
	switch r.Phase {
	case batchv1alpha1.NodeJobRunNodePhaseSucceeded, batchv1alpha1.NodeJobRunNodePhaseFailed,
		batchv1alpha1.NodeJobRunNodePhaseSkipped:
		return true
	}
	return false
}

// runRecords caches the selection and the node records of a run; the files
// on disk are the truth, the cache spares reading them on every reconcile.
type runRecords struct {
	mu        sync.Mutex
	loaded    bool
	selection []SelectedNode
	hasSel    bool
	// nodes are the records as node.json holds them, without the result fields.
	nodes map[string]NodeRecord
	// results holds the time of each node's stored result (the modification time of its result.json).
	results map[string]time.Time
	locks   map[string]*sync.Mutex
	outcome *RunOutcome
}

// view is the record of a node as readers see it: node.json with the result
// fields of result.json. ok is false when the node has neither. The caller
// holds rr.mu.
func (rr *runRecords) view(node string) (NodeRecord, bool) {
	rec, ok := rr.nodes[node]
	at, received := rr.results[node]
	if !ok {
		rec = NodeRecord{Name: node}
	}
	rec.ResultReceived, rec.ResultTime = received, nil
	if received {
		rec.ResultTime = &metav1.Time{Time: at}
	}
	return rec, ok || received
}

// withoutResult returns rec without the fields derived from result.json.
func withoutResult(rec NodeRecord) NodeRecord {
	rec.ResultReceived, rec.ResultTime = false, nil
	return rec
}

// records returns the loaded records of a run.
func (s *FileStore) records(runRel string) (*runRecords, error) {
	s.mu.Lock()
	rr, ok := s.recs[runRel]
	if !ok {
		rr = &runRecords{}
		s.recs[runRel] = rr
	}
	s.mu.Unlock()

	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.loaded {
		return rr, nil
	}
	rr.nodes, rr.locks, rr.selection, rr.hasSel = map[string]NodeRecord{}, map[string]*sync.Mutex{}, nil, false
	rr.results = map[string]time.Time{}
	data, err := s.root.ReadFile(filepath.Join(runRel, SelectionFileName))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &rr.selection); err != nil {
			return nil, fmt.Errorf("reading the selection of %s: %w", runRel, err)
		}
		rr.hasSel = true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading the selection of %s: %w", runRel, err)
	}
	rr.outcome = nil
	data, err = s.root.ReadFile(filepath.Join(runRel, OutcomeFileName))
	switch {
	case err == nil:
		rr.outcome = &RunOutcome{}
		if err := json.Unmarshal(data, rr.outcome); err != nil {
			return nil, fmt.Errorf("reading the outcome of %s: %w", runRel, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading the outcome of %s: %w", runRel, err)
	}
	paths, err := fs.Glob(s.root.FS(), path.Join(filepath.ToSlash(runRel), "nodes", "*", NodeRecordFileName))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		data, err := s.root.ReadFile(filepath.FromSlash(p))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		var rec NodeRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		// A record counts only in its own directory.
		if node := path.Base(path.Dir(p)); rec.Name == node {
			rr.nodes[node] = withoutResult(rec)
		}
	}
	paths, err = fs.Glob(s.root.FS(), path.Join(filepath.ToSlash(runRel), "nodes", "*", ResultFileName))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		info, err := s.root.Lstat(filepath.FromSlash(p))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if info.Mode().IsRegular() {
			rr.results[path.Base(path.Dir(p))] = info.ModTime()
		}
	}
	rr.loaded = true
	return rr, nil
}

// runRecordsOf returns the directory (relative to the store) and the records of a run.
func (s *FileStore) runRecordsOf(loc RunLocation) (string, *runRecords, error) {
	runRel, err := loc.rel()
	if err != nil {
		return "", nil, err
	}
	rr, err := s.records(runRel)
	return runRel, rr, err
}

// WriteSelection records the candidate nodes of a run, once, before any pod
// exists. It replaces an earlier selection.
func (s *FileStore) WriteSelection(loc RunLocation, nodes []SelectedNode) error {
	runRel, err := loc.rel()
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if !validElement(n.Name) {
			return newError(ErrInvalid, nil, "invalid node name %q", truncate(n.Name))
		}
	}
	data, err := json.Marshal(nodes)
	if err != nil {
		return err
	}
	rr, err := s.records(runRel)
	if err != nil {
		return err
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if err := s.root.MkdirAll(runRel, dirMode); err != nil {
		return fmt.Errorf("creating %s: %w", runRel, err)
	}
	if err := s.replace(filepath.Join(runRel, SelectionFileName), data); err != nil {
		return err
	}
	rr.selection, rr.hasSel = append([]SelectedNode(nil), nodes...), true
	return nil
}

// WriteOutcome records durably the decision that ends a run; the first one stays.
func (s *FileStore) WriteOutcome(loc RunLocation, out RunOutcome) error {
	runRel, rr, err := s.runRecordsOf(loc)
	if err != nil {
		return err
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.outcome != nil {
		return nil
	}
	data, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := s.root.MkdirAll(runRel, dirMode); err != nil {
		return fmt.Errorf("creating %s: %w", runRel, err)
	}
	if err := s.replace(filepath.Join(runRel, OutcomeFileName), data); err != nil {
		return err
	}
	rr.outcome = &out
	return nil
}

// Outcome returns the recorded decision that ended a run, or nil.
func (s *FileStore) Outcome(loc RunLocation) (*RunOutcome, error) {
	_, rr, err := s.runRecordsOf(loc)
	if err != nil {
		return nil, err
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.outcome == nil {
		return nil, nil
	}
	out := *rr.outcome
	return &out, nil
}

// Selection returns the candidate nodes of a run in the order they were
// written; ErrNotFound when the run has none recorded.
func (s *FileStore) Selection(loc RunLocation) ([]SelectedNode, error) {
	_, rr, err := s.runRecordsOf(loc)
	if err != nil {
		return nil, err
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if !rr.hasSel {
		return nil, newError(ErrNotFound, nil, "run %s has no recorded selection", loc.Run)
	}
	return append([]SelectedNode(nil), rr.selection...), nil
}

// Nodes returns the records of a run's nodes by name; nodes without one are absent.
func (s *FileStore) Nodes(loc RunLocation) (map[string]NodeRecord, error) {
	_, rr, err := s.runRecordsOf(loc)
	if err != nil {
		return nil, err
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := make(map[string]NodeRecord, len(rr.nodes))
	for k := range rr.nodes {
		out[k], _ = rr.view(k)
	}
	for k := range rr.results {
		out[k], _ = rr.view(k)
	}
	return out, nil
}

// Node returns the record of a node and whether there is one.
func (s *FileStore) Node(loc RunLocation, node string) (NodeRecord, bool, error) {
	_, rr, err := s.runRecordsOf(loc)
	if err != nil {
		return NodeRecord{}, false, err
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rec, ok := rr.view(node)
	return rec, ok, nil
}

// noteResult records that the result of a node, stored at, is in place.
func (s *FileStore) noteResult(runRel, node string, at time.Time) error {
	rr, err := s.records(runRel)
	if err != nil {
		return err
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	// Results of one node stored at the same moment: the time only moves forward.
	if prev, ok := rr.results[node]; !ok || at.After(prev) {
		rr.results[node] = at
	}
	return nil
}

// UpdateNode applies change to the record of a node (a new one has only its
// name) and writes it durably (written, synced and renamed into place) before
// it returns; an unchanged record is not written. Updates of one node are
// serialised; those of different nodes run in parallel. When change returns
// an error, nothing is written and the error is returned.
//
// change gets a copy: it replaces the time pointers rather than writing
// through them. ResultReceived and ResultTime come from the node's
// result.json (PutResultAt); changes to them are ignored.
func (s *FileStore) UpdateNode(loc RunLocation, node string, change func(*NodeRecord) error) (NodeRecord, error) {
	runRel, err := loc.rel()
	if err != nil {
		return NodeRecord{}, err
	}
	dirRel, err := nodeRel(runRel, node)
	if err != nil {
		return NodeRecord{}, err
	}
	rr, err := s.records(runRel)
	if err != nil {
		return NodeRecord{}, err
	}
	rr.mu.Lock()
	lock := rr.locks[node]
	if lock == nil {
		lock = &sync.Mutex{}
		rr.locks[node] = lock
	}
	rr.mu.Unlock()

	lock.Lock()
	defer lock.Unlock()
	rr.mu.Lock()
	cur, ok := rr.nodes[node]
	view, _ := rr.view(node)
	rr.mu.Unlock()
	if !ok {
		cur = NodeRecord{Name: node}
	}
	next := view
	if err := change(&next); err != nil {
		return view, err
	}
	next = withoutResult(next)
	next.Name = node
	before, _ := json.Marshal(cur)
	data, err := json.Marshal(next)
	if err != nil {
		return view, err
	}
	if !ok || !bytes.Equal(before, data) {
		if err := s.root.MkdirAll(dirRel, dirMode); err != nil {
			return view, fmt.Errorf("creating %s: %w", dirRel, err)
		}
		if err := s.replace(filepath.Join(dirRel, NodeRecordFileName), data); err != nil {
			return view, err
		}
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.nodes[node] = next
	view, _ = rr.view(node)
	return view, nil
}

// recordView returns the record of a node as Node does, encoded as JSON, and
// its time: the later of node.json's and the result's. ok is false when the
// node has no record.
func (s *FileStore) recordView(runRel, node string, fileTime time.Time) ([]byte, time.Time, bool, error) {
	rr, err := s.records(runRel)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	rr.mu.Lock()
	_, ok := rr.nodes[node]
	rec, _ := rr.view(node)
	rr.mu.Unlock()
	if !ok {
		return nil, time.Time{}, false, nil
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	if rec.ResultTime != nil && rec.ResultTime.After(fileTime) {
		fileTime = rec.ResultTime.Time
	}
	return data, fileTime, true, nil
}
