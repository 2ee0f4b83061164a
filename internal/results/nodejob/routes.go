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
	"errors"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// Defaults of Options.
const (
	// FamilyName names the NodeJob routes in logs and rate-limit keys.
	FamilyName = "nodejob"
	// DefaultRequestsPerMinute is the rate limit per pod.
	DefaultRequestsPerMinute = 60
	// DefaultReportDir is the default report root.
	DefaultReportDir = "/var/lib/jobkeeper/reports"
	// DefaultMaxFileRequestBytes bounds a file upload request: the largest maxFileSize plus room for the
	// multipart framing.
	DefaultMaxFileRequestBytes = 1<<30 + 1<<20
	// maxEventRequestBytes bounds an event request.
	maxEventRequestBytes = 64 << 10
)

// Sink receives validated reports; the NodeJob controller implements it. Its
// methods return *results.Error values to choose the answer (for instance 409
// MetricConflict, 429 for the event quota, 503 for API failures); they must
// be safe for concurrent use.
type Sink interface {
	// Result stores a node's result durably (result.json and the node's record) and its series; it
	// returns only once the result is durable.
	Result(ctx context.Context, t *Target, r *Result) error
	// FilesStored records files that the report store has just written (node files and run storageBytes).
	FilesStored(ctx context.Context, t *Target, files []reports.StoredFile) error
	// Event creates the Event regarding the pod, related to the run.
	Event(ctx context.Context, t *Target, e *Event) error
}

// Options configure the NodeJob routes.
type Options struct {
	// Store is the report store; when nil, one is opened at ReportDir.
	Store *reports.FileStore
	// ReportDir is the report root when Store is nil; DefaultReportDir when empty.
	ReportDir string
	// Sink receives validated reports. Without one, every route answers 503.
	Sink Sink
	// PodReader reads pods; New uses the manager's API reader, so no pod informer is needed.
	PodReader client.Reader
	// PodCacheTTL is how long a caller's pod is remembered; results.DefaultPodCacheTTL when 0, not at all
	// when negative.
	PodCacheTTL time.Duration
	// RunReader reads NodeJobRuns; New uses the manager's cached client.
	RunReader client.Reader
	// PodsByIP reads the pods of runs by IP (a cache indexed on labelcache.PodIPIndex, such as the NodeJobRun
	// controller's). With it, a request without a token from a pod of a run with callerIdentity PodIP is
	// identified by its source address; without it, every request needs a token.
	PodsByIP client.Reader
	// AddressWait is how long a request without a token waits for the pod cache to learn its source address (a
	// pod's first request can come before the kubelet has reported its IP); DefaultAddressWait when 0.
	AddressWait time.Duration
	// RequestsPerMinute is the rate limit per pod; DefaultRequestsPerMinute when 0, none when negative.
	RequestsPerMinute int
	// AnyReplica lets every replica accept reports. Leave it false unless the report directory is shared and
	// the Sink keeps no state in the leader's process.
	AnyReplica bool
	// MaxFileRequestBytes bounds a file upload request; DefaultMaxFileRequestBytes when 0.
	MaxFileRequestBytes int64
	// NewFileName generates the name of a file sent without one; a random UUID when nil.
	NewFileName func() string
	// Observe, when set, is called with the status code of every answered request.
	Observe func(code int)
	// Rejected, when set, counts rejected requests: every 401 and 429 with empty namespace and NodeJob (the
	// server answers most of them before the caller is tied to a run), every other rejection with the
	// run's namespace and NodeJob when they are known.
	Rejected func(namespace, nodeJob string, code int)
}

// Routes are the NodeJob upload routes.
type Routes struct {
	opts  Options
	auth  *Authorizer
	store *reports.FileStore
}

// New creates the NodeJob routes with the manager's readers.
func New(mgr manager.Manager, opts Options) (*Routes, error) {
	if opts.PodReader == nil {
		opts.PodReader = mgr.GetAPIReader()
	}
	if opts.RunReader == nil {
		opts.RunReader = mgr.GetClient()
	}
	return NewRoutes(opts)
}

// NewRoutes creates the NodeJob routes; the readers must be set.
func NewRoutes(opts Options) (*Routes, error) {
	if opts.PodReader == nil || opts.RunReader == nil {
		return nil, errors.New("nodejob routes need a pod reader and a run reader")
	}
	if opts.ReportDir == "" {
		opts.ReportDir = DefaultReportDir
	}
	if opts.RequestsPerMinute == 0 {
		opts.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if opts.MaxFileRequestBytes == 0 {
		opts.MaxFileRequestBytes = DefaultMaxFileRequestBytes
	}
	store := opts.Store
	if store == nil {
		var err error
		if store, err = reports.NewFileStore(opts.ReportDir); err != nil {
			return nil, err
		}
	}
	return &Routes{
		opts: opts,
		auth: &Authorizer{Pods: results.NewPodReader(opts.PodReader, opts.PodCacheTTL, nil), RunReader: opts.RunReader,
			Store: store},
		store: store,
	}, nil
}

// Store is the file store under the report root, for the Sink (result.json)
// and for run cleanup.
func (r *Routes) Store() *reports.FileStore {
	return r.store
}

// Family returns the routes for the results server.
func (r *Routes) Family() results.Family {
	maxResult := resource.MustParse(batchv1alpha1.NodeJobMaxResultSizeLimit)
	return results.Family{
		Name:              FamilyName,
		RequestsPerMinute: max(r.opts.RequestsPerMinute, 0),
		LeaderOnly:        !r.opts.AnyReplica,
		Observe:           r.observe,
		SourceIdentity:    r.sourceIdentity(),
		Routes: []results.Route{
			{Method: http.MethodPost, Path: "/report/{node}/{executionID}/result", MaxBodyBytes: maxResult.Value(),
				Handler: r.counted(r.result)},
			{Method: http.MethodPost, Path: "/report/{node}/{executionID}/file", MaxBodyBytes: r.opts.MaxFileRequestBytes,
				StreamsBody: true, Handler: r.counted(r.file)},
			{Method: http.MethodPost, Path: "/report/{node}/{executionID}/event", MaxBodyBytes: maxEventRequestBytes,
				Handler: r.counted(r.event)},
		},
	}
}

// sourceIdentity identifies callers without a token by address when a pod reader by IP is set.
func (r *Routes) sourceIdentity() func(ctx context.Context, req *http.Request) (results.Caller, error) {
	if r.opts.PodsByIP == nil {
		return nil
	}
	return r.podByAddress
}

// handler is a route handler that also returns its target once it is known.
type handler func(ctx context.Context, req *results.Request) (*results.Response, *Target, error)

// counted adapts a handler and counts its rejections, except 401 and 429, which observe counts.
func (r *Routes) counted(h handler) results.HandlerFunc {
	return func(ctx context.Context, req *results.Request) (*results.Response, error) {
		resp, t, err := h(ctx, req)
		if err != nil && r.opts.Rejected != nil {
			code := http.StatusInternalServerError
			if e, ok := errors.AsType[*results.Error](err); ok {
				code = e.Code
			} else if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				code = http.StatusRequestEntityTooLarge
			}
			if code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
				var namespace, nodeJob string
				if t != nil {
					namespace, nodeJob = t.Run.Namespace, t.Run.Spec.NodeJobName
				}
				r.opts.Rejected(namespace, nodeJob, code)
			}
		}
		return resp, err
	}
}

