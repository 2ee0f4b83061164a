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

// Package quarksjob plugs the QuarksJob routes into the results API:
//
//	GET  /quarksjob/v1/wait?timeout=<s>
//	POST /quarksjob/v1/output
//
// The output-persist sidecar of a QuarksJob pod calls them with its projected
// token. The caller check follows pod → controlling Job → controlling
// QuarksJob and compares UIDs (quarksjob.md §1.6). The output body is parsed
// and validated by ParseOutput and handed to an OutputSink, and the long poll
// to a Waiter; the QuarksJob controller implements both. Until they are set,
// the routes answer 503.
//
// Every replica may serve these routes: the sink writes Secrets and status
// through the API server, and the waiter answers from the replica's own watch.
package quarksjob

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// The caller check reads the pod and its Job directly and the QuarksJob from the cache.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get
// +kubebuilder:rbac:groups=quarks.cloudfoundry.org,resources=quarksjobs,verbs=get;list;watch

// Defaults and limits.
const (
	// FamilyName names the QuarksJob routes in logs and rate-limit keys.
	FamilyName = "quarksjob"
	// DefaultRequestsPerMinute is the rate limit per pod.
	DefaultRequestsPerMinute = 30
	// DefaultWaitTimeout is the hold time of a wait without ?timeout=.
	DefaultWaitTimeout = 30 * time.Second
	// MaxWaitTimeout is the longest hold time of a wait.
	MaxWaitTimeout = 60 * time.Second
)

// Target is what an authorised request acts on.
type Target struct {
	// Caller is the authenticated pod.
	Caller results.Caller
	// Pod is the caller's pod.
	Pod *corev1.Pod
	// Job is the Job that controls the pod.
	Job *batchv1.Job
	// QuarksJob is the QuarksJob that controls the Job.
	QuarksJob *quarksv1alpha1.QuarksJob
}

// OutputSink persists a validated output upload; the QuarksJob controller
// implements it. It returns the names of the Secrets written, or a
// *results.Error such as 400 OutputInvalid or OutputMissing, 409
// OutputConflict or 503.
type OutputSink interface {
	PersistOutput(ctx context.Context, t *Target, out *Output) ([]string, error)
}

// OutputRejecter is implemented by an OutputSink that records an upload the
// routes refuse before the sink sees it: a body or a file that is too large
// (413 TooLarge, QJ-X18). RejectOutput fails the target's run and returns the
// answer to send, e or a 503 when the run could not be updated.
type OutputRejecter interface {
	RejectOutput(ctx context.Context, t *Target, e *results.Error) error
}

// Waiter answers the long poll of the sidecar; the QuarksJob controller
// implements it from its pod watch. Wait returns the outcome of the user
// containers once all have terminated, or nil when timeout passes first (204),
// or a *results.Error.
type Waiter interface {
	Wait(ctx context.Context, t *Target, timeout time.Duration) (*wire.WaitResponse, error)
}

// Options configure the QuarksJob routes.
type Options struct {
	// Sink persists output uploads; without one, POST /quarksjob/v1/output answers 503.
	Sink OutputSink
	// Waiter answers the long poll; without one, GET /quarksjob/v1/wait answers 503.
	Waiter Waiter
	// DirectReader reads pods and Jobs; New uses the manager's API reader (no cache of pods or Jobs needed).
	DirectReader client.Reader
	// QuarksJobReader reads QuarksJobs; New uses the manager's cached client.
	QuarksJobReader client.Reader
	// PodCacheTTL is how long a caller's pod is remembered; results.DefaultPodCacheTTL when 0, not at all
	// when negative. Jobs are read on every request.
	PodCacheTTL time.Duration
	// RequestsPerMinute is the rate limit per pod; DefaultRequestsPerMinute when 0, none when negative.
	RequestsPerMinute int
	// Observe, when set, is called with the status code of every answered request.
	Observe func(code int)
}

// Routes are the QuarksJob routes.
type Routes struct {
	opts Options
	pods *results.PodReader
}

// New creates the QuarksJob routes with the manager's readers.
func New(mgr manager.Manager, opts Options) *Routes {
	if opts.DirectReader == nil {
		opts.DirectReader = mgr.GetAPIReader()
	}
	if opts.QuarksJobReader == nil {
		opts.QuarksJobReader = mgr.GetClient()
	}
	return NewRoutes(opts)
}

// NewRoutes creates the QuarksJob routes; the readers must be set.
func NewRoutes(opts Options) *Routes {
	if opts.RequestsPerMinute == 0 {
		opts.RequestsPerMinute = DefaultRequestsPerMinute
	}
	return &Routes{opts: opts, pods: results.NewPodReader(opts.DirectReader, opts.PodCacheTTL, nil)}
}

// Family returns the routes for the results server.
func (r *Routes) Family() results.Family {
	return results.Family{
		Name:              FamilyName,
		RequestsPerMinute: max(r.opts.RequestsPerMinute, 0),
		Observe:           r.opts.Observe,
		Routes: []results.Route{
			{Method: http.MethodGet, Path: wire.QuarksJobWaitPath, Handler: results.HandlerFunc(r.wait)},
			{Method: http.MethodPost, Path: wire.QuarksJobOutputPath, MaxBodyBytes: MaxOutputBodyBytes,
				Handler: results.HandlerFunc(r.output)},
		},
	}
}

