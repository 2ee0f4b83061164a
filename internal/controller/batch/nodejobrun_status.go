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

package batch

import (
	"cmp"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// runOutcome is a terminal phase decided by the reconciler: a stop (deadline, fail fast, replacement, a refused
// pod) or a selection that ends the run at once. It is recorded in the report store before any node is stopped.
type runOutcome = reports.RunOutcome

// outcome returns a run outcome.
func outcome(phase batchv1alpha1.NodeJobRunPhase, reason, message string) *runOutcome {
	return &runOutcome{Phase: phase, Reason: reason, Message: message}
}

// runObservation is what a run's status is computed from: the state of every candidate node (the run's
// selection merged with the report store's node records, in name order), the bytes stored for the run, and a
// terminal outcome decided in this reconcile, if any.
type runObservation struct {
	nodes []reports.NodeRecord
	// desired is the number of nodes the selection gave a pod.
	desired int
	// storageBytes is what the run's report directory holds.
	storageBytes int64
	// stop ends the run now; nil leaves the phase to the nodes.
	stop *runOutcome
	// start is when the run started, if it started in this reconcile; now when nil.
	start *metav1.Time
	// now is the time of the observation.
	now metav1.Time
}

// nodeJobRunStatus computes the status of a run from what was observed. The status holds counts, times,
// conditions and at most NodeJobRunMaxFailedNodes failed nodes, so its size does not depend on the number of
// nodes. A run that has finished keeps its phase, reason and completion time.
func nodeJobRunStatus(run *batchv1alpha1.NodeJobRun, obs runObservation) batchv1alpha1.NodeJobRunStatus {
	st := *run.Status.DeepCopy()
	if st.StartTime == nil {
		st.StartTime = cmp.Or(obs.start, &obs.now)
	}
	st.Selected, st.Desired = int32(len(obs.nodes)), int32(obs.desired)
	st.Active, st.Succeeded, st.Failed, st.Skipped, st.Reported = 0, 0, 0, 0, 0
	st.StorageBytes = obs.storageBytes
	st.FailedNodes = nil
	unfinished := false
	for i := range obs.nodes {
		n := &obs.nodes[i]
		switch n.Phase {
		case batchv1alpha1.NodeJobRunNodePhaseRunning:
			st.Active++
		case batchv1alpha1.NodeJobRunNodePhaseSucceeded:
			st.Succeeded++
		case batchv1alpha1.NodeJobRunNodePhaseFailed:
			st.Failed++
			if len(st.FailedNodes) < batchv1alpha1.NodeJobRunMaxFailedNodes {
				st.FailedNodes = append(st.FailedNodes, failedNode(n))
			}
		case batchv1alpha1.NodeJobRunNodePhaseSkipped:
			st.Skipped++
		}
		if n.ResultReceived {
			st.Reported++
		}
		unfinished = unfinished || !n.Final()
	}
	if !runFinished(st.Phase) {
		out := obs.stop
		if out == nil {
			out = phaseOfNodes(run.Spec.Paused, unfinished, st.Failed, st.Desired, st.Succeeded, st.Skipped)
		}
		st.Phase, st.Reason, st.Message = out.Phase, out.Reason, out.Message
		if runFinished(out.Phase) && st.CompletionTime == nil {
			st.CompletionTime = &obs.now
		}
	}
	status.Apply(&st.Conditions, run.Generation, runSummary(&st))
	st.ObservedGeneration = run.Generation
	return st
}

// phaseOfNodes is the phase of a run that has not been stopped (NJ-16, NJ-18, NJ-21).
func phaseOfNodes(paused, unfinished bool, failed, desired, succeeded, skipped int32) *runOutcome {
	switch {
	case unfinished && paused:
		return outcome(batchv1alpha1.NodeJobRunPhasePaused, NodeJobReasonRunPaused,
			"a node failed; clear spec.paused to resume")
	case unfinished:
		return &runOutcome{Phase: batchv1alpha1.NodeJobRunPhaseRunning}
	case failed > 0:
		return outcome(batchv1alpha1.NodeJobRunPhaseFailed, NodeJobRunReasonNodesFailed,
			fmt.Sprintf("%d of %d nodes failed", failed, desired))
	}
	return outcome(batchv1alpha1.NodeJobRunPhaseSucceeded, "",
		fmt.Sprintf("%d nodes succeeded, %d skipped", succeeded, skipped))
}

// failedNode is the status entry of a failed node, its message cut to what the schema allows.
func failedNode(n *reports.NodeRecord) batchv1alpha1.NodeJobRunNode {
	return batchv1alpha1.NodeJobRunNode{Name: n.Name, Phase: n.Phase, PodName: n.PodName, Reason: cut(n.Reason, 128),
		Message: cut(n.Message, 1024), StartTime: n.StartTime, CompletionTime: n.CompletionTime,
		ResultReceived: n.ResultReceived}
}

// cut shortens s to at most n bytes.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// mergeNodes is the state of every candidate node of a run: the selection, in name order, with each node's
// record where there is one. A node without a record is Pending, or Skipped as the selection says.
func mergeNodes(sel []reports.SelectedNode, recs map[string]reports.NodeRecord) ([]reports.NodeRecord, int) {
	out := make([]reports.NodeRecord, len(sel))
	desired := 0
	for i, s := range sel {
		if s.SkipReason == "" {
			desired++
		}
		if rec, ok := recs[s.Name]; ok && rec.Phase != "" {
			out[i] = rec
			continue
		}
		rec := recs[s.Name]
		rec.Name, rec.Phase = s.Name, batchv1alpha1.NodeJobRunNodePhasePending
		if s.SkipReason != "" {
			rec.Phase, rec.Reason, rec.Message = batchv1alpha1.NodeJobRunNodePhaseSkipped, s.SkipReason, s.SkipMessage
		}
		out[i] = rec
	}
	return out, desired
}
