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
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMaxBodyBytes is the body limit of a route that sets none.
const DefaultMaxBodyBytes int64 = 64 << 10

// AuthMode is how the routes of a family authenticate their callers.
type AuthMode int

const (
	// AuthPod (the default) takes only tokens of the results audience that are bound to a pod: the callers
	// are job pods, and Request.Caller names the pod.
	AuthPod AuthMode = iota
	// AuthUser takes any token that the API server accepts for its default audiences (a user or a service
	// account, never a results-audience token of a job pod). Request.Caller.User is the user; the handler
	// must authorise it, e.g. with Authorize.
	AuthUser
)

// Family is the set of routes of one kind. Each kind plugs its routes into the
// server through a Family; the server authenticates the caller, applies the
// family's rate limit and body limits, and hands the request to the route's
// Handler, which checks that the caller may act on what the path names.
type Family struct {
	// Name names the family in logs and rate-limit keys, e.g. "nodejob".
	Name string
	// Auth is how callers authenticate; AuthPod when unset.
	Auth AuthMode
	// RequestsPerMinute is the rate limit per caller (token bucket keyed by pod UID, or by user name for
	// AuthUser families); 0 disables it.
	RequestsPerMinute int
	// LeaderOnly makes replicas that are not the leader answer 503 with Retry-After: 1, for families that
	// keep state in the leader's process or on its disk.
	LeaderOnly bool
	// SourceIdentity, when set on an AuthPod family, identifies a request that carries no Authorization header
	// by where it comes from (e.g. the pod that has its source address). It returns the caller, or an error
	// (usually Unauthenticated) that is the answer. Requests with a token are always checked by their token.
	SourceIdentity func(ctx context.Context, r *http.Request) (Caller, error)
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
	// e.g. "/report/{node}/{executionID}/result". The last segment may be {name...}, which matches the
	// rest of the path: zero or more non-empty segments, and one trailing slash. None of the segments it
	// matches may be "." or ".." or hold a slash or NUL once unescaped, so the value (the unescaped segments
	// joined by "/", without the trailing slash) is a clean relative path or "".
	Path string
	// MaxBodyBytes bounds the request body (http.MaxBytesReader); 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// StreamsBody says that the handler does not hold the body in memory (it streams it, e.g. to a file),
	// so the body does not count against Options.MaxInFlightBodyBytes.
	StreamsBody bool
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
	// Caller is the pod (AuthPod) or the user (AuthUser) that sent the request.
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
	// Content, when set, is sent as the body as it is instead of Body, and closed afterwards when it is an
	// io.Closer. The body of a HEAD request is not sent.
	Content io.Reader
	// ContentLength, when Content is set and it is not negative, is sent as Content-Length.
	ContentLength int64
	// Header holds headers to send, such as Content-Type for Content.
	Header http.Header
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
	// rest marks a {name...} wildcard, which matches the rest of the path.
	rest bool
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
		if n := len(c.segments); n > 0 && c.segments[n-1].rest {
			return nil, fmt.Errorf("route %s of family %q has segments after a {name...} wildcard", r.Path, f.Name)
		}
		switch {
		case p == "":
			return nil, fmt.Errorf("route %s of family %q has an empty segment", r.Path, f.Name)
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "...}") && len(p) > 5:
			c.segments = append(c.segments, segment{param: p[1 : len(p)-4], rest: true})
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
	rest := len(c.segments) > 0 && c.segments[len(c.segments)-1].rest
	if len(parts) != len(c.segments) && (!rest || len(parts) < len(c.segments)-1) {
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
		if params == nil {
			params = map[string]string{}
		}
		if s.rest {
			v, ok := matchRest(parts[i:])
			if !ok {
				return nil, false
			}
			params[s.param] = v
			break
		}
		v, ok := unescapeSegment(parts[i])
		if !ok {
			return nil, false
		}
		params[s.param] = v
	}
	return params, true
}

// unescapeSegment unescapes one path segment, which must not be empty, "." or
// "..", nor hold a slash or NUL once unescaped.
func unescapeSegment(part string) (string, bool) {
	v, err := url.PathUnescape(part)
	if err != nil || v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\x00") {
		return "", false
	}
	return v, true
}

// matchRest unescapes the parts matched by a {name...} wildcard and joins
// them with "/". Only the last part may be empty (a trailing slash).
func matchRest(parts []string) (string, bool) {
	if n := len(parts); n > 0 && parts[n-1] == "" {
		parts = parts[:n-1]
	}
	values := make([]string, len(parts))
	for i, p := range parts {
		v, ok := unescapeSegment(p)
		if !ok {
			return "", false
		}
		values[i] = v
	}
	return strings.Join(values, "/"), true
}

// samePath reports whether two compiled routes match the same paths.
func samePath(a, b *route) bool {
	if len(a.segments) != len(b.segments) {
		return false
	}
	for i := range a.segments {
		if (a.segments[i].param == "") != (b.segments[i].param == "") || a.segments[i].literal != b.segments[i].literal ||
			a.segments[i].rest != b.segments[i].rest {
			return false
		}
	}
	return true
}
