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

package results

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMaxBodyBytes is the body limit of a route that sets none.
const DefaultMaxBodyBytes int64 = 64 << 10

// Family is the set of routes of one kind. Each kind plugs its routes into the
// server through a Family; the server authenticates the caller, applies the
// family's rate limit and body limits, and hands the request to the route's
// Handler, which checks that the caller may act on what the path names.
type Family struct {
	// Name names the family in logs and rate-limit keys, e.g. "nodejob".
	Name string
	// RequestsPerMinute is the rate limit per pod (token bucket keyed by pod UID); 0 disables it.
	RequestsPerMinute int
	// LeaderOnly makes replicas that are not the leader answer 503 with Retry-After: 1, for families that
	// keep state in the leader's process or on its disk.
	LeaderOnly bool
	// Routes are the routes of the family.
	Routes []Route
	// Observe, when set, is called with the status code of every answered request of the family, from
	// concurrent requests (e.g. to count rejected callbacks).
	Observe func(code int)
}

// Route is one method and path of a family.
type Route struct {
	// Method is the HTTP method, e.g. http.MethodPost.
	Method string
	// Path is the path pattern: literal segments and {name} wildcards that match one non-empty segment,
	// e.g. "/report/{node}/{executionID}/result".
	Path string
	// MaxBodyBytes bounds the request body (http.MaxBytesReader); 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Handler serves the route.
	Handler Handler
}

// Handler serves one route for an authenticated caller. It returns either a
// Response or an error; an *Error chooses the answer, any other error is a
// 500 that is logged and not shown to the client.
type Handler interface {
	ServeResults(ctx context.Context, req *Request) (*Response, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// ServeResults implements Handler.
func (f HandlerFunc) ServeResults(ctx context.Context, req *Request) (*Response, error) {
	return f(ctx, req)
}

// Request is a request whose caller has been authenticated and whose body is
// limited to the route's MaxBodyBytes.
type Request struct {
	// HTTP is the underlying request. Its body is already wrapped in http.MaxBytesReader.
	HTTP *http.Request
	// Caller is the pod that sent the request.
	Caller Caller
	// Family is the name of the family of the route.
	Family string
	// Route is the path pattern of the route.
	Route  string
	params map[string]string
}

// Param returns the value of the wildcard {name} of the route's path, unescaped.
func (r *Request) Param(name string) string {
	return r.params[name]
}

// Response is a successful answer.
type Response struct {
	// Status is the HTTP status code; 0 means 200.
	Status int
	// Body is encoded as JSON; nil sends no body.
	Body any
}

// OK answers 200 with body as JSON.
func OK(body any) *Response {
	return &Response{Status: http.StatusOK, Body: body}
}

// NoContent answers 204 without a body.
func NoContent() *Response {
	return &Response{Status: http.StatusNoContent}
}

// segment is one part of a compiled path pattern.
type segment struct {
	literal string
	param   string
}

// route is a compiled Route.
type route struct {
	Route
	family   *Family
	segments []segment
}

func compile(f *Family, r Route) (*route, error) {
	if r.Handler == nil {
		return nil, fmt.Errorf("route %s %s of family %q has no handler", r.Method, r.Path, f.Name)
	}
	if r.Method == "" {
		return nil, fmt.Errorf("route %s of family %q has no method", r.Path, f.Name)
	}
	if !strings.HasPrefix(r.Path, "/") || strings.HasSuffix(r.Path, "/") {
		return nil, fmt.Errorf("route %s of family %q must start and must not end with /", r.Path, f.Name)
	}
	if r.MaxBodyBytes == 0 {
		r.MaxBodyBytes = DefaultMaxBodyBytes
	}
	c := &route{Route: r, family: f}
	for p := range strings.SplitSeq(r.Path[1:], "/") {
		switch {
		case p == "":
			return nil, fmt.Errorf("route %s of family %q has an empty segment", r.Path, f.Name)
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") && len(p) > 2:
			c.segments = append(c.segments, segment{param: p[1 : len(p)-1]})
		default:
			c.segments = append(c.segments, segment{literal: p})
		}
	}
	return c, nil
}

// match reports whether the escaped path parts match the route, and returns
// the unescaped wildcard values. Wildcards never match ".", ".." or a value
// that holds a slash once unescaped.
func (c *route) match(parts []string) (map[string]string, bool) {
	if len(parts) != len(c.segments) {
		return nil, false
	}
	var params map[string]string
	for i, s := range c.segments {
		if s.param == "" {
			if parts[i] != s.literal {
				return nil, false
			}
			continue
		}
		v, err := url.PathUnescape(parts[i])
		if err != nil || v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\x00") {
			return nil, false
		}
		if params == nil {
			params = map[string]string{}
		}
		params[s.param] = v
	}
	return params, true
}

// samePath reports whether two compiled routes match the same paths.
func samePath(a, b *route) bool {
	if len(a.segments) != len(b.segments) {
		return false
	}
	for i := range a.segments {
		if (a.segments[i].param == "") != (b.segments[i].param == "") || a.segments[i].literal != b.segments[i].literal {
			return false
		}
	}
	return true
}
