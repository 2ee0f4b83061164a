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

package nodejob

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
)

var testLoc = reports.RunLocation{Namespace: "ns", NodeJob: "nj", Run: "nj-1"}

func newStore(t *testing.T) *reports.FileStore {
	t.Helper()
	s, err := reports.NewFileStore(filepath.Join(t.TempDir(), "reports"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func upload(t *testing.T, s *reports.FileStore, node string, limits reports.FileLimits, files ...[2]string) error {
	t.Helper()
	up, err := s.Begin(testLoc, node, limits)
	if err != nil {
		return err
	}
	defer up.Abort()
	for _, f := range files {
		if err := up.Add(f[0], strings.NewReader(f[1])); err != nil {
			return err
		}
	}
	_, err = up.Commit()
	return err
}

// newServeStore returns a store with a result, a file and symbolic links to
// outside the run directory and outside the root.
func newServeStore(t *testing.T) *reports.FileStore {
	t.Helper()
	s := newStore(t)
	if err := s.PutResult(testLoc, "node-a", []byte(`{"a":[]}`), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := upload(t, s, "node-a", reports.FileLimits{MaxFileSize: 100, MaxFilesPerNode: 5, MaxRunStorage: 1000},
		[2]string{"test.txt", "hello"}); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodeDir := filepath.Join(s.Dir(), "ns", "nj", "nj-1", "nodes", "node-a")
	for name, target := range map[string]string{"files/link": outside, "dirlink": filepath.Join(s.Dir(), "ns")} {
		if err := os.Symlink(target, filepath.Join(nodeDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestFileStoreServe(t *testing.T) {
	s := newServeStore(t)
	resp, err := serve(s, testLoc, "nodes/node-a/files/test.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Content)
	_ = resp.Content.(io.Closer).Close()
	if string(body) != "hello" || resp.ContentLength != 5 || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("Content-Disposition") != "attachment; filename=test.txt" {
		t.Fatalf("file: %q %d %v", body, resp.ContentLength, resp.Header)
	}
	resp, err = serve(s, testLoc, "nodes/node-a/result.json")
	if err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("result.json: %v %v", err, resp)
	}
	_ = resp.Content.(io.Closer).Close()

	resp, err = serve(s, testLoc, "nodes/node-a")
	if err != nil {
		t.Fatal(err)
	}
	entries := resp.Body.([]reports.Entry)
	if len(entries) != 2 || entries[0].Name != "files" || !entries[0].Dir || entries[1].Name != "result.json" ||
		entries[1].Size != 8 {
		t.Fatalf("listing without symbolic links: %+v", entries)
	}
}

func TestFileStoreServeRefuses(t *testing.T) {
	s := newServeStore(t)
	for _, rest := range []string{
		"../x", "nodes/../../x", "/etc/passwd", "nodes/node-a/files/link", "nodes/node-a/dirlink/nj/nj-1",
		"nodes/node-a/files/missing", "nodes/node-a\\..\\..", "nodes/node-b",
	} {
		_, err := serve(s, testLoc, rest)
		e, ok := errors.AsType[*results.Error](err)
		if !ok || (e.Code != http.StatusNotFound && e.Code != http.StatusBadRequest) {
			t.Errorf("%q: %v, want 400 or 404", rest, err)
		}
	}
	if _, err := serve(s, reports.RunLocation{Namespace: "ns", NodeJob: "..", Run: "nj-1"}, ""); err == nil {
		t.Error("a location with .. was served")
	}
	if !s.HasRun(testLoc) || s.HasRun(reports.RunLocation{Namespace: "ns", NodeJob: "nj", Run: "nj-2"}) {
		t.Error("hasRunDir")
	}
}
