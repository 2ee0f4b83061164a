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
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Keys the NodeJob controller puts on NodeJobRuns and their pods, and reads from NodeJobs.
const (
	// NodeJobNameLabel is the label on runs and pods holding the NodeJob name.
	NodeJobNameLabel = "batch.cs.sap.com/nodejob-name"
	// NodeJobUIDLabel is the label on runs holding the NodeJob UID.
	NodeJobUIDLabel = "batch.cs.sap.com/nodejob-uid"
	// NodeJobRunNameLabel is the label on pods holding the run name. The pod cache selects on it.
	NodeJobRunNameLabel = "batch.cs.sap.com/nodejobrun-name"
	// NodeJobExecutionIDLabel is the label on runs and pods holding the execution ID.
	NodeJobExecutionIDLabel = "batch.cs.sap.com/execution-id"
	// NodeJobNodeHashLabel is the label on pods holding the hash of the node name that names the pod: the first
	// 64 bits of its SHA-256 as 16 hex digits.
	NodeJobNodeHashLabel = "batch.cs.sap.com/node-hash"
	// NodeJobNodeNameAnnotation is the annotation on pods holding the full node name.
	NodeJobNodeNameAnnotation = "batch.cs.sap.com/node-name"
	// NodeJobScheduledAtAnnotation is the annotation on runs holding the scheduled time in RFC 3339, UTC.
	NodeJobScheduledAtAnnotation = "batch.cs.sap.com/scheduled-at"
	// NodeJobRunRequestAnnotation on a NodeJob asks for one run whenever it gets a new non-empty value.
	NodeJobRunRequestAnnotation = "batch.cs.sap.com/run-request"
	// NodeJobRunReplacedByAnnotation on a NodeJobRun names the newer run that replaces it (concurrencyPolicy
	// Replace). The NodeJob controller sets it; the run's controller, the only writer of the run's status, then
	// stops the run with reason Replaced.
	NodeJobRunReplacedByAnnotation = "batch.cs.sap.com/replaced-by"
	// NodeJobTrackingFinalizer is the finalizer on pods, removed once the pod's outcome is recorded.
	NodeJobTrackingFinalizer = "batch.cs.sap.com/nodejob-tracking"
)

// Limits and defaults of a NodeJob, matching the defaults the CRD schema declares.
const (
	// NodeJobMaxNameLength is the longest NodeJob name, so that run and pod names fit in 63 characters.
	NodeJobMaxNameLength = 52

	// DefaultNodeJobParallelism is the default number of pods that run at once.
	DefaultNodeJobParallelism = 10
	// DefaultNodeJobMetricsPrefix is the default prefix of the gauges of a NodeJob.
	DefaultNodeJobMetricsPrefix = "nodejob"
	// DefaultNodeJobSuccessfulRunsHistoryLimit is the default number of successful runs kept.
	DefaultNodeJobSuccessfulRunsHistoryLimit int32 = 3
	// DefaultNodeJobFailedRunsHistoryLimit is the default number of failed runs kept.
	DefaultNodeJobFailedRunsHistoryLimit int32 = 1

	// DefaultNodeJobMaxResultSize is the default of resultLimits.maxResultSize.
	DefaultNodeJobMaxResultSize = "1Mi"
	// NodeJobMaxResultSizeLimit is the largest allowed resultLimits.maxResultSize.
	NodeJobMaxResultSizeLimit = "8Mi"
	// DefaultNodeJobMaxFileSize is the default of resultLimits.maxFileSize.
	DefaultNodeJobMaxFileSize = "10Mi"
	// NodeJobMaxFileSizeLimit is the largest allowed resultLimits.maxFileSize.
	NodeJobMaxFileSizeLimit = "1Gi"
	// DefaultNodeJobMaxFilesPerNode is the default of resultLimits.maxFilesPerNode.
	DefaultNodeJobMaxFilesPerNode int32 = 20
	// NodeJobMaxFilesPerNodeLimit is the largest allowed resultLimits.maxFilesPerNode.
	NodeJobMaxFilesPerNodeLimit int32 = 1000
	// DefaultNodeJobMaxRunStorage is the default of resultLimits.maxRunStorage.
	DefaultNodeJobMaxRunStorage = "1Gi"
	// DefaultNodeJobMaxEventsPerNode is the default of resultLimits.maxEventsPerNode.
	DefaultNodeJobMaxEventsPerNode int32 = 50
	// NodeJobMaxEventsPerNodeLimit is the largest allowed resultLimits.maxEventsPerNode.
	NodeJobMaxEventsPerNodeLimit int32 = 1000
	// DefaultNodeJobMaxLogSize is the default of resultLimits.maxLogSize.
	DefaultNodeJobMaxLogSize = "10Mi"
	// DefaultNodeJobMaxSeriesPerNode is the default of resultLimits.maxSeriesPerNode.
	DefaultNodeJobMaxSeriesPerNode int32 = 1000
	// NodeJobMaxSeriesPerNodeLimit is the largest allowed resultLimits.maxSeriesPerNode.
	NodeJobMaxSeriesPerNodeLimit int32 = 10000
	// NodeJobMaxGaugeHelpLength is the longest help text of a gauge.
	NodeJobMaxGaugeHelpLength = 1024
)

