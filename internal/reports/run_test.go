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

package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestRunMarkersAndOrphans(t *testing.T) {
	s, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keep := RunLocation{Namespace: "ns", NodeJob: "nj", Run: "nj-1"}
	gone := RunLocation{Namespace: "ns", NodeJob: "nj", Run: "nj-2"}
	for _, l := range []RunLocation{keep, gone} {
		if err := s.WriteRunMarker(l, types.UID("uid-"+l.Run)); err != nil {
			t.Fatal(err)
		}
	}
	// A marker that names another place, and an unmarked directory, are never removed.
	moved := filepath.Join(s.Dir(), "ns", "nj", "copied")
	if err := os.MkdirAll(moved, 0o750); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(s.Dir(), "ns", "nj", "nj-2", RunMarkerFileName))
	if err := os.WriteFile(filepath.Join(moved, RunMarkerFileName), data, 0o640); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(s.Dir(), "ns", "lost+found", "x")
	if err := os.MkdirAll(foreign, 0o750); err != nil {
		t.Fatal(err)
	}

	markers, err := s.Markers()
	if err != nil || len(markers) != 2 {
		t.Fatalf("markers = %v, %v; want the two runs", markers, err)
	}
	removed, err := s.RemoveOrphans(func(m RunMarker) bool { return m.UID == "uid-nj-1" })
	if err != nil || removed != 1 {
		t.Fatalf("removed %d, %v; want 1", removed, err)
	}
	for path, want := range map[string]bool{
		filepath.Join(s.Dir(), "ns", "nj", "nj-1"): true,
		filepath.Join(s.Dir(), "ns", "nj", "nj-2"): false,
		moved:   true,
		foreign: true,
	} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", path, err == nil, want)
		}
	}
}

func TestPutLogCountsStorage(t *testing.T) {
	s, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	loc := RunLocation{Namespace: "ns", NodeJob: "nj", Run: "nj-1"}
	if err := s.PutResult(loc, "node-a", []byte(`{"a":[]}`), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLog(loc, "node-a", "main", []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLog(loc, "node-a", "../evil", []byte("x")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(s.Dir(), "ns", "nj", "nj-1", "nodes", "node-a", "logs", "main.log"))
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("log = %q, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Dir(), "ns", "nj", "nj-1", "nodes", "node-a", "logs"))
	for _, e := range entries {
		if strings.Contains(e.Name(), "/") || e.Name() == ".." {
			t.Errorf("unexpected log name %q", e.Name())
		}
	}
	files, bytes, err := s.NodeFiles(loc, "node-a")
	if err != nil || files != 0 || bytes != int64(len(`{"a":[]}`)+len("hello\n")+len("x")) {
		t.Errorf("NodeFiles = %d, %d, %v", files, bytes, err)
	}
	data, err := s.ReadResult(loc, "node-a")
	if err != nil || string(data) != `{"a":[]}` {
		t.Errorf("ReadResult = %q, %v", data, err)
	}
}
