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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeJobRunTrigger says why a run was created.
// +kubebuilder:validation:Enum=Schedule;OnCreate;Manual
type NodeJobRunTrigger string

const (
	// NodeJobRunTriggerSchedule marks a run created for a tick of the schedule.
	NodeJobRunTriggerSchedule NodeJobRunTrigger = "Schedule"
	// NodeJobRunTriggerOnCreate marks the run created because of runOnCreate.
	NodeJobRunTriggerOnCreate NodeJobRunTrigger = "OnCreate"
	// NodeJobRunTriggerManual marks a run created for a batch.cs.sap.com/run-request annotation.
	NodeJobRunTriggerManual NodeJobRunTrigger = "Manual"
)

// NodeJobRunPhase is the phase of a run.
// +kubebuilder:validation:Enum=Pending;Running;Paused;Succeeded;Failed
type NodeJobRunPhase string

const (
	// NodeJobRunPhasePending means the run has not selected its nodes yet.
	NodeJobRunPhasePending NodeJobRunPhase = "Pending"
	// NodeJobRunPhaseRunning means some nodes have not reached a final state.
	NodeJobRunPhaseRunning NodeJobRunPhase = "Running"
	// NodeJobRunPhasePaused means a node failed under failurePolicy Pause; no new pods start until spec.paused is
	// cleared.
	NodeJobRunPhasePaused NodeJobRunPhase = "Paused"
	// NodeJobRunPhaseSucceeded means every node succeeded or was skipped.
	NodeJobRunPhaseSucceeded NodeJobRunPhase = "Succeeded"
	// NodeJobRunPhaseFailed means the run ended and a node failed, or the run was stopped.
	NodeJobRunPhaseFailed NodeJobRunPhase = "Failed"
)

// NodeJobRunNodePhase is the phase of one node of a run.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped
type NodeJobRunNodePhase string

const (
	// NodeJobRunNodePhasePending means the node's pod has not started yet.
	NodeJobRunNodePhasePending NodeJobRunNodePhase = "Pending"
	// NodeJobRunNodePhaseRunning means the node's pod exists and has not ended.
	NodeJobRunNodePhaseRunning NodeJobRunNodePhase = "Running"
	// NodeJobRunNodePhaseSucceeded means the node's pod succeeded.
	NodeJobRunNodePhaseSucceeded NodeJobRunNodePhase = "Succeeded"
	// NodeJobRunNodePhaseFailed means the node's pod failed, could not be created, or was stopped.
	NodeJobRunNodePhaseFailed NodeJobRunNodePhase = "Failed"
	// NodeJobRunNodePhaseSkipped means the node got no pod; the reason says why.
	NodeJobRunNodePhaseSkipped NodeJobRunNodePhase = "Skipped"
)

// NodeJobRunSpec defines one execution of a NodeJob. Every field except paused is immutable.
// +kubebuilder:validation:XValidation:rule="has(self.nodeSelector) == has(oldSelf.nodeSelector) && (!has(self.nodeSelector) || self.nodeSelector == oldSelf.nodeSelector)",message="field is immutable",fieldPath=".nodeSelector",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.includeUnschedulable) == has(oldSelf.includeUnschedulable) && (!has(self.includeUnschedulable) || self.includeUnschedulable == oldSelf.includeUnschedulable)",message="field is immutable",fieldPath=".includeUnschedulable",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.includeNotReady) == has(oldSelf.includeNotReady) && (!has(self.includeNotReady) || self.includeNotReady == oldSelf.includeNotReady)",message="field is immutable",fieldPath=".includeNotReady",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.parallelism) == has(oldSelf.parallelism) && (!has(self.parallelism) || self.parallelism == oldSelf.parallelism)",message="field is immutable",fieldPath=".parallelism",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.activeDeadlineSeconds) == has(oldSelf.activeDeadlineSeconds) && (!has(self.activeDeadlineSeconds) || self.activeDeadlineSeconds == oldSelf.activeDeadlineSeconds)",message="field is immutable",fieldPath=".activeDeadlineSeconds",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.podActiveDeadlineSeconds) == has(oldSelf.podActiveDeadlineSeconds) && (!has(self.podActiveDeadlineSeconds) || self.podActiveDeadlineSeconds == oldSelf.podActiveDeadlineSeconds)",message="field is immutable",fieldPath=".podActiveDeadlineSeconds",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.failurePolicy) == has(oldSelf.failurePolicy) && (!has(self.failurePolicy) || self.failurePolicy == oldSelf.failurePolicy)",message="field is immutable",fieldPath=".failurePolicy",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="self.template == oldSelf.template",message="field is immutable",fieldPath=".template",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.metrics) == has(oldSelf.metrics) && (!has(self.metrics) || self.metrics == oldSelf.metrics)",message="field is immutable",fieldPath=".metrics",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.latestMetricsLabel) == has(oldSelf.latestMetricsLabel) && (!has(self.latestMetricsLabel) || self.latestMetricsLabel == oldSelf.latestMetricsLabel)",message="field is immutable",fieldPath=".latestMetricsLabel",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.savePodLogs) == has(oldSelf.savePodLogs) && (!has(self.savePodLogs) || self.savePodLogs == oldSelf.savePodLogs)",message="field is immutable",fieldPath=".savePodLogs",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.resultLimits) == has(oldSelf.resultLimits) && (!has(self.resultLimits) || self.resultLimits == oldSelf.resultLimits)",message="field is immutable",fieldPath=".resultLimits",reason=FieldValueInvalid
type NodeJobRunSpec struct {
	// nodeJobName is the name of the NodeJob that owns the run.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="field is immutable",reason=FieldValueInvalid
	NodeJobName string `json:"nodeJobName"`

	// executionID is the scheduled or trigger minute as yyyyMMddHHmm in UTC; manual runs add -<8 hex digits>.
	// +required
	// +kubebuilder:validation:MaxLength=21
	// +kubebuilder:validation:Pattern=`^[0-9]{12}(-[0-9a-f]{8})?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="field is immutable",reason=FieldValueInvalid
	ExecutionID string `json:"executionID"`

	// scheduledTime is the tick of the schedule, or the moment the run was requested.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="field is immutable",reason=FieldValueInvalid
	ScheduledTime metav1.Time `json:"scheduledTime"`

	// trigger says why the run was created: Schedule, OnCreate or Manual.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="field is immutable",reason=FieldValueInvalid
	Trigger NodeJobRunTrigger `json:"trigger"`

	// paused stops the run from starting new pods. The operator sets it under failurePolicy Pause; clearing it
	// resumes the run. It is the only field that may change.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// NodeJobRunTemplate holds the fields copied from the NodeJob when the run was created.
	NodeJobRunTemplate `json:",inline"`
}

