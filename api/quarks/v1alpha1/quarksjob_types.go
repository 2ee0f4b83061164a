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

// Labels and annotations the operator reads or writes.
const (
	// QuarksJobNameLabel holds the QuarksJob name. It is set on the Job, on its pod template and on every
	// output Secret.
	QuarksJobNameLabel = "quarks.cloudfoundry.org/qjob-name"
	// RunRequestAnnotation on a QuarksJob asks for one run whenever its value differs from
	// status.lastHandledRunRequest, even when the value was used before. Unlike the strategy now, a
	// request token re-applied unchanged by a GitOps tool asks for nothing.
	RunRequestAnnotation = "quarks.cloudfoundry.org/run-request"
	// OutputResultAnnotation on a Job holds, as JSON (JobOutputResult), what became of the run's output:
	// the Secrets written, or why the output was rejected. The results side writes it; the QuarksJob
	// controller reads it from the Job it watches and is the only writer of the QuarksJob's status.
	// A rejection is final: later uploads of the run are refused and never clear it.
	OutputResultAnnotation = "quarks.cloudfoundry.org/output-result"
	// RunNumberLabel holds the decimal run number. It is set on the Job and on its pod template.
	RunNumberLabel = "quarks.cloudfoundry.org/run-number"
	// OutputSpecAnnotation on a Job holds the JSON snapshot of spec.output taken when the Job was created.
	OutputSpecAnnotation = "quarks.cloudfoundry.org/output-spec"
	// ContainerNameLabel on an output Secret holds the sanitised name of the container that wrote it.
	ContainerNameLabel = "quarks.cloudfoundry.org/container-name"
	// RemoteIDLabel on an output Secret holds the value of the REMOTE_ID env var of the container that wrote it,
	// sanitised as a label value.
	RemoteIDLabel = "quarks.cloudfoundry.org/remote-id"
	// SecretKindLabel marks a versioned Secret; its value is SecretKindVersioned.
	SecretKindLabel = "quarks.cloudfoundry.org/secret-kind"
	// SecretVersionLabel on a versioned Secret holds its decimal version.
	SecretVersionLabel = "quarks.cloudfoundry.org/secret-version"
	// SourceDescriptionAnnotation on a versioned Secret says where it comes from; its value is
	// SourceDescriptionQuarksJob.
	SourceDescriptionAnnotation = "quarks.cloudfoundry.org/source-description"
	// LastReconcileAnnotation is ignored when two versioned Secrets are compared.
	LastReconcileAnnotation = "quarks.cloudfoundry.org/last-reconcile"
	// MonitoredLabel on a Namespace must equal the monitored ID when the operator is started with one.
	MonitoredLabel = "quarks.cloudfoundry.org/monitored"
	// ServiceAccountLabel on a Namespace is accepted and ignored; job pods need no service account any more.
	ServiceAccountLabel = "quarks.cloudfoundry.org/qjob-service-account"
	// TriggeringPodLabel is reserved and unused.
	TriggeringPodLabel = "quarks.cloudfoundry.org/triggering-pod"
	// DeletePodLabel with the value DeletePodValue on the pod template is accepted and has no extra effect,
	// because the pods of a succeeded Job are always removed.
	DeletePodLabel = "delete"
	// DeletePodValue is the value of DeletePodLabel.
	DeletePodValue = "pod"
)

// Values of the labels and annotations above.
const (
	// SecretKindVersioned is the value of SecretKindLabel on versioned Secrets.
	SecretKindVersioned = "versionedSecret"
	// SourceDescriptionQuarksJob is the value of SourceDescriptionAnnotation on versioned Secrets.
	SourceDescriptionQuarksJob = "created by quarksJob"
)