// Environment variables the operator injects into every container and init container of a NodeJob pod, after the
// template's own env. The template must not define any of them.
const (
	// NodeJobEnvExecutionID holds spec.executionID of the run.
	NodeJobEnvExecutionID = "EXECUTION_ID"
	// NodeJobEnvNamespace holds the namespace of the NodeJob and of the pod.
	NodeJobEnvNamespace = "NAMESPACE"
	// NodeJobEnvNodeName holds the full name of the target node.
	NodeJobEnvNodeName = "NODE_NAME"
	// NodeJobEnvCallbackServiceName holds the DNS name of the results Service.
	NodeJobEnvCallbackServiceName = "CALLBACK_SERVICE_NAME"
	// NodeJobEnvCallbackServicePort holds the port of the results Service.
	NodeJobEnvCallbackServicePort = "CALLBACK_SERVICE_PORT"
	// NodeJobEnvCallbackServiceResultURL holds the URL the pod posts its result to.
	NodeJobEnvCallbackServiceResultURL = "CALLBACK_SERVICE_RESULT_URL"
	// NodeJobEnvCallbackServiceFileURL holds the URL the pod posts files to.
	NodeJobEnvCallbackServiceFileURL = "CALLBACK_SERVICE_FILE_URL"
	// NodeJobEnvCallbackServiceEventURL holds the URL the pod posts events to.
	NodeJobEnvCallbackServiceEventURL = "CALLBACK_SERVICE_EVENT_URL"
	// NodeJobEnvCallbackServiceTokenFile holds the path of the token the pod presents to the results API.
	NodeJobEnvCallbackServiceTokenFile = "CALLBACK_SERVICE_TOKEN_FILE"
	// NodeJobEnvCallbackServiceCAFile holds the path of the CA bundle that signs the results API certificate.
	NodeJobEnvCallbackServiceCAFile = "CALLBACK_SERVICE_CA_FILE"
)

// NodeJobReservedEnvNames lists every environment variable the operator injects into NodeJob pods.
var NodeJobReservedEnvNames = []string{
	NodeJobEnvExecutionID,
	NodeJobEnvNamespace,
	NodeJobEnvNodeName,
	NodeJobEnvCallbackServiceName,
	NodeJobEnvCallbackServicePort,
	NodeJobEnvCallbackServiceResultURL,
	NodeJobEnvCallbackServiceFileURL,
	NodeJobEnvCallbackServiceEventURL,
	NodeJobEnvCallbackServiceTokenFile,
	NodeJobEnvCallbackServiceCAFile,
}

// IsNodeJobReservedEnvName reports whether the operator injects an environment variable of this name.
func IsNodeJobReservedEnvName(name string) bool {
	return slices.Contains(NodeJobReservedEnvNames, name)
}

// The results volume the operator adds to every NodeJob pod.
const (
	// NodeJobResultsVolumeName is the name of the projected volume with the results token and CA.
	// A template must not define a volume of this name.
	NodeJobResultsVolumeName = "jobkeeper-results"
	// NodeJobResultsMountPath is where the results volume is mounted read-only in every container.
	NodeJobResultsMountPath = "/var/run/secrets/jobkeeper/results"
	// NodeJobResultsTokenFile is the file name of the token inside the results volume.
	NodeJobResultsTokenFile = "token"
	// NodeJobResultsCAFile is the file name of the CA bundle inside the results volume.
	NodeJobResultsCAFile = "ca.crt"
)

