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
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// audienceReviewer answers a TokenReview only when it asks for the audiences
// the token was issued for, as the API server does.
type audienceReviewer struct {
	tokens map[string]authenticationv1.TokenReviewStatus
	asked  []string
}

func (a *audienceReviewer) Create(_ context.Context, obj client.Object, _ ...client.CreateOption) error {
	tr := obj.(*authenticationv1.TokenReview)
	want := strings.Join(tr.Spec.Audiences, ",")
	a.asked = append(a.asked, want)
	st := a.tokens[tr.Spec.Token]
	issued := strings.Join(st.Audiences, ",")
	if issued != want && (want != "" || issued != "api") {
		st = authenticationv1.TokenReviewStatus{Error: "token audiences do not match"}
	}
	tr.Status = st
	return nil
}

func TestUserFamilyWithRestWildcard(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	reviewer := &audienceReviewer{tokens: map[string]authenticationv1.TokenReviewStatus{
		"pod":   podBound("p", "uid-1", DefaultAudience),
		"alice": {Authenticated: true, Audiences: []string{"api"}, User: authenticationv1.UserInfo{Username: "alice", Groups: []string{"g"}}},
	}}
	var got []string
	h := HandlerFunc(func(_ context.Context, req *Request) (*Response, error) {
		got = append(got, req.Caller.String()+":"+req.Param("run")+":"+req.Param("path"))
		return &Response{
			Content:       io.NopCloser(strings.NewReader("hello")),
			ContentLength: 5,
			Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		}, nil
	})
	s, err := New(Options{
		Reviewer:           reviewer,
		Clock:              clocktesting.NewFakeClock(time.Now()),
		GeneratedCertHosts: []string{"localhost"},
		Families: []Family{{
			Name:              "read",
			Auth:              AuthUser,
			RequestsPerMinute: 3,
			Routes: []Route{
				{Method: http.MethodGet, Path: "/r/{run}/{path...}", Handler: h},
				{Method: http.MethodHead, Path: "/r/{run}/{path...}", Handler: h},
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		path, token string
		code        int
		want        string
	}{
		{path: "/r/x", token: "alice", code: 200, want: "alice:x:"},
		{path: "/r/x/", token: "alice", code: 200, want: "alice:x:"},
		{path: "/r/x/a/b%20c/", token: "alice", code: 200, want: "alice:x:a/b c"},
		{path: "/r/x/a", code: 401},
		{path: "/r/x/a", token: "pod", code: 401},
		{path: "/r/x/a/../b", token: "alice", code: 404},
		{path: "/r/x/%2e%2e/b", token: "alice", code: 404},
		{path: "/r/x/a%2fb", token: "alice", code: 404},
		{path: "/r/x/a//b", token: "alice", code: 404},
		{path: "/r/x/./b", token: "alice", code: 404},
		{path: "/r", token: "alice", code: 404},
	}
	for _, tt := range tests {
		resp, e := do(s, http.MethodGet, tt.path, tt.token, "")
		if resp.StatusCode != tt.code {
			t.Fatalf("%s: status %d, want %d (%+v)", tt.path, resp.StatusCode, tt.code, e)
		}
		if tt.code != 200 {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "hello" || resp.Header.Get("Content-Length") != "5" ||
			resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: body %q, headers %v", tt.path, body, resp.Header)
		}
		if last := got[len(got)-1]; last != tt.want {
			t.Fatalf("%s: handler saw %q, want %q", tt.path, last, tt.want)
		}
	}
	for _, aud := range reviewer.asked {
		if aud != "" {
			t.Fatalf("a user family asked for audience %q, want the API server's default", aud)
		}
	}

	resp, _ := do(s, http.MethodHead, "/r/x/a", "alice", "")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("rate limit per user: status %d, want 429", resp.StatusCode)
	}
}
