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

package nodejob

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// The caller check reads the caller's pod with a direct GET and its run from the cache.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns,verbs=get;list;watch

// Target is what an authorised request acts on.
type Target struct {
	// Caller is the authenticated pod.
	Caller results.Caller
	// Pod is the caller's pod, read from the API server.
	Pod *corev1.Pod
	// Run is the run that controls the pod.
	Run *batchv1alpha1.NodeJobRun
	// Node is the node name from the path, which the pod runs for.
	Node string
	// Record is the node's record in the report store.
	Record reports.NodeRecord
	// Location is the run's report directory.
	Location reports.RunLocation
	// Limits are the run's result limits.
	Limits Limits
}

// Authorizer checks that a caller may report for a node and execution
// (nodejob.md §1.8).
type Authorizer struct {
	// Pods reads the caller's pod.
	Pods *results.PodReader
	// RunReader reads NodeJobRuns; the manager's cached client.
	RunReader client.Reader
	// Store holds the node records, with the UID of the pod the operator created for each node.
	Store *reports.FileStore
}

// Authorize returns the target of a report from caller for node and
// executionID:
//   - the pod of the token must still exist with the token's UID (else 401);
//   - it must have a controller ownerReference to a NodeJobRun (else 403);
//   - that run must exist with that UID and not be being deleted (else 404);
//   - the pod must be that run's pod for node: its name and node annotation
//     say so, and its UID is the one the operator recorded in the node's
//     record right after creating it (else 403; a pod someone else created
//     with the same name, labels and ownerReference is not trusted), and
//     executionID must be the run's execution ID (else 403);
//   - neither the run nor the node may have a final outcome (else 409 RunFinished).
//
// The refusals after the run is known return a target with only Caller, Pod
// and Run set, so that they can be counted for the run's NodeJob.
func (a *Authorizer) Authorize(ctx context.Context, caller results.Caller, node, executionID string) (*Target, error) {
	pod, err := a.Pods.CallerPod(ctx, caller)
	if err != nil {
		return nil, err
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "NodeJobRun" || groupOf(ref.APIVersion) != batchv1alpha1.GroupVersion.Group {
		return nil, results.Forbidden("pod %s is not controlled by a NodeJobRun", caller)
	}
	run := &batchv1alpha1.NodeJobRun{}
	if err := a.RunReader.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}, run); err != nil {
		return nil, results.FromAPIError(err, "run "+ref.Name+" no longer exists")
	}
	if run.UID != ref.UID || run.DeletionTimestamp != nil {
		return nil, results.NotFound("run %s no longer exists", ref.Name)
	}
	// From here on, a refusal still names the caller's run, so that it is counted for its NodeJob.
	partial := &Target{Caller: caller, Pod: pod, Run: run}
	if err := podOf(run, pod, node, executionID); err != nil {
		return partial, err
	}
	loc := reports.LocationOf(run)
	entry, ok, err := a.Store.Node(loc, node)
	if err != nil {
		return partial, err
	}
	if !ok || entry.PodUID == "" || entry.PodUID != pod.UID {
		return partial, results.Forbidden("pod %s/%s is not the pod the operator created for node %q of run %s",
			pod.Namespace, pod.Name, truncate(node), run.Name)
	}
	switch {
	case run.Status.Phase == batchv1alpha1.NodeJobRunPhaseSucceeded || run.Status.Phase == batchv1alpha1.NodeJobRunPhaseFailed:
		return partial, results.Conflict(wire.ReasonRunFinished, "run %s has finished", run.Name)
	case entry.Final():
		return partial, results.Conflict(wire.ReasonRunFinished, "the outcome of node %q in run %s is already final (%s)",
			node, run.Name, entry.Phase)
	}
	return &Target{
		Caller:   caller,
		Pod:      pod,
		Run:      run,
		Node:     node,
		Record:   entry,
		Location: loc,
		Limits:   LimitsOf(run),
	}, nil
}

// podOf checks that pod is named and annotated as the run's pod for node and
// that executionID is the run's; otherwise it is 403.
func podOf(run *batchv1alpha1.NodeJobRun, pod *corev1.Pod, node, executionID string) error {
	if len(validation.IsDNS1123Subdomain(node)) > 0 || pod.Name != PodName(run.Name, node) ||
		pod.Annotations[batchv1alpha1.NodeJobNodeNameAnnotation] != node {
		return results.Forbidden("pod %s/%s does not run for node %q of run %s", pod.Namespace, pod.Name,
			truncate(node), run.Name)
	}
	if executionID != run.Spec.ExecutionID {
		return results.Forbidden("execution %q is not the execution of run %s", truncate(executionID), run.Name)
	}
	return nil
}

func groupOf(apiVersion string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return ""
	}
	return gv.Group
}
