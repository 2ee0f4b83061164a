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

// Package resultsclient is the Go client of the jobkeeper results API, for programs that run in job pods: a NodeJob
// pod reports its result (gauge series), files and events; a QuarksJob pod's output sidecar waits for the other
// containers and uploads their output files.
//
// The client presents the pod's projected service-account token, read again before every attempt (the kubelet
// rotates it), trusts only the CA bundle mounted next to it (reloaded when it changes), and retries connection errors,
// 500, 502, 503, 504 and rate-limit 429 answers with exponential backoff, honouring Retry-After. Any other error
// answer comes back as an *APIError carrying the status code and the decoded body, whose Reason programs can branch on
// (ReasonRunFinished, ReasonTooLarge, ...).
//
// A NodeJob pod finds the URLs, the token and the CA in its environment (see NodeJobEnv); the operator sets them on
// every container of the pod template. The API is described in docs/results-api.md of the jobkeeper repository.
//
// This package is the stable import path of the client, usable from other modules; it depends on the standard
// library only.
package resultsclient

import (
	"os"

	"github.com/jobkeeper/jobkeeper/internal/results/client"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// Client calls the results API. It is safe for concurrent use.
type Client = client.Client

// Options configure a Client: BaseURL (for relative paths), TokenFile and CAFile (DefaultTokenFile and DefaultCAFile
// when empty), and the retry policy.
type Options = client.Options

// Request is one call of Client.Do, for routes the typed methods do not cover.
type Request = client.Request

// APIError is an error answer of the results API.
type APIError = client.APIError

// New creates a Client. It fails when the BaseURL is not https or the CA bundle cannot be read.
func New(opts Options) (*Client, error) {
	return client.New(opts)
}

// Defaults of Options.
const (
	DefaultInitialBackoff = client.DefaultInitialBackoff
	DefaultMaxBackoff     = client.DefaultMaxBackoff
	DefaultMaxRetryAfter  = client.DefaultMaxRetryAfter
	DefaultAttemptTimeout = client.DefaultAttemptTimeout
)

// Where the operator mounts the projected token and the CA bundle of the results API in job pods.
const (
	DefaultTokenFile = wire.DefaultTokenFile
	DefaultCAFile    = wire.DefaultCAFile
)

// The routes of the results API: QuarksJob output sidecars call the first two; a NodeJob pod's routes are
// NodeJobReportPrefix + <node>/<executionID>/{result,file,event}, which its environment names in full.
const (
	QuarksJobWaitPath   = wire.QuarksJobWaitPath
	QuarksJobOutputPath = wire.QuarksJobOutputPath
	NodeJobReportPrefix = wire.NodeJobReportPrefix
)

// The request and answer bodies.
type (
	// ResultRequest is a NodeJob result: gauge suffix to series.
	ResultRequest = wire.ResultRequest
	// ResultItem is one series of a NodeJob result.
	ResultItem = wire.ResultItem
	// ResultResponse is the answer to an accepted NodeJob result.
	ResultResponse = wire.ResultResponse
	// FilesResponse is the answer to an accepted NodeJob file upload.
	FilesResponse = wire.FilesResponse
	// EventRequest is a NodeJob event, regarding the pod and related to its run.
	EventRequest = wire.EventRequest
	// OutputRequest is the upload of a QuarksJob pod's output files.
	OutputRequest = wire.OutputRequest
	// OutputFile is one file of an OutputRequest.
	OutputFile = wire.OutputFile
	// OutputResponse is the answer to an accepted output upload.
	OutputResponse = wire.OutputResponse
	// WaitResponse is the outcome of a QuarksJob pod's containers, the answer of Client.Wait.
	WaitResponse = wire.WaitResponse
	// WaitFile names one file a QuarksJob output sidecar must upload.
	WaitFile = wire.WaitFile
	// ContainerState is the outcome of one container.
	ContainerState = wire.ContainerState
	// Error is the body of every error answer.
	Error = wire.Error
)

// FileOutput returns the OutputFile of a file that was read.
func FileOutput(container, file string, data []byte) OutputFile {
	return wire.FileOutput(container, file, data)
}

// MissingOutput returns the OutputFile of a file that did not exist.
func MissingOutput(container, file string) OutputFile {
	return wire.MissingOutput(container, file)
}

// The reasons of error answers (Error.Reason, APIError.Body.Reason).
const (
	ReasonInvalidRequest    = wire.ReasonInvalidRequest
	ReasonUnauthenticated   = wire.ReasonUnauthenticated
	ReasonForbidden         = wire.ReasonForbidden
	ReasonNotFound          = wire.ReasonNotFound
	ReasonMethodNotAllowed  = wire.ReasonMethodNotAllowed
	ReasonRunFinished       = wire.ReasonRunFinished
	ReasonRunNotActive      = wire.ReasonRunNotActive
	ReasonContainersRunning = wire.ReasonContainersRunning
	ReasonMetricConflict    = wire.ReasonMetricConflict
	ReasonOutputInvalid     = wire.ReasonOutputInvalid
	ReasonOutputMissing     = wire.ReasonOutputMissing
	ReasonOutputConflict    = wire.ReasonOutputConflict
	ReasonTooLarge          = wire.ReasonTooLarge
	ReasonTooManyRequests   = wire.ReasonTooManyRequests
	ReasonUnavailable       = wire.ReasonUnavailable
	ReasonInternalError     = wire.ReasonInternalError
)

// The environment variables the operator sets on the containers of NodeJob pods.
const (
	EnvResultURL = "CALLBACK_SERVICE_RESULT_URL"
	EnvFileURL   = "CALLBACK_SERVICE_FILE_URL"
	EnvEventURL  = "CALLBACK_SERVICE_EVENT_URL"
	EnvTokenFile = "CALLBACK_SERVICE_TOKEN_FILE"
	EnvCAFile    = "CALLBACK_SERVICE_CA_FILE"
)

// NodeJobEnv is what a NodeJob pod is told about the results API: the URLs of its node's result, file and event
// routes in the current run, and where its token and the CA bundle are mounted.
type NodeJobEnv struct {
	ResultURL string
	FileURL   string
	EventURL  string
	TokenFile string
	CAFile    string
}

// LookupNodeJobEnv reads NodeJobEnv from the environment.
func LookupNodeJobEnv() NodeJobEnv {
	return NodeJobEnv{
		ResultURL: os.Getenv(EnvResultURL),
		FileURL:   os.Getenv(EnvFileURL),
		EventURL:  os.Getenv(EnvEventURL),
		TokenFile: os.Getenv(EnvTokenFile),
		CAFile:    os.Getenv(EnvCAFile),
	}
}

// Options returns client options with the token and CA files of the environment (the defaults when unset).
func (e NodeJobEnv) Options() Options {
	return Options{TokenFile: e.TokenFile, CAFile: e.CAFile}
}
