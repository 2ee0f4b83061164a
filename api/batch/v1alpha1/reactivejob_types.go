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
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Keys the ReactiveJob controller puts on the Jobs it creates and on ReactiveJobs.
const (
	// ReactiveJobControllerUIDLabel is the Job label holding the owning ReactiveJob's UID.
	ReactiveJobControllerUIDLabel = "batch.cs.sap.com/controller-uid"
	// ReactiveJobControllerNameLabel is the Job label holding the owning ReactiveJob's name.
	ReactiveJobControllerNameLabel = "batch.cs.sap.com/controller-name"
	// ReactiveJobGenerationAnnotation is the Job annotation holding the ReactiveJob generation the Job was created for.
	ReactiveJobGenerationAnnotation = "batch.cs.sap.com/controller-generation"
	// ReactiveJobLegacyHashAnnotation is the Job annotation holding the legacy template hash.
	ReactiveJobLegacyHashAnnotation = "batch.cs.sap.com/controller-hash"
	// ReactiveJobTemplateHashAnnotation is the Job annotation holding the canonical template hash.
	ReactiveJobTemplateHashAnnotation = "batch.cs.sap.com/template-hash"
	// ReactiveJobRunAnnotation is the Job annotation holding the decimal run number the Job was created for
	// (status.runCount after the Job was recorded). Together with the ReactiveJob's UID it is the run's identity.
	ReactiveJobRunAnnotation = "batch.cs.sap.com/run"
	// ReactiveJobRerunAnnotation on a ReactiveJob asks for one more run whenever its value differs from
	// status.lastHandledRerun, even when the value was used before.
	ReactiveJobRerunAnnotation = "batch.cs.sap.com/rerun"
	// ReactiveJobFinalizer is the finalizer that holds a ReactiveJob until its Jobs are gone.
	ReactiveJobFinalizer = "batch.cs.sap.com/reactivejob-operator"
)

// Reasons of the ReactiveJob's Reconciling and Stalled conditions.
const (
	// ReactiveJobReasonJobActive means the current Job is pending or running.
	ReactiveJobReasonJobActive = "JobActive"
	// ReactiveJobReasonJobSuspended means the current Job is suspended.
	ReactiveJobReasonJobSuspended = "JobSuspended"
	// ReactiveJobReasonWaitingForActiveJob means a new Job waits for an active one under concurrencyPolicy Forbid.
	ReactiveJobReasonWaitingForActiveJob = "WaitingForActiveJob"
	// ReactiveJobReasonRetryingAfterError means a transient API error interrupted the work for this generation.
	ReactiveJobReasonRetryingAfterError = "RetryingAfterError"
	// ReactiveJobReasonJobFailed means the current Job failed.
	ReactiveJobReasonJobFailed = "JobFailed"
	// ReactiveJobReasonJobDeleted means the current Job was deleted before it finished.
	ReactiveJobReasonJobDeleted = "JobDeleted"
	// ReactiveJobReasonInvalidJobTemplate means the API server rejected the Job as invalid.
	ReactiveJobReasonInvalidJobTemplate = "InvalidJobTemplate"
	// ReactiveJobReasonJobCreationForbidden means the API server refused to create the Job, e.g. by quota.
	ReactiveJobReasonJobCreationForbidden = "JobCreationForbidden"
)

// ConcurrencyPolicy says what happens when a run is due while another is active.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

