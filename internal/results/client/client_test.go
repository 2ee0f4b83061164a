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
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobkeeper/jobkeeper/internal/results/certs"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// fakeAPI answers from a script of responses, one per request, and records
// the tokens it received.
type fakeAPI struct {
	mu      sync.Mutex
	script  []func(w http.ResponseWriter, r *http.Request)
	tokens  []string
	bodies  []string
	handled int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = append(f.tokens, r.Header.Get("Authorization"))
	b, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, string(b))
	r.Body = io.NopCloser(bytes.NewReader(b))
	step := f.script[min(f.handled, len(f.script)-1)]
	f.handled++
	step(w, r)
}

func answer(code int, reason string, retryAfter string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(wire.Error{Code: code, Reason: reason, Message: "m"})
	}
}

func okJSON(v any) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// setup starts a TLS server and writes its CA and a token into files.
func setup(t *testing.T, api *fakeAPI) (*httptest.Server, Options, *[]time.Duration) {
	t.Helper()
	srv := httptest.NewTLSServer(api)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("token-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var sleeps []time.Duration
	return srv, Options{
		BaseURL:   srv.URL,
		TokenFile: filepath.Join(dir, "token"),
		CAFile:    filepath.Join(dir, "ca.crt"),
		Sleep: func(_ context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			return nil
		},
	}, &sleeps
}

func TestRetriesHonourRetryAfterAndRereadToken(t *testing.T) {
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){
		answer(503, "Unavailable", "1"),
		answer(429, "TooManyRequests", "7"),
		answer(503, "Unavailable", ""),
		okJSON(wire.OutputResponse{Secrets: []string{"s1"}}),
	}}
	_, opts, sleeps := setup(t, api)
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	c.opts.Sleep = func(_ context.Context, d time.Duration) error {
		*sleeps = append(*sleeps, d)
		calls++
		// The kubelet rotates the token between attempts.
		return os.WriteFile(opts.TokenFile, []byte("token-2"), 0o600)
	}
	out, err := c.PostOutput(context.Background(), wire.OutputRequest{Files: []wire.OutputFile{
		wire.FileOutput("c", "f.json", []byte(`{"a":"b"}`)), wire.MissingOutput("c", "g.json"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1"}, out.Secrets); diff != "" {
		t.Fatal(diff)
	}
	if (*sleeps)[0] != time.Second || (*sleeps)[1] != 7*time.Second || (*sleeps)[2] <= 0 || (*sleeps)[2] > 2*DefaultInitialBackoff*2 {
		t.Fatalf("sleeps %v", *sleeps)
	}
	if diff := cmp.Diff([]string{"Bearer token-1", "Bearer token-2", "Bearer token-2", "Bearer token-2"}, api.tokens); diff != "" {
		t.Fatalf("tokens (-want +got):\n%s", diff)
	}
	var sent wire.OutputRequest
	if err := json.Unmarshal([]byte(api.bodies[3]), &sent); err != nil || len(sent.Files) != 2 || !sent.Files[1].Missing {
		t.Fatalf("body %s", api.bodies[3])
	}
}

func TestDoesNotRetryClientErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		step   func(http.ResponseWriter, *http.Request)
		status int
		reason string
	}{
		{"bad request", answer(400, "OutputInvalid", ""), 400, "OutputInvalid"},
		{"forbidden", answer(403, "Forbidden", ""), 403, "Forbidden"},
		{"quota without Retry-After", answer(429, "TooManyRequests", ""), 429, "TooManyRequests"},
		{"conflict not listed", answer(409, "RunFinished", ""), 409, "RunFinished"},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(418) }, 418, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){tc.step, okJSON(struct{}{})}}
			_, opts, _ := setup(t, api)
			opts.RetryReasons = []string{wire.ReasonContainersRunning}
			c, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			err = c.PostEvent(context.Background(), "/report/n/1/event", wire.EventRequest{Reason: "A", Message: "m"})
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Body.Reason != tc.reason {
				t.Fatalf("error %v", err)
			}
			if api.handled != 1 {
				t.Fatalf("%d requests, want 1", api.handled)
			}
		})
	}
}