func (r *Routes) observe(code int) {
	if r.opts.Observe != nil {
		r.opts.Observe(code)
	}
	if r.opts.Rejected != nil && (code == http.StatusUnauthorized || code == http.StatusTooManyRequests) {
		r.opts.Rejected("", "", code)
	}
}

// target authorises the request and makes sure a Sink is there to take it.
func (r *Routes) target(ctx context.Context, req *results.Request) (*Target, error) {
	t, err := r.auth.Authorize(ctx, req.Caller, req.Param("node"), req.Param("executionID"))
	if err != nil {
		return t, err // t names the caller's run, if known, for counting
	}
	if r.opts.Sink == nil {
		return nil, results.Unavailable(0, "NodeJob reports are not accepted yet; retry later")
	}
	return t, nil
}

func (r *Routes) result(ctx context.Context, req *results.Request) (*results.Response, *Target, error) {
	t, err := r.target(ctx, req)
	if err != nil {
		return nil, t, err
	}
	if n := req.HTTP.ContentLength; n > t.Limits.MaxResultSize {
		return nil, t, results.TooLarge("result of %d bytes exceeds maxResultSize (%d bytes)", n, t.Limits.MaxResultSize)
	}
	// Read while parsing, so that the first excess stops the read.
	res, err := ReadResult(req.HTTP.Body, ResultSpecFor(t.Run, t.Node))
	if err != nil {
		return nil, t, readError(err)
	}
	if err := r.opts.Sink.Result(ctx, t, res); err != nil {
		return nil, t, fromStore(err)
	}
	countIgnored(t.Run.Namespace, t.Run.Spec.NodeJobName, res)
	return results.OK(wire.ResultResponse{Accepted: len(res.Series), Ignored: res.IgnoredItems(),
		IgnoredSuffixes: res.IgnoredSuffixes, IgnoredLabels: res.IgnoredLabels}), t, nil
}

func (r *Routes) file(ctx context.Context, req *results.Request) (*results.Response, *Target, error) {
	t, err := r.target(ctx, req)
	if err != nil {
		return nil, t, err
	}
	up, err := r.store.Begin(t.Location, t.Node, reports.FileLimitsOf(t.Limits))
	if err != nil {
		return nil, t, fromStore(err)
	}
	defer up.Abort()
	quota, err := r.quotaFor(t)
	if err != nil {
		return nil, t, fromStore(err)
	}
	if err := quota.Admit(req.HTTP.ContentLength); err != nil {
		return nil, t, err
	}
	names, err := ReadUpload(req.HTTP, WithQuota(storeReceiver{up}, quota), r.opts.NewFileName)
	if err != nil {
		return nil, t, err
	}
	stored, err := up.Commit()
	if err != nil {
		return nil, t, fromStore(err)
	}
	if err := r.opts.Sink.FilesStored(ctx, t, stored); err != nil {
		return nil, t, fromStore(err)
	}
	return results.OK(wire.FilesResponse{Files: names}), t, nil
}

func (r *Routes) event(ctx context.Context, req *results.Request) (*results.Response, *Target, error) {
	t, err := r.target(ctx, req)
	if err != nil {
		return nil, t, err
	}
	body, err := io.ReadAll(req.HTTP.Body)
	if err != nil {
		return nil, t, readError(err)
	}
	ev, err := ParseEvent(body)
	if err != nil {
		return nil, t, err
	}
	if t.Record.Events >= t.Limits.MaxEventsPerNode {
		// No Retry-After: the quota does not refill during the run.
		return nil, t, results.TooManyRequests(0, "node %q has sent maxEventsPerNode (%d) events in run %s",
			t.Node, t.Limits.MaxEventsPerNode, t.Run.Name)
	}
	if err := r.opts.Sink.Event(ctx, t, ev); err != nil {
		return nil, t, fromStore(err)
	}
	return results.OK(struct{}{}), t, nil
}

// readError keeps body-limit errors (413) and turns other read failures into 400.
func readError(err error) error {
	if _, ok := errors.AsType[*results.Error](err); ok {
		return err
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return err
	}
	return results.BadRequest("reading the request body failed")
}