// Names and paths the operator reserves in the pods it builds and in the namespaces it serves.
const (
	// OutputPersistContainerName is the name of the sidecar that uploads the output files.
	OutputPersistContainerName = "output-persist"
	// OutputPersistCommand is the argument the sidecar is started with.
	OutputPersistCommand = "persist-output"
	// OutputVolumePrefix starts the name of the emptyDir volume of every user container:
	// output-<sanitised container name>.
	OutputVolumePrefix = "output-"
	// OutputMountPath is where every user container finds its output directory, and where the sidecar
	// mounts the output directory of container c, at OutputMountPath/c.
	OutputMountPath = "/mnt/quarks"
	// ResultsVolumeName is the name of the projected volume holding the sidecar's token and CA bundle.
	ResultsVolumeName = "jobkeeper-results"
	// ResultsMountPath is where the sidecar mounts ResultsVolumeName.
	ResultsMountPath = "/var/run/secrets/jobkeeper/results"
	// ResultsTokenFile is the name of the projected service-account token in ResultsMountPath.
	ResultsTokenFile = "token"
	// ResultsCAFile is the name of the CA bundle in ResultsMountPath.
	ResultsCAFile = "ca.crt"
	// ResultsServiceName is the name of the Service in front of the results API.
	ResultsServiceName = "jobkeeper-results"
	// ResultsAudience is the default audience of the sidecar's token.
	ResultsAudience = "jobkeeper-results"
	// ResultsCAConfigMapName is the ConfigMap, in every served namespace, holding the CA bundle of the
	// results API under the key ResultsCAConfigMapKey.
	ResultsCAConfigMapName = "jobkeeper-results-ca"
	// ResultsCAConfigMapKey is the key of the CA bundle in ResultsCAConfigMapName.
	ResultsCAConfigMapKey = "ca.crt"
	// ConfigHashKeySecretName is the Secret, in the operator's namespace, holding the key of status.configHash.
	ConfigHashKeySecretName = "jobkeeper-config-hash-key"
)

// Environment variables of the pods the operator builds.
const (
	// RemoteIDEnv, set as a literal value on a user container, is copied into RemoteIDLabel.
	RemoteIDEnv = "REMOTE_ID"
	// NamespaceEnv holds the namespace of the QuarksJob in the sidecar.
	NamespaceEnv = "NAMESPACE"
	// ResultsAPIURLEnv holds the URL of the results API in the sidecar.
	ResultsAPIURLEnv = "RESULTS_API_URL"
	// ResultsTokenFileEnv holds the path of the token file in the sidecar.
	ResultsTokenFileEnv = "RESULTS_TOKEN_FILE"
	// ResultsCAFileEnv holds the path of the CA bundle in the sidecar.
	ResultsCAFileEnv = "RESULTS_CA_FILE"
	// PersistOutputTimeoutEnv holds, as a Go duration, how long the sidecar waits for the user containers.
	PersistOutputTimeoutEnv = "PERSIST_OUTPUT_TIMEOUT"
)

// Condition types of a QuarksJob.
const (
	// ConditionReady is True when nothing is due and the last run, if any, succeeded.
	ConditionReady = "Ready"
	// ConditionReconciling is True while work for the current generation is in progress.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the last run failed or the spec is invalid, and nothing is pending.
	ConditionStalled = "Stalled"
	// ConditionReferencesResolved is True when every required reference exists; when False, its message
	// names the missing ones.
	ConditionReferencesResolved = "ReferencesResolved"
)

// Condition reasons of a QuarksJob.
const (
	// ReasonIdle means no run is due and none has happened so far.
	ReasonIdle = "Idle"
	// ReasonRunActive means the Job of a run is active.
	ReasonRunActive = "RunActive"
	// ReasonRunQueued means another run is due once the active one has finished.
	ReasonRunQueued = "RunQueued"
	// ReasonReferencesMissing means a run is due but required references do not exist.
	ReasonReferencesMissing = "ReferencesMissing"
	// ReasonReferencesFound means every required reference exists.
	ReasonReferencesFound = "ReferencesFound"
	// ReasonWaitingForReferences means a run waits for its missing references to appear.
	ReasonWaitingForReferences = "WaitingForReferences"
	// ReasonSucceeded means the last run succeeded.
	ReasonSucceeded = "Succeeded"
	// ReasonRunFailed means the last run failed.
	ReasonRunFailed = "RunFailed"
	// ReasonInvalidSpec means the spec cannot be run, which only happens when admission was bypassed.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonInvalidJobTemplate means the API server rejected the run's Job as invalid; only a spec change helps.
	ReasonInvalidJobTemplate = "InvalidJobTemplate"
	// ReasonJobCreationForbidden means the API server refused to create the run's Job (RBAC, quota,
	// admission policy); the creation is retried with backoff.
	ReasonJobCreationForbidden = "JobCreationForbidden"
	// ReasonRetryingAfterError means a transient error interrupted the work; it is retried with backoff.
	ReasonRetryingAfterError = "RetryingAfterError"
)