// NodeJobRunNode is the state of one node of a run. The run's status lists failed nodes only; the state of
// every node is in the run's report (nodes/<node>/node.json).
type NodeJobRunNode struct {
	// name is the name of the node.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// phase is the phase of the node: Pending, Running, Succeeded, Failed or Skipped.
	// +required
	Phase NodeJobRunNodePhase `json:"phase"`

	// podName is the name of the node's pod.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PodName string `json:"podName,omitempty"`

	// reason is a CamelCase reason for the phase, such as PodCreateFailed or DeadlineExceeded.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Reason string `json:"reason,omitempty"`

	// message is a human-readable explanation of the phase.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// startTime is when the node's pod was created.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the node's outcome was recorded.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// resultReceived is true once a result of the node has been accepted.
	// +optional
	ResultReceived bool `json:"resultReceived,omitempty"`
}

// NodeJobRunMaxFailedNodes is the number of failed nodes that a run's status lists.
const NodeJobRunMaxFailedNodes = 20

// NodeJobRunStatus defines the observed state of a NodeJobRun.
type NodeJobRunStatus struct {
	// conditions are Ready, Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is the phase of the run: Pending, Running, Paused, Succeeded or Failed.
	// +optional
	Phase NodeJobRunPhase `json:"phase,omitempty"`

	// reason is a CamelCase reason for the phase, such as FailFast, Replaced or DeadlineExceeded.
	// +optional
	Reason string `json:"reason,omitempty"`

	// message is a human-readable explanation of the phase.
	// +optional
	Message string `json:"message,omitempty"`

	// startTime is when the run selected its nodes.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when every node reached a final state.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// selected is the number of candidate nodes, including those skipped at selection.
	// +optional
	Selected int32 `json:"selected,omitempty"`

	// desired is the number of nodes that get a pod.
	// +optional
	Desired int32 `json:"desired,omitempty"`

	// active is the number of nodes whose pod has not ended.
	// +optional
	Active int32 `json:"active,omitempty"`

	// succeeded is the number of nodes whose pod succeeded.
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`

	// failed is the number of nodes that failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`

	// skipped is the number of nodes that were skipped.
	// +optional
	Skipped int32 `json:"skipped,omitempty"`

	// reported is the number of nodes whose result has been accepted.
	// +optional
	Reported int32 `json:"reported,omitempty"`

	// storageBytes is the number of bytes stored for the run.
	// +optional
	StorageBytes int64 `json:"storageBytes,omitempty"`

	// failedNodes lists the first failed nodes by name (at most 20) with their reason, so that the status does not
	// grow with the number of nodes. The counts above cover every node; the state of each node (phase, pod,
	// result, files, logs) is in the run's report, nodes/<node>/node.json, readable through the read route and
	// kubectl jobkeeper runs.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	// +optional
	FailedNodes []NodeJobRunNode `json:"failedNodes,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=njrun;njruns,categories=jobkeeper
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desired`
// +kubebuilder:printcolumn:name="Active",type=integer,JSONPath=`.status.active`
// +kubebuilder:printcolumn:name="Succeeded",type=integer,JSONPath=`.status.succeeded`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.failed`
// +kubebuilder:printcolumn:name="Execution",type=string,JSONPath=`.spec.executionID`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// NodeJobRun is one execution of a NodeJob: the nodes it selected and the outcome on each of them.
type NodeJobRun struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the NodeJob's configuration at the time the run was created.
	// +required
	Spec NodeJobRunSpec `json:"spec"`

	// status follows the nodes of the run.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status NodeJobRunStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// NodeJobRunList contains a list of NodeJobRun.
type NodeJobRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []NodeJobRun `json:"items"`
}

func init() {
	SchemeBuilder.Register(&NodeJobRun{}, &NodeJobRunList{})
}