// Gauge suffixes and labels of NodeJob metrics that the operator sets itself.
const (
	// NodeJobMetricSuffixProcessing is the suffix of the gauge that is 0 once a node's result is accepted, and 1
	// when its pod fails or succeeds without a result.
	NodeJobMetricSuffixProcessing = "processing"
	// NodeJobMetricSuffixDuration is the suffix of the gauge holding the milliseconds from pod creation until the
	// pod ended.
	NodeJobMetricSuffixDuration = "duration"
	// NodeJobMetricSuffixPods is the suffix of the gauge holding status.desired of the newest run.
	NodeJobMetricSuffixPods = "pods"
	// NodeJobMetricSuffixCurrentExecutionID is the suffix of the gauge holding the 12 leading digits of the newest
	// execution ID.
	NodeJobMetricSuffixCurrentExecutionID = "current_execution_id"

	// NodeJobMetricLabelNamespace is the label holding the namespace of the NodeJob.
	NodeJobMetricLabelNamespace = "namespace"
	// NodeJobMetricLabelNodeJob is the label holding the name of the NodeJob.
	NodeJobMetricLabelNodeJob = "nodejob"
	// NodeJobMetricLabelNode is the label holding the node name. A gauge may list it.
	NodeJobMetricLabelNode = "node"
	// NodeJobMetricLabelExecutionID is the label holding the execution ID. A gauge may list it.
	NodeJobMetricLabelExecutionID = "executionID"
	// NodeJobLatestExecutionID is the executionID label value of the series kept with latestMetricsLabel.
	NodeJobLatestExecutionID = "latest"
)

// NodeJobReservedGaugeSuffixes lists the gauge suffixes the operator uses itself.
var NodeJobReservedGaugeSuffixes = []string{
	NodeJobMetricSuffixProcessing,
	NodeJobMetricSuffixDuration,
	NodeJobMetricSuffixPods,
	NodeJobMetricSuffixCurrentExecutionID,
}

// NodeJobReservedGaugeLabels lists the labels the operator sets on every series; a gauge must not list them.
var NodeJobReservedGaugeLabels = []string{
	NodeJobMetricLabelNamespace,
	NodeJobMetricLabelNodeJob,
}

// NodeJobForbiddenMetricPrefixes lists the prefixes a NodeJob metrics prefix must not start with, because they
// belong to the operator's own metrics.
var NodeJobForbiddenMetricPrefixes = []string{
	"jobkeeper",
	"controller_runtime",
	"workqueue",
	"rest_client",
	"go_",
	"process_",
	"leader_election",
}

// NodeJobFailurePolicy says what a run does when the pod of a node fails.
// +kubebuilder:validation:Enum=Continue;FailFast;Pause
type NodeJobFailurePolicy string

const (
	// NodeJobFailurePolicyContinue runs the remaining nodes; the run fails at the end if any node failed.
	NodeJobFailurePolicyContinue NodeJobFailurePolicy = "Continue"
	// NodeJobFailurePolicyFailFast starts no more pods and fails the run.
	NodeJobFailurePolicyFailFast NodeJobFailurePolicy = "FailFast"
	// NodeJobFailurePolicyPause starts no more pods and pauses the run until spec.paused is cleared.
	NodeJobFailurePolicyPause NodeJobFailurePolicy = "Pause"
)

// NodeJobCallerIdentity is how the results API identifies the pod behind a request.
// +kubebuilder:validation:Enum=Token;PodIP
type NodeJobCallerIdentity string

const (
	// NodeJobCallerIdentityToken identifies the pod by its projected service-account token.
	NodeJobCallerIdentityToken NodeJobCallerIdentity = "Token"
	// NodeJobCallerIdentityPodIP identifies a request without a token by its source address.
	NodeJobCallerIdentityPodIP NodeJobCallerIdentity = "PodIP"
)

// NodeJobGauge declares one gauge that the pods of a NodeJob may report.
type NodeJobGauge struct {
	// help is the help text of the gauge.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Help string `json:"help"`

	// labels are the labels a result may set on the gauge, besides namespace and nodejob, which the operator
	// sets. node and executionID may be listed. Each must match ^[a-zA-Z_][a-zA-Z0-9_]*$ and must not start
	// with "__".
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	Labels []string `json:"labels,omitempty"`
}

