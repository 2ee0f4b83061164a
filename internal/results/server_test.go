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
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/jobkeeper/jobkeeper/internal/results/certs"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// newTestServer returns a server with one family whose routes echo the caller
// and path parameters.
func newTestServer(t *testing.T, mutate func(*Options)) (*Server, *fakeReviewer) {
	t.Helper()
	reviewer := &fakeReviewer{answers: map[string]authenticationv1.TokenReviewStatus{
		"a": podBound("pod-a", "uid-a", DefaultAudience),
		"b": podBound("pod-b", "uid-b", DefaultAudience),
	}}
	echo := HandlerFunc(func(_ context.Context, req *Request) (*Response, error) {
		body, err := io.ReadAll(req.HTTP.Body)
		if err != nil {
			return nil, err
		}
		return OK(map[string]any{"pod": req.Caller.PodName, "id": req.Param("id"), "bytes": len(body)}), nil
	})
	fail := HandlerFunc(func(_ context.Context, req *Request) (*Response, error) {
		switch req.Param("kind") {
		case "conflict":
			return nil, Conflict("RunFinished", "done")
		case "unavailable":
			return nil, Unavailable(3*time.Second, "later")
		default:
			return nil, errors.New("secret internal detail")
		}
	})
	opts := Options{
		CertDir:  "",
		Reviewer: reviewer,
		Clock:    clocktesting.NewFakeClock(time.Now()),
		Families: []Family{{
			Name:              "test",
			RequestsPerMinute: 3,
			Routes: []Route{
				{Method: http.MethodPost, Path: "/t/{id}/echo", MaxBodyBytes: 10, Handler: echo},
				{Method: http.MethodPut, Path: "/t/{id}/echo", Handler: echo},
				{Method: http.MethodPost, Path: "/t/fail/{kind}", Handler: fail},
			},
		}},
		GeneratedCertHosts: []string{"localhost"},
	}
	t.Setenv("TMPDIR", t.TempDir())
	if mutate != nil {
		mutate(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, reviewer
}

func do(s http.Handler, method, path, token, body string) (*http.Response, wire.Error) {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var e wire.Error
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	return w.Result(), e
}

func TestRouting(t *testing.T) {
	s, reviewer := newTestServer(t, nil)
	tests := []struct {
		name, method, path, token, body string
		code                            int
		reason                          string
	}{
		{name: "route", method: "POST", path: "/t/x/echo", token: "a", code: 200},
		{name: "escaped wildcard", method: "POST", path: "/t/a%20b/echo", token: "a", code: 200},
		{name: "unknown path", method: "POST", path: "/nope", token: "a", code: 404, reason: "NotFound"},
		{name: "root", method: "GET", path: "/", code: 404, reason: "NotFound"},
		{name: "pprof", method: "GET", path: "/debug/pprof/", code: 404, reason: "NotFound"},
		{name: "pprof profile", method: "GET", path: "/debug/pprof/profile", code: 404, reason: "NotFound"},
		{name: "metrics", method: "GET", path: "/metrics", code: 404, reason: "NotFound"},
		{name: "trailing slash", method: "POST", path: "/t/x/echo/", token: "a", code: 404, reason: "NotFound"},
		{name: "dot-dot wildcard", method: "POST", path: "/t/../echo", token: "a", code: 404, reason: "NotFound"},
		{name: "escaped slash in wildcard", method: "POST", path: "/t/a%2Fb/echo", token: "a", code: 404, reason: "NotFound"},
		{name: "empty wildcard", method: "POST", path: "/t//echo", token: "a", code: 404, reason: "NotFound"},
		{name: "wrong method", method: "GET", path: "/t/x/echo", token: "a", code: 405, reason: "MethodNotAllowed"},
		{name: "wrong method without token", method: "DELETE", path: "/t/x/echo", code: 405, reason: "MethodNotAllowed"},
		{name: "no token", method: "POST", path: "/t/x/echo", code: 401, reason: "Unauthenticated"},
		{name: "bad token", method: "POST", path: "/t/x/echo", token: "zzz", code: 401, reason: "Unauthenticated"},
		{name: "body over limit", method: "POST", path: "/t/x/echo", token: "b", body: "01234567890", code: 413, reason: "TooLarge"},
		{name: "typed error", method: "POST", path: "/t/fail/conflict", token: "b", code: 409, reason: "RunFinished"},
		{name: "other error", method: "POST", path: "/t/fail/boom", token: "b", code: 500, reason: "InternalError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, e := do(s, tt.method, tt.path, tt.token, tt.body)
			if resp.StatusCode != tt.code {
				t.Fatalf("status = %d, want %d (%+v)", resp.StatusCode, tt.code, e)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.reason == "" {
				return
			}
			if e.Code != tt.code || e.Reason != tt.reason || e.Message == "" {
				t.Fatalf("body = %+v, want code %d reason %s", e, tt.code, tt.reason)
			}
			if strings.Contains(e.Message, "secret") {
				t.Fatalf("internal error leaked: %q", e.Message)
			}
		})
	}
	resp, _ := do(s, "GET", "/t/x/echo", "a", "")
	if got := resp.Header.Get("Allow"); got != "POST, PUT" {
		t.Errorf("Allow = %q, want \"POST, PUT\"", got)
	}
	_ = reviewer
}

func TestUnavailableSetsRetryAfter(t *testing.T) {
	s, _ := newTestServer(t, nil)
	resp, e := do(s, "POST", "/t/fail/unavailable", "a", "")
	if resp.StatusCode != 503 || e.Reason != "Unavailable" || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("got %d %+v Retry-After %q", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
}

func TestRateLimitPerPod(t *testing.T) {
	var clk *clocktesting.FakeClock
	s, _ := newTestServer(t, func(o *Options) { clk = o.Clock.(*clocktesting.FakeClock) })
	for i := range 3 {
		if resp, e := do(s, "POST", "/t/x/echo", "a", ""); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %+v", i, resp.StatusCode, e)
		}
	}
	resp, e := do(s, "POST", "/t/x/echo", "a", "")
	if resp.StatusCode != 429 || e.Reason != "TooManyRequests" || !strings.Contains(e.Message, "3 requests a minute") {
		t.Fatalf("4th request: %d %+v", resp.StatusCode, e)
	}
	if resp.Header.Get("Retry-After") != "20" {
		t.Errorf("Retry-After = %q, want 20", resp.Header.Get("Retry-After"))
	}
	// Another pod has its own bucket.
	if resp, _ := do(s, "POST", "/t/x/echo", "b", ""); resp.StatusCode != 200 {
		t.Fatalf("other pod: %d", resp.StatusCode)
	}
	clk.Step(20 * time.Second)
	if resp, _ := do(s, "POST", "/t/x/echo", "a", ""); resp.StatusCode != 200 {
		t.Fatalf("after refill: %d", resp.StatusCode)
	}
}

func TestLeaderOnlyFamily(t *testing.T) {
	elected := make(chan struct{})
	s, reviewer := newTestServer(t, func(o *Options) {
		o.Elected = elected
		o.Families[0].LeaderOnly = true
	})
	resp, e := do(s, "POST", "/t/x/echo", "a", "")
	if resp.StatusCode != 503 || e.Reason != "Unavailable" || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("not leader: %d %+v Retry-After %q", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
	if reviewer.calls.Load() != 0 {
		t.Fatal("a replica that is not the leader reviewed a token")
	}
	close(elected)
	if resp, _ := do(s, "POST", "/t/x/echo", "a", ""); resp.StatusCode != 200 {
		t.Fatalf("leader: %d", resp.StatusCode)
	}
}

func TestObserve(t *testing.T) {
	var codes []int
	s, _ := newTestServer(t, func(o *Options) { o.Families[0].Observe = func(c int) { codes = append(codes, c) } })
	do(s, "POST", "/t/x/echo", "a", "")
	do(s, "POST", "/t/x/echo", "", "")
	do(s, "POST", "/unknown", "a", "")
	if len(codes) != 2 || codes[0] != 200 || codes[1] != 401 {
		t.Fatalf("observed %v, want [200 401]", codes)
	}
}

func TestNewRejectsBadFamilies(t *testing.T) {
	h := HandlerFunc(func(context.Context, *Request) (*Response, error) { return nil, nil })
	for name, f := range map[string]Family{
		"no name":        {Routes: []Route{{Method: "GET", Path: "/a", Handler: h}}},
		"no handler":     {Name: "x", Routes: []Route{{Method: "GET", Path: "/a"}}},
		"relative path":  {Name: "x", Routes: []Route{{Method: "GET", Path: "a", Handler: h}}},
		"trailing slash": {Name: "x", Routes: []Route{{Method: "GET", Path: "/a/", Handler: h}}},
		"duplicate": {Name: "x", Routes: []Route{{Method: "GET", Path: "/a/{x}", Handler: h},
			{Method: "GET", Path: "/a/{y}", Handler: h}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			if _, err := New(Options{Reviewer: &fakeReviewer{}, Families: []Family{f}}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	if err := certs.Generate(dir, []string{"localhost", "127.0.0.1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	s, _ := newTestServer(t, func(o *Options) {
		o.CertDir = dir
		o.BindAddress = "127.0.0.1:0"
	})
	if s.StartedChecker()(nil) == nil {
		t.Fatal("ready before start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for s.Addr() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.StartedChecker()(nil) != nil {
		t.Fatal("not ready after start")
	}
	if s.CAFile() != filepath.Join(dir, "ca.crt") {
		t.Errorf("CAFile = %s", s.CAFile())
	}
	pool, err := certs.CAPool(s.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("POST", "https://"+s.Addr()+"/t/x/echo", strings.NewReader("hi"))
	req.Header.Set("Authorization", "Bearer a")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || got["pod"] != "pod-a" || got["id"] != "x" || got["bytes"] != float64(2) {
		t.Fatalf("got %d %v", resp.StatusCode, got)
	}
	if resp.ProtoMajor != 1 {
		t.Errorf("protocol %s, want HTTP/1.1", resp.Proto)
	}
	// Plain HTTP is not served.
	plain, err := http.Get("http://" + s.Addr() + "/t/x/echo")
	if err == nil {
		_ = plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP answered %d", plain.StatusCode)
		}
	}
}
