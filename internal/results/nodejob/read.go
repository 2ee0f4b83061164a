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
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
)

// Readers of reports need get on the virtual subresource nodejobruns/reports;
// the operator lists runs to resolve "latest".
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns,verbs=get;list;watch

// Names and defaults of the read route.
const (
	// ReportsFamilyName names the read route in logs and rate-limit keys.
	ReportsFamilyName = "nodejob-reports"
	// ReportsPath is the path pattern of the read route.
	ReportsPath = "/reports/{namespace}/{nodejob}/{run}/{path...}"
	// LatestRun in the run position of the path names the newest run of the NodeJob that has a report
	// directory.
	LatestRun = "latest"
	// DefaultReadRequestsPerMinute is the rate limit of the read route per user.
	DefaultReadRequestsPerMinute = 600
	// ReportsSubresource is the virtual subresource of nodejobruns that a SubjectAccessReview checks for
	// reads; it exists only as an RBAC resource name.
	ReportsSubresource = "reports"

	binaryContentType = "application/octet-stream"
)

// ReportEntry is one entry of a directory listing of the read route.
type ReportEntry = reports.Entry

// ReadOptions configure the read route.
type ReadOptions struct {
	// Store is the file store to read from; required.
	Store *reports.FileStore
	// RunReader lists NodeJobRuns to resolve "latest"; NewReports uses the manager's cached client.
	RunReader client.Reader
	// Reviewer creates SubjectAccessReviews; NewReports uses the manager's client.
	Reviewer results.AccessReviewer
	// RequestsPerMinute is the rate limit per user; DefaultReadRequestsPerMinute when 0, none when negative.
	RequestsPerMinute int
	// AnyReplica lets every replica serve reads. Leave it false unless the report directory is shared by
	// the replicas; otherwise only the leader has the files and the others answer 503 with Retry-After.
	AnyReplica bool
	// Observe, when set, is called with the status code of every answered request.
	Observe func(code int)
}

// Reports is the read route of NodeJob reports (nodejob.md §1.8, NJ-A7):
// GET|HEAD /reports/<namespace>/<nodejob>/<run|latest>/[<path>]. Callers are
// users or service accounts with a token for the API server's own audiences;
// a SubjectAccessReview must allow them get on nodejobruns/reports for the
// run. Directories answer with a JSON list of ReportEntry, files with their
// bytes. Nothing outside the run's directory is reachable, and symbolic
// links are never followed or listed.
type Reports struct {
	opts ReadOptions
}

// NewReports creates the read route with the manager's client and cache.
func NewReports(mgr manager.Manager, opts ReadOptions) (*Reports, error) {
	if opts.RunReader == nil {
		opts.RunReader = mgr.GetClient()
	}
	if opts.Reviewer == nil {
		opts.Reviewer = mgr.GetClient()
	}
	return NewReportsWith(opts)
}

// ReportsFamily returns the read route over store, leader-only, with the
// manager's client and cache, for the results server. It panics without a store.
func ReportsFamily(mgr manager.Manager, store *reports.FileStore) results.Family {
	r, err := NewReports(mgr, ReadOptions{Store: store})
	if err != nil {
		panic(err)
	}
	return r.Family()
}

// NewReportsWith creates the read route; the store, the reader and the reviewer must be set.
func NewReportsWith(opts ReadOptions) (*Reports, error) {
	if opts.Store == nil || opts.RunReader == nil || opts.Reviewer == nil {
		return nil, errors.New("the nodejob read route needs a file store, a run reader and an access reviewer")
	}
	if opts.RequestsPerMinute == 0 {
		opts.RequestsPerMinute = DefaultReadRequestsPerMinute
	}
	return &Reports{opts: opts}, nil
}

// Family returns the read route for the results server.
func (r *Reports) Family() results.Family {
	h := results.HandlerFunc(r.read)
	return results.Family{
		Name:              ReportsFamilyName,
		Auth:              results.AuthUser,
		RequestsPerMinute: max(r.opts.RequestsPerMinute, 0),
		LeaderOnly:        !r.opts.AnyReplica,
		Observe:           r.opts.Observe,
		Routes: []results.Route{
			{Method: http.MethodGet, Path: ReportsPath, Handler: h},
			{Method: http.MethodHead, Path: ReportsPath, Handler: h},
		},
	}
}

