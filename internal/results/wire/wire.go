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

// Package wire holds the request and response bodies of the jobkeeper results
// API, shared by the server and by the clients that run in job pods. It has no
// dependencies beyond the standard library, so that the sidecar binary stays
// small.
package wire

import "encoding/base64"

// Paths of the routes.
const (
	// QuarksJobWaitPath is the long poll a QuarksJob output sidecar calls until the user containers have ended.
	QuarksJobWaitPath = "/quarksjob/v1/wait"
	// QuarksJobOutputPath is where a QuarksJob output sidecar posts the files of every container.
	QuarksJobOutputPath = "/quarksjob/v1/output"
	// NodeJobReportPrefix starts the NodeJob upload routes /report/<node>/<executionID>/{result,file,event}.
	NodeJobReportPrefix = "/report/"
)

// Fixed locations inside a job pod.
const (
	// DefaultTokenFile is the projected service-account token a job pod presents.
	DefaultTokenFile = "/var/run/secrets/jobkeeper/results/token"
	// DefaultCAFile is the CA bundle that signs the results API certificate.
	DefaultCAFile = "/var/run/secrets/jobkeeper/results/ca.crt"
)

// Reasons of error bodies. Every reason is UpperCamelCase.
const (
	ReasonInvalidRequest    = "InvalidRequest"
	ReasonUnauthenticated   = "Unauthenticated"
	ReasonForbidden         = "Forbidden"
	ReasonNotFound          = "NotFound"
	ReasonMethodNotAllowed  = "MethodNotAllowed"
	ReasonRunFinished       = "RunFinished"
	ReasonRunNotActive      = "RunNotActive"
	ReasonContainersRunning = "ContainersRunning"
	ReasonMetricConflict    = "MetricConflict"
	ReasonOutputInvalid     = "OutputInvalid"
	ReasonOutputMissing     = "OutputMissing"
	ReasonOutputConflict    = "OutputConflict"
	ReasonTooLarge          = "TooLarge"
	ReasonTooManyRequests   = "TooManyRequests"
	ReasonUnavailable       = "Unavailable"
	ReasonInternalError     = "InternalError"
)

// Error is the body of every error answer.
type Error struct {
	// Code repeats the HTTP status code.
	Code int `json:"code"`
	// Reason is an UpperCamelCase word that programs can branch on.
	Reason string `json:"reason"`
	// Message explains the error to a person.
	Message string `json:"message"`
}

// OutputFile is one file in a QuarksJob output upload: either Data (standard
// base64) or Missing is set.
type OutputFile struct {
	// Container is the name of the container that wrote the file.
	Container string `json:"container"`
	// File is the base name of the file under /mnt/quarks/<container>/.
	File string `json:"file"`
	// Data is the content of the file in standard base64; absent when Missing is true.
	Data *string `json:"data,omitempty"`
	// Missing is true when the file did not exist after the container ended.
	Missing bool `json:"missing,omitempty"`
}

// FileOutput returns the OutputFile of a file that was read.
func FileOutput(container, file string, data []byte) OutputFile {
	enc := base64.StdEncoding.EncodeToString(data)
	return OutputFile{Container: container, File: file, Data: &enc}
}

// MissingOutput returns the OutputFile of a file that did not exist.
func MissingOutput(container, file string) OutputFile {
	return OutputFile{Container: container, File: file, Missing: true}
}

// OutputRequest is the body of POST /quarksjob/v1/output.
type OutputRequest struct {
	// Files lists every mapped file of every container.
	Files []OutputFile `json:"files"`
}

// OutputResponse is the answer to a successful POST /quarksjob/v1/output.
type OutputResponse struct {
	// Secrets are the names of the Secrets written, sorted.
	Secrets []string `json:"secrets"`
}

// ContainerState is the outcome of one user container.
type ContainerState struct {
	// ExitCode is the exit code of the container.
	ExitCode int32 `json:"exitCode"`
}

// WaitFile names one file the sidecar must upload.
type WaitFile struct {
	// Container is the name of the container that writes the file.
	Container string `json:"container"`
	// File is the base name of the file.
	File string `json:"file"`
}

// WaitResponse is the answer of GET /quarksjob/v1/wait once every user container has ended.
type WaitResponse struct {
	// Containers maps each user container to its outcome.
	Containers map[string]ContainerState `json:"containers"`
	// Files lists the files to upload, from the Job's output-spec snapshot.
	Files []WaitFile `json:"files"`
}

// ResultItem is one series of a NodeJob result.
type ResultItem struct {
	// Value is the gauge value.
	Value float64 `json:"value"`
	// Labels are the label values of the series.
	Labels map[string]string `json:"labels,omitempty"`
}

// ResultRequest is the body of POST /report/<node>/<executionID>/result: gauge suffix to series.
type ResultRequest map[string][]ResultItem

// ResultResponse is the answer to an accepted result.
type ResultResponse struct {
	// Accepted is the number of series accepted.
	Accepted int `json:"accepted"`
	// Ignored is the number of items ignored because their suffix or one of their labels is not declared.
	Ignored int `json:"ignored,omitempty"`
	// IgnoredSuffixes names (up to 10) undeclared suffixes of ignored items.
	IgnoredSuffixes []string `json:"ignoredSuffixes,omitempty"`
	// IgnoredLabels names (up to 10) undeclared labels of ignored items.
	IgnoredLabels []string `json:"ignoredLabels,omitempty"`
}

// FilesResponse is the answer to an accepted file upload.
type FilesResponse struct {
	// Files are the stored (sanitised) file names.
	Files []string `json:"files"`
}

// EventRequest is the body of POST /report/<node>/<executionID>/event.
type EventRequest struct {
	// Warning makes the Event a Warning instead of Normal.
	Warning bool `json:"warning,omitempty"`
	// Reason is an UpperCamelCase reason of at most 128 characters.
	Reason string `json:"reason"`
	// Action is what was done, at most 128 characters; "n/a" when empty.
	Action string `json:"action,omitempty"`
	// Message is the note, or a printf format applied to Args.
	Message string `json:"message"`
	// Args are the printf arguments of Message.
	Args []string `json:"args,omitempty"`
}
