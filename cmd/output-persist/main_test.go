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

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobkeeper/jobkeeper/internal/results/client"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// fakeAPI serves the QuarksJob routes: the first waits answer 204.
type fakeAPI struct {
	pending  atomic.Int32
	wait     wire.WaitResponse
	status   int
	reason   string // of an error answer; OutputInvalid when empty
	received wire.OutputRequest
	posts    atomic.Int32
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer tok" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case wire.QuarksJobWaitPath:
		if f.pending.Add(-1) >= 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_ = json.NewEncoder(w).Encode(f.wait)
	case wire.QuarksJobOutputPath:
		f.posts.Add(1)
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &f.received)
		w.WriteHeader(f.status)
		if f.status == http.StatusOK {
			_ = json.NewEncoder(w).Encode(wire.OutputResponse{Secrets: []string{"s"}})
			return
		}
		reason := wire.ReasonOutputInvalid
		if f.reason != "" {
			reason = f.reason
		}
		_ = json.NewEncoder(w).Encode(wire.Error{Code: f.status, Reason: reason, Message: "bad"})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func startFake(t *testing.T, api *fakeAPI) *client.Client {
	t.Helper()
	srv := httptest.NewTLSServer(api)
	t.Cleanup(srv.Close)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Options{BaseURL: srv.URL, TokenFile: token, HTTPClient: srv.Client(),
		InitialBackoff: time.Millisecond, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testConfig(t *testing.T) config {
	return config{root: t.TempDir(), waitTimeout: time.Minute, uploadTimeout: time.Minute, holdTime: time.Second}
}

func TestPersistReadsEveryFileOnce(t *testing.T) {
	cfg := testConfig(t)
	dir := filepath.Join(cfg.root, "a")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("x.json", []byte(`{"k":"v"}`))
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte(`{"s":"t"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	api := &fakeAPI{status: http.StatusOK, wait: wire.WaitResponse{
		Containers: map[string]wire.ContainerState{"a": {ExitCode: 0}},
		Files: []wire.WaitFile{{Container: "a", File: "x.json"}, {Container: "a", File: "link.json"},
			{Container: "a", File: "absent.json"}},
	}}
	api.pending.Store(2)
	var log strings.Builder
	if code := persist(context.Background(), cfg, startFake(t, api), &log); code != exitOK {
		t.Fatalf("exit %d, log:\n%s", code, log.String())
	}
	if api.posts.Load() != 1 {
		t.Fatalf("%d posts, want 1", api.posts.Load())
	}
	got := api.received.Files
	if len(got) != 3 {
		t.Fatalf("files %+v", got)
	}
	if got[0].Data == nil || *got[0].Data != base64.StdEncoding.EncodeToString([]byte(`{"k":"v"}`)) {
		t.Errorf("x.json sent as %+v", got[0])
	}
	if !got[1].Missing || !got[2].Missing {
		t.Errorf("symlink or absent file not reported missing: %+v %+v", got[1], got[2])
	}
}

// A file over 1 MiB fails the upload (QJ-X18): only that file is sent, cut
// just past the limit, and the sidecar reports it and exits with the rejected
// code on the 413, which the Job's podFailurePolicy turns into a failed Job at once.
func TestPersistTooLarge(t *testing.T) {
	cfg := testConfig(t)
	dir := filepath.Join(cfg.root, "a")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"x.json": 10, "big.json": maxFileBytes + 10, "huge.json": 3 * maxFileBytes} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat("a", size)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	api := &fakeAPI{status: http.StatusRequestEntityTooLarge, reason: wire.ReasonTooLarge, wait: wire.WaitResponse{
		Containers: map[string]wire.ContainerState{"a": {ExitCode: 0}},
		Files: []wire.WaitFile{{Container: "a", File: "x.json"}, {Container: "a", File: "big.json"},
			{Container: "a", File: "huge.json"}},
	}}
	var log strings.Builder
	if code := persist(context.Background(), cfg, startFake(t, api), &log); code != exitRejected {
		t.Fatalf("exit %d, want %d; log:\n%s", code, exitRejected, log.String())
	}
	if api.posts.Load() != 1 {
		t.Fatalf("%d posts, want 1", api.posts.Load())
	}
	got := api.received.Files
	if len(got) != 1 || got[0].File != "big.json" || got[0].Data == nil {
		t.Fatalf("sent %+v, want big.json only", got)
	}
	if n := base64.StdEncoding.DecodedLen(len(*got[0].Data)); n < maxFileBytes+1 || n > maxFileBytes+3 {
		t.Errorf("big.json sent with %d bytes", n)
	}
	for _, want := range []string{"file big.json: file too large", "file huge.json: file too large", "2 file(s) exceed", "TooLarge"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, log.String())
		}
	}
}

func TestPersistWaitTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.waitTimeout = 200 * time.Millisecond
	api := &fakeAPI{status: http.StatusOK}
	api.pending.Store(1 << 30)
	if code := persist(context.Background(), cfg, startFake(t, api), io.Discard); code != exitTimeout {
		t.Fatalf("exit %d, want %d", code, exitTimeout)
	}
	if api.posts.Load() != 0 {
		t.Fatal("posted after a timeout")
	}
}

func TestPersistRejected(t *testing.T) {
	api := &fakeAPI{status: http.StatusBadRequest, wait: wire.WaitResponse{Files: []wire.WaitFile{{Container: "a", File: "x"}}}}
	var log strings.Builder
	if code := persist(context.Background(), testConfig(t), startFake(t, api), &log); code != exitRejected {
		t.Fatalf("exit %d, want %d", code, exitRejected)
	}
	if !strings.Contains(log.String(), "OutputInvalid") {
		t.Errorf("log does not name the reason:\n%s", log.String())
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	env := map[string]string{envTimeout: "soon"}
	if code := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard); code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if code := run(context.Background(), []string{"other"}, func(string) string { return "" }, io.Discard); code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
}

// An answer that asks to try again is not a rejection: the sidecar exits 1,
// which the Job's backoff retries.
func TestPersistUnavailableIsNotRejected(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusTooManyRequests} {
		api := &fakeAPI{status: status, wait: wire.WaitResponse{Files: []wire.WaitFile{{Container: "a", File: "x"}}}}
		if code := persist(context.Background(), testConfig(t), startFake(t, api), io.Discard); code != exitFailed {
			t.Errorf("status %d: exit %d, want %d", status, code, exitFailed)
		}
	}
}