// Reasons in status.lastRun.reason besides the reason of the Job's Failed condition.
const (
	// RunReasonOutputInvalid means an output file was not valid JSON of the expected shape, or too large.
	RunReasonOutputInvalid = "OutputInvalid"
	// RunReasonOutputConflict means an output Secret name belongs to an object the QuarksJob does not own.
	RunReasonOutputConflict = "OutputConflict"
	// RunReasonOutputMissing means a mapped file was absent after its container ended.
	RunReasonOutputMissing = "OutputMissing"
	// RunReasonOutputTimeout means the sidecar gave up waiting for the user containers or for the upload.
	RunReasonOutputTimeout = "OutputTimeout"
	// RunReasonJobDeleted means the Job of the run disappeared before it finished.
	RunReasonJobDeleted = "JobDeleted"
)

// JobOutputResult is the value of OutputResultAnnotation.
// +kubebuilder:object:generate=false
type JobOutputResult struct {
	// Secrets are the names of the Secrets written, sorted.
	Secrets []string `json:"secrets,omitempty"`
	// Reason is set when the output was rejected: OutputInvalid, OutputConflict or OutputMissing.
	Reason string `json:"reason,omitempty"`
	// Message explains the reason.
	Message string `json:"message,omitempty"`
}

// Exit codes of the output-persist sidecar that fail the run's Job at once through its
// podFailurePolicy: running the workload again cannot change them.
const (
	// OutputPersistExitTimeout means the sidecar gave up waiting for the user containers or the upload.
	OutputPersistExitTimeout int32 = 2
	// OutputPersistExitRejected means the results API rejected the output.
	OutputPersistExitRejected int32 = 3
)

// Defaults of the spec, the same as in the CRD schema.
const (
	// DefaultFailedJobsHistoryLimit is the default of spec.failedJobsHistoryLimit.
	DefaultFailedJobsHistoryLimit int32 = 1
	// DefaultVersionedSecretHistoryLimit is the default of spec.output.versionedSecretHistoryLimit.
	DefaultVersionedSecretHistoryLimit int32 = 10
)

// Strategy says when a QuarksJob runs.
// +kubebuilder:validation:Enum=manual;now;once;done
type Strategy string

const (
	// StrategyManual runs nothing until the strategy is set to now.
	StrategyManual Strategy = "manual"
	// StrategyNow runs once at once; the operator then sets the strategy back to manual.
	StrategyNow Strategy = "now"
	// StrategyOnce runs once after creation; the operator then sets the strategy to done.
	StrategyOnce Strategy = "once"
	// StrategyDone means the run of once has been started; with updateOnConfigChange it runs again when
	// referenced data changes.
	StrategyDone Strategy = "done"
)

// PersistenceMethod says how one output file becomes Secrets.
// +kubebuilder:validation:Enum="";one-to-one;fan-out
type PersistenceMethod string

const (
	// PersistenceMethodDefault is the same as PersistenceMethodOneToOne.
	PersistenceMethodDefault PersistenceMethod = ""
	// PersistenceMethodOneToOne writes the file, a JSON object of strings, into one Secret.
	PersistenceMethodOneToOne PersistenceMethod = "one-to-one"
	// PersistenceMethodFanOut writes one Secret per key of the file, a JSON object whose values are JSON
	// objects of strings encoded as strings.
	PersistenceMethodFanOut PersistenceMethod = "fan-out"
)

// RunResult is the state of a run.
// +kubebuilder:validation:Enum=Running;Succeeded;Failed
type RunResult string

const (
	// RunResultRunning means the Job of the run has not finished.
	RunResultRunning RunResult = "Running"
	// RunResultSucceeded means the Job completed and its output, if any, was persisted.
	RunResultSucceeded RunResult = "Succeeded"
	// RunResultFailed means the Job failed, its output was rejected, or it disappeared.
	RunResultFailed RunResult = "Failed"
)

// RunTrigger says what started a run.
// +kubebuilder:validation:Enum=now;once;configChange;request
type RunTrigger string

const (
	// RunTriggerNow means the strategy was set to now.
	RunTriggerNow RunTrigger = "now"
	// RunTriggerOnce means the QuarksJob was created with the strategy once.
	RunTriggerOnce RunTrigger = "once"
	// RunTriggerConfigChange means referenced data changed while updateOnConfigChange was set.
	RunTriggerConfigChange RunTrigger = "configChange"
	// RunTriggerRequest means a new value of the quarks.cloudfoundry.org/run-request annotation.
	RunTriggerRequest RunTrigger = "request"
)