func (r *Reports) read(ctx context.Context, req *results.Request) (*results.Response, error) {
	ns, nj, run, rest := req.Param("namespace"), req.Param("nodejob"), req.Param("run"), req.Param("path")
	if len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(nj)) > 0 ||
		len(validation.IsDNS1123Subdomain(run)) > 0 {
		return nil, results.NotFound("no such report")
	}
	if run == LatestRun {
		latest, err := r.latest(ctx, ns, nj)
		if err != nil {
			return nil, err
		}
		if latest == "" {
			// Only those who may read some report learn that there is none.
			if err := r.authorize(ctx, req, ns, ""); err != nil {
				return nil, err
			}
			return nil, results.NotFound("NodeJob %s/%s has no run with a report", ns, nj)
		}
		if err := r.authorize(ctx, req, ns, latest); err != nil {
			if e, ok := errors.AsType[*results.Error](err); ok && e.Code == http.StatusForbidden {
				// Do not tell who may not read it which run is the latest.
				return nil, results.Forbidden("user %q may not get nodejobruns/reports of the latest run of %s/%s",
					req.Caller.User.Username, ns, nj)
			}
			return nil, err
		}
		run = latest
	} else if err := r.authorize(ctx, req, ns, run); err != nil {
		return nil, err
	}
	return serve(r.opts.Store, reports.RunLocation{Namespace: ns, NodeJob: nj, Run: run}, rest)
}

// authorize checks get on nodejobruns/reports in ns for run (any run when empty).
func (r *Reports) authorize(ctx context.Context, req *results.Request, ns, run string) error {
	return results.Authorize(ctx, r.opts.Reviewer, req.Caller.User, authorizationv1.ResourceAttributes{
		Namespace:   ns,
		Verb:        "get",
		Group:       batchv1alpha1.GroupVersion.Group,
		Resource:    "nodejobruns",
		Subresource: ReportsSubresource,
		Name:        run,
	})
}

// latest returns the newest run of a NodeJob, by scheduledTime and then
// creation, that has a report directory; "" when there is none.
func (r *Reports) latest(ctx context.Context, ns, nj string) (string, error) {
	var list batchv1alpha1.NodeJobRunList
	if err := r.opts.RunReader.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return "", results.FromAPIError(err, "no runs")
	}
	runs := slices.DeleteFunc(list.Items, func(run batchv1alpha1.NodeJobRun) bool {
		return run.Spec.NodeJobName != nj
	})
	slices.SortFunc(runs, func(a, b batchv1alpha1.NodeJobRun) int {
		return cmp.Or(
			b.Spec.ScheduledTime.Compare(a.Spec.ScheduledTime.Time),
			b.CreationTimestamp.Compare(a.CreationTimestamp.Time),
			strings.Compare(b.Name, a.Name),
		)
	})
	for i := range runs {
		if r.opts.Store.HasRun(reports.LocationOf(&runs[i])) {
			return runs[i].Name, nil
		}
	}
	return "", nil
}

// serve answers a read of rest inside a run's report directory: a JSON list of
// entries for a directory, the bytes of a file.
func serve(store *reports.FileStore, loc reports.RunLocation, rest string) (*results.Response, error) {
	o, err := store.Open(loc, rest)
	if err != nil {
		return nil, fromStore(err)
	}
	if o.IsDir() {
		return results.OK(o.Entries), nil
	}
	var content io.Reader = o.File
	if o.Record != nil {
		content = bytes.NewReader(o.Record)
	}
	return &results.Response{
		Content:       content,
		ContentLength: o.Info.Size(),
		Header: http.Header{
			"Content-Type":        {contentTypeOf(o.Name)},
			"Content-Disposition": {mime.FormatMediaType("attachment", map[string]string{"filename": o.Name})},
			"Last-Modified":       {o.Info.ModTime().UTC().Format(http.TimeFormat)},
		},
	}, nil
}

// contentTypeOf is the Content-Type of a served file (nodejob.md §1.8).
func contentTypeOf(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "application/json"
	case ".log":
		return "text/plain; charset=utf-8"
	default:
		return binaryContentType
	}
}
