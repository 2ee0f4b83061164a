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
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// doFrom sends a request from a source address.
func doFrom(s http.Handler, source, path, token, body string) *http.Response {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.RemoteAddr = source
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Result()
}

func TestSourceLimitBeforeTokenReview(t *testing.T) {
	var clk *clocktesting.FakeClock
	s, reviewer := newTestServer(t, func(o *Options) {
		clk = o.Clock.(*clocktesting.FakeClock)
		o.SourceReviewsPerSecond, o.SourceReviewBurst = 1, 5
		o.Families[0].RequestsPerMinute = 0
	})
	// A valid token reviewed before is in the cache and no longer costs a review.
	if resp := doFrom(s, "10.0.0.1:1000", "/t/x/echo", "a", ""); resp.StatusCode != 200 {
		t.Fatalf("valid token: %d", resp.StatusCode)
	}
	const n = 200
	codes := map[int]int{}
	var retryAfter string
	for range n {
		resp := doFrom(s, "10.0.0.1:1000", "/t/x/echo", rand.Text(), "")
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if got := reviewer.calls.Load(); got > 5 {
		t.Fatalf("%d requests with random tokens from one source caused %d TokenReviews; want at most the burst 5",
			n, got)
	}
	if codes[401] != 4 || codes[429] != n-4 || retryAfter != "1" {
		t.Fatalf("answers %v (Retry-After %q), want 4 × 401 and the rest 429 with Retry-After 1", codes, retryAfter)
	}
	// The cached valid token from the same source still passes, and other sources have their own bucket.
	if resp := doFrom(s, "10.0.0.1:1001", "/t/x/echo", "a", ""); resp.StatusCode != 200 {
		t.Fatalf("cached token from the limited source: %d", resp.StatusCode)
	}
	if resp := doFrom(s, "10.0.0.2:1000", "/t/x/echo", "b", ""); resp.StatusCode != 200 {
		t.Fatalf("another source: %d", resp.StatusCode)
	}
	// The bucket refills.
	clk.Step(time.Second)
	before := reviewer.calls.Load()
	if resp := doFrom(s, "10.0.0.1:1000", "/t/x/echo", rand.Text(), ""); resp.StatusCode != 401 {
		t.Fatalf("after a second: %d", resp.StatusCode)
	}
	if reviewer.calls.Load() != before+1 {
		t.Fatal("no review after the bucket refilled")
	}
}

// blockingServer returns a server whose /t/{id}/block route (body limit 10)
// and /t/{id}/stream route (streamed body) wait until release is closed.
func blockingServer(t *testing.T, budget int64) (*Server, chan struct{}, chan struct{}) {
	t.Helper()
	entered, release := make(chan struct{}, 10), make(chan struct{})
	block := HandlerFunc(func(_ context.Context, req *Request) (*Response, error) {
		_, _ = io.Copy(io.Discard, req.HTTP.Body)
		entered <- struct{}{}
		<-release
		return OK(struct{}{}), nil
	})
	s, _ := newTestServer(t, func(o *Options) {
		o.MaxInFlightBodyBytes = budget
		o.Families[0].RequestsPerMinute = 0
		o.Families[0].Routes = append(o.Families[0].Routes,
			Route{Method: http.MethodPost, Path: "/t/{id}/block", MaxBodyBytes: 10, Handler: block},
			Route{Method: http.MethodPost, Path: "/t/{id}/stream", MaxBodyBytes: 10, StreamsBody: true, Handler: block})
	})
	return s, entered, release
}

func TestInFlightBodyBudget(t *testing.T) {
	s, entered, release := blockingServer(t, 12)
	first := make(chan int)
	go func() { first <- doFrom(s, "10.0.0.1:1", "/t/x/block", "a", "12345678").StatusCode }()
	<-entered

	// 8 bytes are held; another 8 do not fit: 503 with Retry-After, before the handler runs.
	resp := doFrom(s, "10.0.0.1:2", "/t/y/block", "b", "abcdefgh")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("over the budget: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// 4 bytes fit, and a streamed body does not count.
	small := make(chan int)
	go func() { small <- doFrom(s, "10.0.0.1:3", "/t/z/block", "b", "abcd").StatusCode }()
	<-entered
	streamed := make(chan int)
	go func() { streamed <- doFrom(s, "10.0.0.1:4", "/t/z/stream", "b", "abcdefghij").StatusCode }()
	<-entered

	close(release)
	for name, ch := range map[string]chan int{"first": first, "small": small, "streamed": streamed} {
		if code := <-ch; code != 200 {
			t.Errorf("%s: %d", name, code)
		}
	}
	// Everything was given back.
	if s.bodies.used != 0 {
		t.Fatalf("%d bytes still reserved", s.bodies.used)
	}
	if resp := doFrom(s, "10.0.0.1:5", "/t/y/echo", "b", "abcdefgh"); resp.StatusCode != 200 {
		t.Fatalf("after release: %d", resp.StatusCode)
	}
}

func TestBodyReservation(t *testing.T) {
	b := &bodyBudget{max: 100}
	rt := &route{Route: Route{MaxBodyBytes: 40}}
	for _, tc := range []struct {
		length int64
		want   int64
	}{{length: 10, want: 10}, {length: 50, want: 40}, {length: -1, want: 40}, {length: 0, want: 0}} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.ContentLength = tc.length
		if got := b.reservation(r, rt); got != tc.want {
			t.Errorf("Content-Length %d reserves %d, want %d", tc.length, got, tc.want)
		}
	}
	big := &route{Route: Route{MaxBodyBytes: 1 << 30}}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.ContentLength = -1
	if got := b.reservation(r, big); got != 100 {
		t.Errorf("a request alone reserves %d, want at most the budget 100", got)
	}
}

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2)
	defer func() { _ = ln.Close() }()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		defer func() { _ = c.Close() }()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two are open")
	case <-time.After(200 * time.Millisecond):
	}
	_ = first.Close()
	_ = first.Close() // closing twice gives back one slot
	select {
	case c := <-accepted:
		_ = c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the third connection was not accepted after one was closed")
	}
	_ = second.Close()
}