// Trigger says when the QuarksJob runs.
type Trigger struct {
	// strategy is manual (run only when set to now), now (run once, then back to manual), once (run once
	// after creation, then done) or done.
	// +required
	// +kubebuilder:default=manual
	Strategy Strategy `json:"strategy"`
}

// TemplateMetadata holds the labels and annotations of the Job.
type TemplateMetadata struct {
	// labels are added to the Job; the operator's own labels win on collision.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations are added to the Job; the operator's own annotations win on collision.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// JobTemplate describes the Job of every run.
// +kubebuilder:validation:XValidation:rule="!has(self.spec) || !has(self.spec.template) || has(self.spec.template.spec)",message="the pod template needs a spec with containers",fieldPath=".spec.template.spec.containers",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.spec) || !has(self.spec.template) || !has(self.spec.template.spec) || !has(self.spec.template.spec.containers) || size(self.spec.template.spec.containers) > 0",message="Required value: at least one container",fieldPath=".spec.template.spec.containers",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.spec) || !has(self.spec.template) || !has(self.spec.template.spec) || has(self.spec.template.spec.restartPolicy)",message="supported values: \"Never\", \"OnFailure\"",fieldPath=".spec.template.spec.restartPolicy",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.spec) || !has(self.spec.template) || !has(self.spec.template.spec) || !has(self.spec.template.spec.restartPolicy) || self.spec.template.spec.restartPolicy in ['Never', 'OnFailure']",message="Unsupported value: supported values: \"Never\", \"OnFailure\"",fieldPath=".spec.template.spec.restartPolicy",reason=FieldValueInvalid
type JobTemplate struct {
	// metadata holds the labels and annotations of the Job.
	// +optional
	TemplateMetadata `json:"metadata,omitzero"`

	// spec is the spec of the Job.
	// +required
	Spec batchv1.JobSpec `json:"spec"`

	// backoffLimit is a misplaced spec.backoffLimit, accepted for compatibility. It applies to the Job only
	// when spec.backoffLimit is unset.
	// +optional
	// +kubebuilder:validation:Minimum=0
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
}

// SecretOptions says where one output file goes.
type SecretOptions struct {
	// name is the name of the Secret, or the name prefix of the Secrets of a fan-out.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// secretLabels are added to the Secrets of this file; their values are sanitised.
	// +optional
	SecretLabels map[string]string `json:"secretLabels,omitempty"`

	// secretAnnotations are added, verbatim, to the Secrets of this file.
	// +optional
	SecretAnnotations map[string]string `json:"secretAnnotations,omitempty"`

	// versioned writes a new Secret <name>-v<N> whenever the content changes, instead of overwriting one.
	// +optional
	// +kubebuilder:default=false
	Versioned bool `json:"versioned,omitempty"`

	// persistencemethod is one-to-one (also when empty) or fan-out.
	// +optional
	PersistenceMethod PersistenceMethod `json:"persistencemethod,omitempty"`
}

// FilesToSecrets maps the name of an output file to its Secret options.
type FilesToSecrets map[string]SecretOptions

// OutputMap maps the name of a container to its output files.
type OutputMap map[string]FilesToSecrets

// Output says which files the containers write and which Secrets they become.
type Output struct {
	// outputMap maps a container name, then a file name under /mnt/quarks of that container, to the Secret
	// the file becomes. An empty map persists nothing.
	// +required
	OutputMap OutputMap `json:"outputMap"`

	// outputType is the format of the files. Only json has a meaning; any other value is stored and ignored.
	// +optional
	OutputType string `json:"outputType,omitempty"`

	// secretLabels are added to every output Secret; their values are sanitised.
	// +optional
	SecretLabels map[string]string `json:"secretLabels,omitempty"`

	// writeOnFailure persists the files of a container also when it exited with a non-zero code.
	// +optional
	// +kubebuilder:default=false
	WriteOnFailure bool `json:"writeOnFailure,omitempty"`

	// versionedSecretHistoryLimit is the number of versions kept of every versioned Secret.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	VersionedSecretHistoryLimit *int32 `json:"versionedSecretHistoryLimit,omitempty"`

	// timeoutSeconds is how long the sidecar waits for the user containers to end. Unset means the
	// operator's default.
	// +optional
	// +kubebuilder:validation:Minimum=1
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`
}

// QuarksJobSpec defines the desired state of a QuarksJob.
type QuarksJobSpec struct {
	// trigger says when the Job runs. Unset means manual.
	// +optional
	// +kubebuilder:default={"strategy":"manual"}
	Trigger Trigger `json:"trigger,omitzero"`

	// template is the Job of every run.
	// +required
	Template JobTemplate `json:"template"`

	// updateOnConfigChange runs the Job again, with the strategy once or done, when the data of a
	// referenced ConfigMap or Secret changes.
	// +optional
	// +kubebuilder:default=false
	UpdateOnConfigChange bool `json:"updateOnConfigChange,omitempty"`

	// output turns the JSON files the containers write under /mnt/quarks into Secrets.
	// +optional
	Output *Output `json:"output,omitempty"`

	// failedJobsHistoryLimit is the number of failed Jobs kept, with their pods.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`
}

// RunStatus describes the last run.
type RunStatus struct {
	// name is the name of the Job of the run.
	// +required
	Name string `json:"name"`

	// result is Running, Succeeded or Failed.
	// +required
	Result RunResult `json:"result"`

	// reason says why the run failed, e.g. BackoffLimitExceeded, OutputInvalid, OutputConflict,
	// OutputMissing, OutputTimeout or JobDeleted.
	// +optional
	Reason string `json:"reason,omitempty"`

	// message explains the reason.
	// +optional
	Message string `json:"message,omitempty"`

	// trigger is what started the run: now, once, configChange or request.
	// +optional
	Trigger RunTrigger `json:"trigger,omitempty"`

	// generation is the metadata.generation whose trigger the run handled: the generation when the run
	// started, or a later one whose once trigger was merged into the run because it would have run the same
	// spec with the same referenced data.
	// +optional
	Generation int64 `json:"generation,omitempty"`

	// specHash is the SHA-256 of the canonical JSON of the spec the run was started from, without
	// spec.trigger.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	SpecHash string `json:"specHash,omitempty"`

	// startTime is when the run started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the run finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// outputSecrets are the names of the Secrets written by the run, sorted.
	// +optional
	// +listType=atomic
	OutputSecrets []string `json:"outputSecrets,omitempty"`
}

// QuarksJobStatus defines the observed state of a QuarksJob.
type QuarksJobStatus struct {
	// conditions are Ready, Reconciling, Stalled and ReferencesResolved.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// completed is true while the most recent finished run succeeded. It is reset when a run starts.
	// +optional
	Completed bool `json:"completed"`

	// lastReconcile is when the operator last started a run; null before the first run.
	// +optional
	// +nullable
	LastReconcile *metav1.Time `json:"lastReconcile"`

	// runCount is the number of runs started so far, and the run number of the last run.
	// +optional
	RunCount int64 `json:"runCount,omitempty"`

	// configHash is the keyed hash of the referenced data used by the last run.
	// +optional
	ConfigHash string `json:"configHash,omitempty"`

	// lastRun describes the last run.
	// +optional
	LastRun *RunStatus `json:"lastRun,omitempty"`

	// lastHandledRunRequest is the value of the quarks.cloudfoundry.org/run-request annotation last
	// acted on.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	LastHandledRunRequest string `json:"lastHandledRunRequest,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=qjob;qjobs,categories=jobkeeper
// +kubebuilder:printcolumn:name="completed",type=boolean,JSONPath=`.status.completed`
// +kubebuilder:printcolumn:name="strategy",type=string,JSONPath=`.spec.trigger.strategy`,priority=10
// +kubebuilder:printcolumn:name="updateOnConfigChange",type=boolean,JSONPath=`.spec.updateOnConfigChange`,priority=20
// +kubebuilder:printcolumn:name="ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="result",type=string,JSONPath=`.status.lastRun.result`
// +kubebuilder:printcolumn:name="age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name: Too long: may not be more than 63 characters (used as a label value)"

// QuarksJob runs a Job from a template when its trigger fires, and turns the JSON files its containers
// write into Secrets.
type QuarksJob struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec defines the Job, when it runs and where its output goes.
	// +required
	Spec QuarksJobSpec `json:"spec"`

	// status describes the runs.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status QuarksJobStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// QuarksJobList contains a list of QuarksJob.
type QuarksJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []QuarksJob `json:"items"`
}

func init() {
	SchemeBuilder.Register(&QuarksJob{}, &QuarksJobList{})
}
