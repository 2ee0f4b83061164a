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

// Package apimetrics counts the manager's requests to the API server by verb and resource.
//
// client-go's own rest_client_requests_total counts by HTTP method and host only; this counter says which
// resource a request was for and what the API server made of it (get, list, watch, create, update, patch,
// delete, deletecollection), so that the requests an object costs can be read off /metrics.
package apimetrics

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Requests counts the requests sent through an instrumented config. Its labels: verb (get, list, watch, create,
// update, patch, delete, deletecollection, or the HTTP method in lower case for a path that names no resource),
// resource (the resource's plural name, with "/<subresource>" for a subresource, e.g. quarksjobs/status;
// "other" for a path that names none, such as discovery), code (the HTTP status, or "error" when no response
// came) and dry_run ("true" for a request with dryRun=All, which the API server validates but does not store).
var Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "jobkeeper_api_requests_total",
	Help: "Requests of the manager's clients to the API server by verb, resource (with subresource), status code and dry run.",
}, []string{"verb", "resource", "code", "dry_run"})

func init() {
	metrics.Registry.MustRegister(Requests)
}

// Instrument makes every client built from cfg count its requests.
func Instrument(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &roundTripper{next: rt} })
}

type roundTripper struct {
	next http.RoundTripper
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	verb, resource := Classify(req.Method, req.URL)
	dryRun := "false"
	if req.URL != nil && req.URL.Query().Has("dryRun") {
		dryRun = "true"
	}
	resp, err := t.next.RoundTrip(req)
	code := "error"
	if err == nil && resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	Requests.WithLabelValues(verb, resource, code, dryRun).Inc()
	return resp, err
}

// namespaceSubresources are the subresources of a namespace itself: /api/v1/namespaces/<name>/status is the
// namespace's status, not a resource "status" in the namespace (as the API server reads the path).
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// Classify returns the verb and the resource of a request to the API server, as the API server reads its path:
// /api/v1/... for the core group, /apis/<group>/<version>/... for the others, then optionally
// namespaces/<namespace>/, then <resource>[/<name>[/<subresource>]]. Paths that name no resource are "other",
// with the HTTP method in lower case as verb.
func Classify(method string, u *url.URL) (verb, resource string) {
	other := strings.ToLower(method)
	if u == nil {
		return other, "other"
	}
	parts := splitPath(u.Path)
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return other, "other"
	}
	watch := false
	if len(parts) > 0 && parts[0] == "watch" { // the deprecated /watch/ prefix
		watch = true
		parts = parts[1:]
	}
	if len(parts) > 2 && parts[0] == "namespaces" && !namespaceSubresources[parts[2]] {
		parts = parts[2:] // namespaces/<namespace>/<resource>/...
	}
	if len(parts) == 0 || len(parts) > 3 {
		return other, "other"
	}
	resource = parts[0]
	named := len(parts) >= 2
	if len(parts) == 3 {
		resource += "/" + parts[2]
	}
	if q := u.Query().Get("watch"); q == "true" || q == "1" {
		watch = true
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch:
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		if named {
			verb = "delete"
		} else {
			verb = "deletecollection"
		}
	default:
		verb = other
	}
	return verb, resource
}

// splitPath splits a URL path into its non-empty segments.
func splitPath(p string) []string {
	var out []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