// NodeJobMetrics declares the gauges that the pods of a NodeJob may report.
type NodeJobMetrics struct {
	// prefix is put before every gauge name, as <prefix>_<suffix>.
	// It must not start with jobkeeper, controller_runtime, workqueue, rest_client, go_, process_ or
	// leader_election.
	// +optional
	// +kubebuilder:default=nodejob
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_:][a-zA-Z0-9_:]*$`
	// +kubebuilder:validation:XValidation:rule="!['jobkeeper', 'controller_runtime', 'workqueue', 'rest_client', 'go_', 'process_', 'leader_election'].exists(p, self.startsWith(p))",message="must not start with jobkeeper, controller_runtime, workqueue, rest_client, go_, process_ or leader_election",reason=FieldValueInvalid
	Prefix string `json:"prefix,omitempty"`

	// gauges maps a gauge suffix to its declaration. A suffix must match ^[a-zA-Z_][a-zA-Z0-9_]*$ and must not
	// be processing, duration, pods or current_execution_id, which the operator reports itself.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.processing) && !has(self.duration) && !has(self.pods) && !has(self.current_execution_id)",message="the suffixes processing, duration, pods and current_execution_id are reserved",reason=FieldValueInvalid
	Gauges map[string]NodeJobGauge `json:"gauges,omitempty"`
}

// NodeJobResultLimits bounds what the pods of one run may send to the results API and what is stored for it.
type NodeJobResultLimits struct {
	// maxResultSize is the largest result body, at most 8Mi.
	// +optional
	// +kubebuilder:default="1Mi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0')) && quantity(string(self)).compareTo(quantity('8Mi')) <= 0",message="must be greater than 0 and at most 8Mi",reason=FieldValueInvalid
	MaxResultSize *resource.Quantity `json:"maxResultSize,omitempty"`

	// maxFileSize is the largest uploaded file, at most 1Gi.
	// +optional
	// +kubebuilder:default="10Mi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0')) && quantity(string(self)).compareTo(quantity('1Gi')) <= 0",message="must be greater than 0 and at most 1Gi",reason=FieldValueInvalid
	MaxFileSize *resource.Quantity `json:"maxFileSize,omitempty"`

	// maxFilesPerNode is the number of files one node may upload per run.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxFilesPerNode *int32 `json:"maxFilesPerNode,omitempty"`

	// maxRunStorage is the number of bytes stored for one run: files, results and logs.
	// +optional
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0'))",message="must be greater than 0",reason=FieldValueInvalid
	MaxRunStorage *resource.Quantity `json:"maxRunStorage,omitempty"`

	// maxEventsPerNode is the number of events one node may send per run.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxEventsPerNode *int32 `json:"maxEventsPerNode,omitempty"`

	// maxLogSize is the number of bytes kept of each saved container log.
	// +optional
	// +kubebuilder:default="10Mi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0'))",message="must be greater than 0",reason=FieldValueInvalid
	MaxLogSize *resource.Quantity `json:"maxLogSize,omitempty"`

	// maxSeriesPerNode is the number of gauge series one node may report per run.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxSeriesPerNode *int32 `json:"maxSeriesPerNode,omitempty"`
}

// NodeJobRunTemplate holds the fields of a NodeJob that are copied into every NodeJobRun when it is created.
type NodeJobRunTemplate struct {
	// nodeSelector selects the nodes to run on, together with the template's nodeSelector and required node
	// affinity. Unset or empty selects every node.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`

	// includeUnschedulable also runs on nodes marked unschedulable, and adds a toleration for them.
	// +optional
	// +kubebuilder:default=false
	IncludeUnschedulable bool `json:"includeUnschedulable,omitempty"`

	// includeNotReady also runs on nodes that are not Ready, and adds tolerations for them.
	// +optional
	// +kubebuilder:default=false
	IncludeNotReady bool `json:"includeNotReady,omitempty"`

	// parallelism is the number of pods that run at once: an integer of at least 1, or a percentage
	// "<1-100>%" of the selected nodes, rounded up and at least 1.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 : self.matches('^([1-9][0-9]?|100)%$')",message="must be an integer of at least 1 or a percentage from 1% to 100%",reason=FieldValueInvalid
	Parallelism *intstr.IntOrString `json:"parallelism,omitempty"`

	// activeDeadlineSeconds is the time a run may take, counted from its start. When it has passed, the
	// remaining pods are stopped and the run fails.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// podActiveDeadlineSeconds is the time each pod may take, counted from its creation. It is used as the
	// pod's activeDeadlineSeconds when the template does not set one.
	// +optional
	// +kubebuilder:validation:Minimum=1
	PodActiveDeadlineSeconds *int64 `json:"podActiveDeadlineSeconds,omitempty"`

	// failurePolicy says what happens when a node's pod fails: Continue (default) runs the remaining nodes,
	// FailFast fails the run at once, Pause stops starting pods until spec.paused of the run is cleared.
	// +optional
	// +kubebuilder:default=Continue
	FailurePolicy NodeJobFailurePolicy `json:"failurePolicy,omitempty"`

	// template is the pod run on each selected node. Its restartPolicy must be Never (used when unset) or
	// OnFailure, and its containers must not define the environment variables the operator injects.
	// +required
	// +kubebuilder:validation:XValidation:rule="!has(self.spec) || !has(self.spec.restartPolicy) || self.spec.restartPolicy in ['Never', 'OnFailure']",message="Unsupported value: supported values: \"Never\", \"OnFailure\"",fieldPath=".spec.restartPolicy",reason=FieldValueInvalid
	Template corev1.PodTemplateSpec `json:"template"`

	// metrics declares the gauges the pods may report through the results API.
	// +optional
	// +kubebuilder:default={}
	Metrics NodeJobMetrics `json:"metrics,omitzero"`

	// latestMetricsLabel also exports every result, processing and duration series with executionID="latest",
	// showing the newest run that has data for that node.
	// +optional
	// +kubebuilder:default=false
	LatestMetricsLabel bool `json:"latestMetricsLabel,omitempty"`

	// savePodLogs saves the logs of every container when its pod ends.
	// +optional
	// +kubebuilder:default=false
	SavePodLogs bool `json:"savePodLogs,omitempty"`

	// resultLimits bounds what the pods of a run may send and what is stored.
	// +optional
	// +kubebuilder:default={}
	ResultLimits NodeJobResultLimits `json:"resultLimits,omitzero"`

	// callerIdentity is how the results API tells which pod a request comes from. Token (default): the pod
	// sends its projected service-account token (the file in CALLBACK_SERVICE_TOKEN_FILE). PodIP: a request
	// without a token is taken to come from the run's pod that has its source address, so job scripts written
	// for batch-job-controller post unchanged; a request with a token is still checked by its token. Choose
	// PodIP only where a pod cannot send with another pod's address: the pods must not use the host network
	// (rejected at admission), and the cluster network must drop packets whose source is not the sending pod's
	// IP, as most CNI plugins do.
	// +optional
	// +kubebuilder:default=Token
	CallerIdentity NodeJobCallerIdentity `json:"callerIdentity,omitempty"`
}