const (
	// AllowConcurrent lets runs overlap.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent waits for the active run to finish before the next one starts.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent stops the active run and starts the new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// ReactiveJobSpec defines the desired state of a ReactiveJob.
type ReactiveJobSpec struct {
	// jobTemplate is the Job that is run whenever it changes.
	// +required
	// +kubebuilder:validation:XValidation:rule="!has(self.metadata) || !has(self.metadata.name)",message="must not be specified",fieldPath=".metadata.name",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="!has(self.metadata) || !has(self.metadata.__namespace__)",message="must not be specified",fieldPath=".metadata.namespace",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="!has(self.spec.template.spec.restartPolicy) || self.spec.template.spec.restartPolicy in ['Never', 'OnFailure']",message="Unsupported value: supported values: \"Never\", \"OnFailure\"",fieldPath=".spec.template.spec.restartPolicy",reason=FieldValueInvalid
	JobTemplate batchv1.JobTemplateSpec `json:"jobTemplate"`

	// concurrencyPolicy says what happens when the template changes while a Job is active:
	// Allow (default) creates the new Job at once, Forbid waits for the active Job to finish,
	// Replace deletes the active Job first.
	// +optional
	// +kubebuilder:default=Allow
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// successfulJobsHistoryLimit is the number of finished successful Jobs to keep besides the
	// current one. Unset keeps all of them.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`

	// failedJobsHistoryLimit is the number of finished failed Jobs to keep besides the current one.
	// Unset keeps all of them.
	// +optional
	// +kubebuilder:validation:Minimum=0
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`
}

// ReactiveJobState is the coarse state of a ReactiveJob, kept for compatibility.
// +kubebuilder:validation:Enum=New;Processing;DeletionBlocked;Deleting;Ready;Error
type ReactiveJobState string

const (
	// ReactiveJobStateNew means the object was observed but no Job exists yet.
	ReactiveJobStateNew ReactiveJobState = "New"
	// ReactiveJobStateProcessing means the current Job has not finished.
	ReactiveJobStateProcessing ReactiveJobState = "Processing"
	// ReactiveJobStateDeletionBlocked means only foreign finalizers hold the object.
	ReactiveJobStateDeletionBlocked ReactiveJobState = "DeletionBlocked"
	// ReactiveJobStateDeleting means the object's Jobs are being deleted.
	ReactiveJobStateDeleting ReactiveJobState = "Deleting"
	// ReactiveJobStateReady means the current Job completed.
	ReactiveJobStateReady ReactiveJobState = "Ready"
	// ReactiveJobStateError means the current Job failed or could not be created.
	ReactiveJobStateError ReactiveJobState = "Error"
)

// ReactiveJobStatus defines the observed state of a ReactiveJob.
type ReactiveJobStatus struct {
	// conditions are Ready, Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// state is the coarse state, equal to the Ready condition's reason.
	// +optional
	State ReactiveJobState `json:"state,omitempty"`

	// currentJobName is the name of the current Job.
	// +optional
	CurrentJobName string `json:"currentJobName,omitempty"`

	// active is the number of active pods of the current Job.
	// +optional
	Active int32 `json:"active,omitempty"`

	// succeeded is the number of succeeded pods of the current Job.
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`

	// failed is the number of failed pods of the current Job.
	// +optional
	Failed int32 `json:"failed,omitempty"`

	// startTime is the start time of the current Job.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is the completion time of the current Job.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// lastHandledRerun is the value of the batch.cs.sap.com/rerun annotation last acted on.
	// +optional
	LastHandledRerun string `json:"lastHandledRerun,omitempty"`

	// runCount is the number of Jobs created so far; it never decreases. Run n's Job carries the
	// batch.cs.sap.com/run annotation n and a name derived from the ReactiveJob's UID and n.
	// +optional
	RunCount int64 `json:"runCount,omitempty"`

	// templateHash is the canonical hash of the template the current Job was created from. It lets a
	// generation change that leaves the template as it was create no Job, even after the current Job is gone.
	// +optional
	TemplateHash string `json:"templateHash,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rjob;rjobs,categories=jobkeeper
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Job",type=string,JSONPath=`.status.currentJobName`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name: Too long: may not be more than 63 characters (used as a label value)"

// ReactiveJob runs its Job template again whenever the template changes.
type ReactiveJob struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec defines the Job to run.
	// +required
	Spec ReactiveJobSpec `json:"spec"`

	// status follows the current Job.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status ReactiveJobStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// ReactiveJobList contains a list of ReactiveJob.
type ReactiveJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ReactiveJob `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ReactiveJob{}, &ReactiveJobList{})
}