func TestRetryReasonsAndMaxAttempts(t *testing.T) {
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){answer(409, wire.ReasonContainersRunning, "")}}
	_, opts, sleeps := setup(t, api)
	opts.RetryReasons = []string{wire.ReasonContainersRunning}
	opts.MaxAttempts = 6
	opts.InitialBackoff = time.Second
	opts.MaxBackoff = 4 * time.Second
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	err = c.PostJSON(context.Background(), wire.QuarksJobOutputPath, wire.OutputRequest{}, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Body.Reason != wire.ReasonContainersRunning || api.handled != 6 {
		t.Fatalf("error %v after %d requests", err, api.handled)
	}
	// Exponential backoff with jitter in [d/2, d), capped at MaxBackoff.
	caps := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, d := range *sleeps {
		if d < caps[i]/2 || d >= caps[i] {
			t.Errorf("sleep %d = %v, want in [%v, %v)", i, d, caps[i]/2, caps[i])
		}
	}
}

func TestRetriesConnectionErrors(t *testing.T) {
	hangUp := func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){hangUp, hangUp, okJSON(wire.ResultResponse{Accepted: 1})}}
	_, opts, sleeps := setup(t, api)
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.PostResult(context.Background(), opts.BaseURL+"/report/n/1/result", wire.ResultRequest{"test": {{Value: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Accepted != 1 || len(*sleeps) != 2 {
		t.Fatalf("accepted %d after %d sleeps", out.Accepted, len(*sleeps))
	}
	if api.bodies[2] != `{"test":[{"value":1}]}` {
		t.Fatalf("body %s", api.bodies[2])
	}
}

func TestStopsWithContext(t *testing.T) {
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){answer(503, "Unavailable", "1")}}
	_, opts, _ := setup(t, api)
	opts.Sleep = nil
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = c.PostEvent(ctx, "/report/n/1/event", wire.EventRequest{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("last error not kept: %v", err)
	}
}

func TestWait(t *testing.T) {
	want := wire.WaitResponse{Containers: map[string]wire.ContainerState{"c": {ExitCode: 3}},
		Files: []wire.WaitFile{{Container: "c", File: "f"}}}
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != wire.QuarksJobWaitPath || r.URL.Query().Get("timeout") != "60" || r.Method != "GET" {
				w.WriteHeader(400)
				return
			}
			w.WriteHeader(204)
		},
		okJSON(want),
	}}
	_, opts, _ := setup(t, api)
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Wait(context.Background(), time.Minute)
	if err != nil || got != nil {
		t.Fatalf("first wait: %v %v", got, err)
	}
	got, err = c.Wait(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Fatal(diff)
	}
}

func TestPostFile(t *testing.T) {
	var got map[string]string
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){
		answer(503, "Unavailable", "1"),
		func(w http.ResponseWriter, r *http.Request) {
			_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			mr := multipart.NewReader(r.Body, params["boundary"])
			got = map[string]string{}
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(p)
				got[p.FileName()] = string(b)
			}
			okJSON(wire.FilesResponse{Files: []string{"report.txt"}})(w, r)
		},
	}}
	_, opts, _ := setup(t, api)
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.txt")
	if err := os.WriteFile(path, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := c.PostFile(context.Background(), opts.BaseURL+"/report/n/1/file", path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"report.txt": "hello"}, got); diff != "" || len(out.Files) != 1 {
		t.Fatalf("%s %v", diff, out)
	}
}

func TestRejectsPlainHTTPAndUnknownCA(t *testing.T) {
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){okJSON(struct{}{})}}
	srv, opts, _ := setup(t, api)
	if _, err := New(Options{BaseURL: "http://x", TokenFile: opts.TokenFile, CAFile: opts.CAFile}); err == nil {
		t.Fatal("http base URL accepted")
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PostJSON(context.Background(), "http://"+srv.Listener.Addr().String()+"/x", 1, nil); err == nil {
		t.Fatal("plain http URL accepted")
	}
	// The CA bundle is replaced by one that did not sign the server's certificate: the client reloads it,
	// and the TLS error is retried until the attempts run out.
	otherDir := t.TempDir()
	if err := certs.Generate(otherDir, []string{"127.0.0.1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(otherDir, certs.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(opts.CAFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	c.opts.MaxAttempts = 2
	if err := c.PostJSON(context.Background(), "/x", 1, nil); err == nil || api.handled != 0 {
		t.Fatalf("request with an unknown CA: %v, %d handled", err, api.handled)
	}
}

func TestRetriesInternalErrors(t *testing.T) {
	api := &fakeAPI{script: []func(http.ResponseWriter, *http.Request){
		answer(500, "InternalError", ""), answer(502, "", ""), okJSON(struct{}{}),
	}}
	_, opts, sleeps := setup(t, api)
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PostEvent(context.Background(), "/report/n/1/event", wire.EventRequest{}); err != nil {
		t.Fatal(err)
	}
	if api.handled != 3 || len(*sleeps) != 2 {
		t.Fatalf("%d requests, %d sleeps", api.handled, len(*sleeps))
	}
}