// NodeJobSpec defines the desired state of a NodeJob.
// +kubebuilder:validation:XValidation:rule="!has(self.callerIdentity) || self.callerIdentity != 'PodIP' || !has(self.template.spec) || !has(self.template.spec.hostNetwork) || !self.template.spec.hostNetwork",message="callerIdentity PodIP cannot be used with pods on the host network: every pod of the node would share the node's address",fieldPath=".callerIdentity",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.template.spec) || !has(self.template.spec.restartPolicy) || self.template.spec.restartPolicy != 'OnFailure' || has(self.podActiveDeadlineSeconds) || has(self.template.spec.activeDeadlineSeconds)",message="restartPolicy OnFailure needs podActiveDeadlineSeconds or template.spec.activeDeadlineSeconds, otherwise a pod that keeps failing never ends",fieldPath=".podActiveDeadlineSeconds",reason=FieldValueRequired
type NodeJobSpec struct {
	// schedule is a 5-field cron expression or one of the descriptors @yearly, @annually, @monthly, @weekly,
	// @daily, @midnight, @hourly or @every <duration>. Without it, runs come only from runOnCreate and run
	// requests.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('TZ=') && !self.startsWith('CRON_TZ=')",message="time zone prefixes are not supported, use spec.timeZone instead",reason=FieldValueInvalid
	Schedule string `json:"schedule,omitempty"`

	// timeZone is the IANA name of the time zone the schedule is read in. UTC is used when it is unset;
	// "" and "Local" are not allowed.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self != 'Local'",message="must be an IANA time zone name, not Local",reason=FieldValueInvalid
	TimeZone *string `json:"timeZone,omitempty"`

	// suspend stops new runs, including requested ones, which wait until it is cleared. Active runs continue.
	// +optional
	// +kubebuilder:default=false
	Suspend bool `json:"suspend,omitempty"`

	// startingDeadlineSeconds is how late a missed tick may still start a run.
	// Unset means any missed tick may.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// concurrencyPolicy says what happens when a run is due while another is active: Forbid (default) skips
	// the tick or keeps a run request waiting, Allow starts the new run as well, Replace stops the active run
	// first.
	// +optional
	// +kubebuilder:default=Forbid
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// runOnCreate starts one run when the NodeJob has never run.
	// +optional
	// +kubebuilder:default=false
	RunOnCreate bool `json:"runOnCreate,omitempty"`

	// NodeJobRunTemplate holds the fields that are copied into every run.
	NodeJobRunTemplate `json:",inline"`

	// successfulRunsHistoryLimit is the number of finished successful runs to keep.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty"`

	// failedRunsHistoryLimit is the number of finished failed runs to keep.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty"`
}

