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
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
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
type ReportEntry struct {
	// Name is the file or directory name.
	Name string `json:"name"`
	// Size is the size of a file in bytes; 0 for a directory.
	Size int64 `json:"size"`
	// ModTime is the last modification time.
	ModTime time.Time `json:"modTime"`
	// Dir is true for a directory.
	Dir bool `json:"dir"`
}

// ReadOptions configure the read route.
type ReadOptions struct {
	// Store is the file store to read from; required.
	Store *FileStore
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
func ReportsFamily(mgr manager.Manager, store *FileStore) results.Family {
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
	return r.opts.Store.serve(RunLocation{Namespace: ns, NodeJob: nj, Run: run}, rest)
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
		if r.opts.Store.hasRunDir(LocationOf(&runs[i])) {
			return runs[i].Name, nil
		}
	}
	return "", nil
}

// hasRunDir reports whether the report directory of a run exists.
func (s *FileStore) hasRunDir(loc RunLocation) bool {
	runRel, err := loc.rel()
	if err != nil {
		return false
	}
	_, dir, err := s.lstatChain(runRel)
	return err == nil && dir
}

// lstatChain checks every element of rel from the root down without following
// symbolic links. It returns the information of the last one, whether it is a
// directory, and 404 when an element is missing, a symbolic link, or neither a
// directory nor (the last one) a regular file.
func (s *FileStore) lstatChain(rel string) (fs.FileInfo, bool, error) {
	elems := strings.Split(filepath.ToSlash(rel), "/")
	var info fs.FileInfo
	for i := range elems {
		var err error
		info, err = s.root.Lstat(filepath.FromSlash(path.Join(elems[:i+1]...)))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
			return nil, false, results.NotFound("no such report file or directory")
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading report path: %w", err)
		}
		last := i == len(elems)-1
		if !info.IsDir() && (!last || !info.Mode().IsRegular()) {
			return nil, false, results.NotFound("no such report file or directory")
		}
	}
	return info, info.IsDir(), nil
}

// serve answers a read of rest (a clean slash-separated path, "" for the run
// directory itself) inside a run's report directory.
func (s *FileStore) serve(loc RunLocation, rest string) (*results.Response, error) {
	runRel, err := loc.rel()
	if err != nil {
		return nil, results.NotFound("no such report")
	}
	rel, err := s.readPath(runRel, rest)
	if err != nil {
		return nil, err
	}
	info, dir, err := s.lstatChain(rel)
	if err != nil {
		return nil, err
	}
	if dir {
		entries, err := s.list(rel)
		if err != nil {
			return nil, err
		}
		return results.OK(entries), nil
	}
	f, err := s.root.Open(rel)
	if err != nil {
		return nil, results.NotFound("no such report file or directory")
	}
	opened, err := f.Stat()
	if err != nil || !os.SameFile(info, opened) {
		// Replaced between the checks and the open; do not serve what is there now.
		_ = f.Close()
		return nil, results.NotFound("no such report file or directory")
	}
	name := filepath.Base(rel)
	return &results.Response{
		Content:       f,
		ContentLength: opened.Size(),
		Header: http.Header{
			"Content-Type":        {contentTypeOf(name)},
			"Content-Disposition": {mime.FormatMediaType("attachment", map[string]string{"filename": name})},
			"Last-Modified":       {opened.ModTime().UTC().Format(http.TimeFormat)},
		},
	}, nil
}

// readPath joins a run directory and a path inside it and checks, after
// cleaning, that the result stays inside the run directory.
func (s *FileStore) readPath(runRel, rest string) (string, error) {
	if strings.ContainsAny(rest, "\\\x00") {
		return "", results.BadRequest("invalid report path")
	}
	base := filepath.Clean(filepath.Join(s.dir, runRel))
	target := filepath.Clean(filepath.Join(base, filepath.FromSlash(rest)))
	rel, err := filepath.Rel(base, target)
	if err != nil || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", results.BadRequest("invalid report path")
	}
	if rel == "." {
		return runRel, nil
	}
	return filepath.Join(runRel, rel), nil
}

// list returns the regular files and directories of a directory, by name.
func (s *FileStore) list(rel string) ([]ReportEntry, error) {
	entries, err := fs.ReadDir(s.root.FS(), filepath.ToSlash(rel))
	if err != nil {
		return nil, fmt.Errorf("listing report directory: %w", err)
	}
	out := make([]ReportEntry, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() && !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		entry := ReportEntry{Name: e.Name(), ModTime: info.ModTime().UTC(), Dir: e.IsDir()}
		if !entry.Dir {
			entry.Size = info.Size()
		}
		out = append(out, entry)
	}
	slices.SortFunc(out, func(a, b ReportEntry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
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