// Authorize returns the target of a request from caller (quarksjob.md §1.6):
// the pod must still exist with the token's UID (else 401), be controlled by a
// Job that is controlled by a QuarksJob (else 403), and the Job and the
// QuarksJob must exist with the UIDs of those references and not be being
// deleted (else 404).
func (r *Routes) Authorize(ctx context.Context, caller results.Caller) (*Target, error) {
	pod, err := r.pods.CallerPod(ctx, caller)
	if err != nil {
		return nil, err
	}
	jobRef := metav1.GetControllerOf(pod)
	if !isController(jobRef, batchv1.SchemeGroupVersion.Group, "Job") {
		return nil, results.Forbidden("pod %s does not belong to a QuarksJob run", caller)
	}
	job := &batchv1.Job{}
	if err := r.opts.DirectReader.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: jobRef.Name}, job); err != nil {
		return nil, results.FromAPIError(err, "job "+jobRef.Name+" no longer exists")
	}
	if job.UID != jobRef.UID || job.DeletionTimestamp != nil {
		return nil, results.NotFound("job %s no longer exists", jobRef.Name)
	}
	qjRef := metav1.GetControllerOf(job)
	if !isController(qjRef, quarksv1alpha1.GroupVersion.Group, "QuarksJob") {
		return nil, results.Forbidden("pod %s does not belong to a QuarksJob run", caller)
	}
	qj := &quarksv1alpha1.QuarksJob{}
	if err := r.opts.QuarksJobReader.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: qjRef.Name}, qj); err != nil {
		return nil, results.FromAPIError(err, "QuarksJob "+qjRef.Name+" no longer exists")
	}
	if qj.UID != qjRef.UID || qj.DeletionTimestamp != nil {
		return nil, results.NotFound("QuarksJob %s no longer exists", qjRef.Name)
	}
	return &Target{Caller: caller, Pod: pod, Job: job, QuarksJob: qj}, nil
}

// RequireActive is 409 RunNotActive unless the target's Job is the QuarksJob's
// running run.
func RequireActive(t *Target) error {
	last := t.QuarksJob.Status.LastRun
	if last == nil || last.Name != t.Job.Name || last.Result != quarksv1alpha1.RunResultRunning {
		return results.Conflict(wire.ReasonRunNotActive, "job %s is not the active run of QuarksJob %s",
			t.Job.Name, t.QuarksJob.Name)
	}
	return nil
}

func isController(ref *metav1.OwnerReference, group, kind string) bool {
	if ref == nil || ref.Kind != kind {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == group
}

func (r *Routes) wait(ctx context.Context, req *results.Request) (*results.Response, error) {
	timeout := DefaultWaitTimeout
	if v := req.HTTP.URL.Query().Get("timeout"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s < 1 || time.Duration(s)*time.Second > MaxWaitTimeout {
			return nil, results.BadRequest("timeout must be a whole number of seconds from 1 to %d",
				int(MaxWaitTimeout/time.Second))
		}
		timeout = time.Duration(s) * time.Second
	}
	t, err := r.Authorize(ctx, req.Caller)
	if err != nil {
		return nil, err
	}
	if r.opts.Waiter == nil {
		return nil, results.Unavailable(0, "waiting is not available yet; retry later")
	}
	resp, err := r.opts.Waiter.Wait(ctx, t, timeout)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return results.NoContent(), nil
	}
	return results.OK(resp), nil
}

func (r *Routes) output(ctx context.Context, req *results.Request) (*results.Response, error) {
	t, err := r.Authorize(ctx, req.Caller)
	if err != nil {
		return nil, err
	}
	if err := RequireActive(t); err != nil {
		return nil, err
	}
	if r.opts.Sink == nil {
		return nil, results.Unavailable(0, "output persistence is not available yet; retry later")
	}
	body, err := io.ReadAll(req.HTTP.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, r.refuse(ctx, t, results.TooLarge("output body exceeds %d bytes", MaxOutputBodyBytes))
		}
		return nil, results.BadRequest("reading the request body failed")
	}
	out, err := ParseOutput(body)
	if err != nil {
		return nil, r.refuse(ctx, t, err)
	}
	secrets, err := r.opts.Sink.PersistOutput(ctx, t, out)
	if err != nil {
		return nil, err
	}
	if secrets == nil {
		secrets = []string{}
	}
	return results.OK(wire.OutputResponse{Secrets: secrets}), nil
}

// refuse answers an upload that never reaches the sink. Output that is too
// large can never be accepted, so the sink records it on the run when it can
// (QJ-X18); a malformed request is the sidecar's fault and is only answered.
func (r *Routes) refuse(ctx context.Context, t *Target, err error) error {
	e, ok := errors.AsType[*results.Error](err)
	if !ok || e.Code != http.StatusRequestEntityTooLarge {
		return err
	}
	if rejecter, ok := r.opts.Sink.(OutputRejecter); ok {
		return rejecter.RejectOutput(ctx, t, e)
	}
	return e
}