// NodeJobLastRun summarises the newest run of a NodeJob.
type NodeJobLastRun struct {
	// name is the name of the run.
	// +required
	Name string `json:"name"`

	// executionID is the execution ID of the run.
	// +optional
	ExecutionID string `json:"executionID,omitempty"`

	// phase is the phase of the run.
	// +optional
	Phase NodeJobRunPhase `json:"phase,omitempty"`

	// reason is the reason of the run's phase.
	// +optional
	Reason string `json:"reason,omitempty"`

	// startTime is when the run started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the run finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// desired is the number of nodes that get a pod.
	// +optional
	Desired int32 `json:"desired,omitempty"`

	// succeeded is the number of nodes whose pod succeeded.
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`

	// failed is the number of nodes whose pod failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`

	// skipped is the number of nodes that were skipped.
	// +optional
	Skipped int32 `json:"skipped,omitempty"`
}

// NodeJobStatus defines the observed state of a NodeJob.
type NodeJobStatus struct {
	// conditions are Ready, Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastScheduleTime is the last tick that was handled: a run was created, skipped or missed.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// lastSuccessfulTime is the completion time of the last run that succeeded.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// nextScheduleTime is the next tick, when there is a schedule and the NodeJob is not suspended.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// active references the runs that have not finished.
	// +listType=atomic
	// +optional
	Active []corev1.ObjectReference `json:"active,omitempty"`

	// lastRun summarises the newest run: its phase as it changes, with the counts the run had when it entered the
	// phase; once the run has finished, its final counts. The run's own status has the current counts.
	// +optional
	LastRun *NodeJobLastRun `json:"lastRun,omitempty"`

	// runCount is the number of runs created so far.
	// +optional
	RunCount int64 `json:"runCount,omitempty"`

	// lastHandledRunRequest is the last value of the batch.cs.sap.com/run-request annotation that was acted on.
	// +optional
	LastHandledRunRequest string `json:"lastHandledRunRequest,omitempty"`

	// runRequestCount is the number of run requests acted on so far; it never decreases. The run of request n
	// is named from its token and n, so a token used before (a, b, a) is a new request with a run of its own.
	// +optional
	RunRequestCount int64 `json:"runRequestCount,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=njob;njobs,categories=jobkeeper
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last Schedule",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Last Run",type=string,JSONPath=`.status.lastRun.name`
// +kubebuilder:printcolumn:name="Result",type=string,JSONPath=`.status.lastRun.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="metadata.name: Too long: may not be more than 52 characters (run and pod names are derived from it)"

// NodeJob runs one pod on each selected node, on a cron schedule or on demand, and keeps each execution as a
// NodeJobRun.
type NodeJob struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec defines the schedule, the nodes and the pod to run.
	// +required
	Spec NodeJobSpec `json:"spec"`

	// status follows the schedule and the runs.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status NodeJobStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// NodeJobList contains a list of NodeJob.
type NodeJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []NodeJob `json:"items"`
}

func init() {
	SchemeBuilder.Register(&NodeJob{}, &NodeJobList{})
}
