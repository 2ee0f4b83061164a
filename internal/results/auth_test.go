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
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeReviewer answers TokenReviews from a table of tokens.
type fakeReviewer struct {
	calls   atomic.Int32
	answers map[string]authenticationv1.TokenReviewStatus
	err     error
}

func (f *fakeReviewer) Create(_ context.Context, obj client.Object, _ ...client.CreateOption) error {
	f.calls.Add(1)
	if f.err != nil {
		return f.err
	}
	tr := obj.(*authenticationv1.TokenReview)
	st, ok := f.answers[tr.Spec.Token]
	if !ok {
		st = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
	}
	tr.Status = st
	return nil
}

func podBound(pod, uid string, audiences ...string) authenticationv1.TokenReviewStatus {
	return authenticationv1.TokenReviewStatus{
		Authenticated: true,
		Audiences:     audiences,
		User: authenticationv1.UserInfo{
			Username: "system:serviceaccount:ns:job",
			Extra: map[string]authenticationv1.ExtraValue{
				extraPodName: {pod},
				extraPodUID:  {uid},
			},
		},
	}
}

func jwtWithExp(exp time.Time) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, exp.Unix())))
	return "eyJhbGciOiJSUzI1NiJ9." + payload + ".c2ln"
}

func requestWith(auth string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/x", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	const aud = "jobkeeper-results"
	reviewer := &fakeReviewer{answers: map[string]authenticationv1.TokenReviewStatus{
		"good":       podBound("p", "uid-1", aud),
		"other-aud":  podBound("p", "uid-1", "https://kubernetes.default.svc"),
		"unbound":    {Authenticated: true, Audiences: []string{aud}, User: authenticationv1.UserInfo{Username: "system:serviceaccount:ns:job"}},
		"not-sa":     {Authenticated: true, Audiences: []string{aud}, User: authenticationv1.UserInfo{Username: "alice"}},
		"two-values": podBound("p", "uid-1", aud),
	}}
	reviewer.answers["two-values"].User.Extra[extraPodName] = []string{"a", "b"}
	clk := clocktesting.NewFakeClock(time.Now())
	a := newAuthenticator(reviewer, AuthPod, aud, clk, 16, 10*time.Second, 5*time.Second)

	tests := []struct {
		name   string
		header string
		code   int
		caller Caller
	}{
		{name: "valid pod-bound token", header: "Bearer good", caller: Caller{Namespace: "ns", PodName: "p", PodUID: "uid-1", ServiceAccount: "job"}},
		{name: "lower-case scheme", header: "bearer good", caller: Caller{Namespace: "ns", PodName: "p", PodUID: "uid-1", ServiceAccount: "job"}},
		{name: "missing header", header: "", code: 401},
		{name: "basic auth", header: "Basic dXNlcjpwdw==", code: 401},
		{name: "empty token", header: "Bearer ", code: 401},
		{name: "rejected token", header: "Bearer nope", code: 401},
		{name: "other audience", header: "Bearer other-aud", code: 401},
		{name: "not bound to a pod", header: "Bearer unbound", code: 401},
		{name: "not a service account", header: "Bearer not-sa", code: 401},
		{name: "two pod names", header: "Bearer two-values", code: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := a.authenticate(context.Background(), requestWith(tt.header))
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if c != tt.caller {
					t.Fatalf("caller = %+v, want %+v", c, tt.caller)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Reason != "Unauthenticated" {
				t.Fatalf("error = %v, want %d Unauthenticated", err, tt.code)
			}
		})
	}
}

func TestAuthenticateCachesByTokenHash(t *testing.T) {
	const aud = "a"
	clk := clocktesting.NewFakeClock(time.Now())
	long := jwtWithExp(clk.Now().Add(time.Hour))
	short := jwtWithExp(clk.Now().Add(4 * time.Second))
	reviewer := &fakeReviewer{answers: map[string]authenticationv1.TokenReviewStatus{
		long:  podBound("p", "u", aud),
		short: podBound("p", "u", aud),
	}}
	a := newAuthenticator(reviewer, AuthPod, aud, clk, 16, 10*time.Second, 5*time.Second)
	ctx := context.Background()

	for range 3 {
		if _, err := a.authenticate(ctx, requestWith("Bearer "+long)); err != nil {
			t.Fatal(err)
		}
	}
	if n := reviewer.calls.Load(); n != 1 {
		t.Fatalf("%d TokenReviews for 3 requests with one token, want 1", n)
	}
	for _, k := range a.cache.Keys() {
		if k == long {
			t.Fatal("the cache is keyed by the token itself")
		}
	}
	clk.Step(11 * time.Second)
	if _, err := a.authenticate(ctx, requestWith("Bearer "+long)); err != nil {
		t.Fatal(err)
	}
	if n := reviewer.calls.Load(); n != 2 {
		t.Fatalf("%d TokenReviews after the cache expired, want 2", n)
	}

	// A token with 4 s left is remembered for at most 2 s.
	reviewer.calls.Store(0)
	if _, err := a.authenticate(ctx, requestWith("Bearer "+short)); err != nil {
		t.Fatal(err)
	}
	clk.Step(2500 * time.Millisecond)
	if _, err := a.authenticate(ctx, requestWith("Bearer "+short)); err != nil {
		t.Fatal(err)
	}
	if n := reviewer.calls.Load(); n != 2 {
		t.Fatalf("%d TokenReviews for a token close to expiry, want 2", n)
	}

	// Rejections are remembered briefly too.
	reviewer.calls.Store(0)
	for range 3 {
		if _, err := a.authenticate(ctx, requestWith("Bearer bad")); err == nil {
			t.Fatal("bad token accepted")
		}
	}
	if n := reviewer.calls.Load(); n != 1 {
		t.Fatalf("%d TokenReviews for a rejected token, want 1", n)
	}
}

func TestAuthenticateAPIErrorIsRetryable(t *testing.T) {
	reviewer := &fakeReviewer{err: apierrors.NewServiceUnavailable("down")}
	a := newAuthenticator(reviewer, AuthPod, "a", clocktesting.NewFakeClock(time.Now()), 16, time.Second, time.Second)
	_, err := a.authenticate(context.Background(), requestWith("Bearer x"))
	var e *Error
	if !errors.As(err, &e) || e.Code != http.StatusServiceUnavailable || e.RetryAfter <= 0 {
		t.Fatalf("error = %v, want 503 with Retry-After", err)
	}
	// Failures to reach the API server are not remembered.
	reviewer.err = apierrors.NewForbidden(schema.GroupResource{}, "", errors.New("no"))
	_, _ = a.authenticate(context.Background(), requestWith("Bearer x"))
	if n := reviewer.calls.Load(); n != 2 {
		t.Fatalf("%d TokenReviews, want 2", n)
	}
}

func TestSplitServiceAccount(t *testing.T) {
	for in, ok := range map[string]bool{
		"system:serviceaccount:ns:sa":  true,
		"system:serviceaccount:ns":     false,
		"system:serviceaccount::sa":    false,
		"system:serviceaccount:ns:a:b": false,
		"system:serviceaccounts:ns:sa": false,
		"kubernetes-admin":             false,
	} {
		if _, _, got := splitServiceAccount(in); got != ok {
			t.Errorf("splitServiceAccount(%q) ok = %v, want %v", in, got, ok)
		}
	}
}
