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

package client

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// TestRetryAfterIsBounded: a replica that is not the leader (or is busy)
// answers 503 with Retry-After; the client waits as asked, but never longer
// than MaxRetryAfter, however long the server asks it to wait.
func TestRetryAfterIsBounded(t *testing.T) {
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){
		answer(503, wire.ReasonUnavailable, "1"),
		answer(503, wire.ReasonUnavailable, "86400"),
		answer(429, wire.ReasonTooManyRequests, "100000"),
		okJSON(wire.ResultResponse{Accepted: 1}),
	}}
	_, opts, sleeps := setup(t, api)
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.PostResult(context.Background(), "/report/n/1/result", wire.ResultRequest{"test": {{Value: 1}}})
	if err != nil || out.Accepted != 1 {
		t.Fatalf("result %+v, %v", out, err)
	}
	want := []time.Duration{time.Second, DefaultMaxRetryAfter, DefaultMaxRetryAfter}
	if len(*sleeps) != len(want) {
		t.Fatalf("sleeps %v, want %v", *sleeps, want)
	}
	for i, d := range want {
		if (*sleeps)[i] != d {
			t.Fatalf("sleeps %v, want %v", *sleeps, want)
		}
	}

	// A smaller cap is honoured too.
	api = &fakeAPI{script: []func(http.ResponseWriter, *http.Request){
		answer(503, wire.ReasonUnavailable, "600"), okJSON(wire.ResultResponse{Accepted: 1}),
	}}
	_, opts, sleeps = setup(t, api)
	opts.MaxRetryAfter = 10 * time.Second
	if c, err = New(opts); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PostResult(context.Background(), "/report/n/1/result", wire.ResultRequest{}); err != nil {
		t.Fatal(err)
	}
	if len(*sleeps) != 1 || (*sleeps)[0] != 10*time.Second {
		t.Fatalf("sleeps %v, want [10s]", *sleeps)
	}
}
