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
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var testLoc = RunLocation{Namespace: "ns", NodeJob: "nj", Run: "nj-1"}

func newStore(t *testing.T) *FileStore {
	t.Helper()
	s, err := NewFileStore(filepath.Join(t.TempDir(), "reports"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func upload(t *testing.T, s *FileStore, node string, limits FileLimits, files ...[2]string) ([]StoredFile, error) {
	t.Helper()
	up, err := s.Begin(testLoc, node, limits)
	if err != nil {
		return nil, err
	}
	defer up.Abort()
	for _, f := range files {
		if err := up.Add(f[0], strings.NewReader(f[1])); err != nil {
			return nil, err
		}
	}
	return up.Commit()
}

// tree lists the regular files under dir, relative to it, skipping the temporary directory.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && rel == tmpDirName {
			entries, _ := os.ReadDir(p)
			for _, e := range entries {
				out = append(out, filepath.Join(tmpDirName, e.Name()))
			}
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestUploadStoresAndOverwrites(t *testing.T) {
	s := newStore(t)
	lim := FileLimits{MaxFileSize: 10, MaxFilesPerNode: 2, MaxRunStorage: 100}
	stored, err := upload(t, s, "node-a", lim, [2]string{"a.txt", "1234"}, [2]string{"b.txt", "56"})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0] != (StoredFile{Name: "a.txt", Size: 4}) {
		t.Fatalf("stored %v", stored)
	}
	if got := tree(t, s.Dir()); !slices.Equal(got, []string{"ns/nj/nj-1/nodes/node-a/files/a.txt", "ns/nj/nj-1/nodes/node-a/files/b.txt"}) {
		t.Fatalf("tree %v", got)
	}
	// The same name again overwrites and does not count as a new file.
	if _, err := upload(t, s, "node-a", lim, [2]string{"a.txt", "123456789"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(s.Dir(), "ns/nj/nj-1/nodes/node-a/files/a.txt"))
	if string(data) != "123456789" {
		t.Fatalf("a.txt = %q", data)
	}
	if u, _ := s.Usage(testLoc); u != 11 {
		t.Fatalf("usage %d, want 11", u)
	}
	// A third file is over maxFilesPerNode; nothing of that upload is kept.
	_, err = upload(t, s, "node-a", lim, [2]string{"a.txt", "x"}, [2]string{"c.txt", "x"})
	wantError(t, err, ErrTooLarge, "maxFilesPerNode")
	data, _ = os.ReadFile(filepath.Join(s.Dir(), "ns/nj/nj-1/nodes/node-a/files/a.txt"))
	if string(data) != "123456789" {
		t.Fatalf("a.txt changed by a rejected upload: %q", data)
	}
	// Another node has its own count.
	if _, err := upload(t, s, "node-b", lim, [2]string{"c.txt", "x"}); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, s.Dir()); len(got) != 3 {
		t.Fatalf("tree %v", got)
	}
}

func TestUploadLimits(t *testing.T) {
	s := newStore(t)
	lim := FileLimits{MaxFileSize: 5, MaxFilesPerNode: 3, MaxRunStorage: 8}
	_, err := upload(t, s, "n", lim, [2]string{"a", "123"}, [2]string{"big", "123456"})
	wantError(t, err, ErrTooLarge, "maxFileSize")
	_, err = upload(t, s, "n", lim, [2]string{"a", "12345"}, [2]string{"b", "12345"})
	wantError(t, err, ErrTooLarge, "maxRunStorage")
	_, err = upload(t, s, "n", lim, [2]string{"a", "1"}, [2]string{"b", "1"}, [2]string{"c", "1"}, [2]string{"d", "1"})
	wantError(t, err, ErrTooLarge, "maxFilesPerNode")
	if got := tree(t, s.Dir()); len(got) != 0 {
		t.Fatalf("rejected uploads left %v", got)
	}
	if _, err := upload(t, s, "n", lim, [2]string{"a", "12345"}); err != nil {
		t.Fatal(err)
	}
	// Run storage counts what is already there, across nodes.
	_, err = upload(t, s, "m", lim, [2]string{"b", "1234"})
	wantError(t, err, ErrTooLarge, "maxRunStorage")
	// A new store (a restart or a failover) counts from disk.
	s2, err := NewFileStore(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s2.Close() }()
	_, err = upload(t, s2, "m", lim, [2]string{"b", "1234"})
	wantError(t, err, ErrTooLarge, "maxRunStorage")
	if u, _ := s2.Usage(testLoc); u != 5 {
		t.Fatalf("usage after reopening %d, want 5", u)
	}
}

func TestUploadRejectsUnsafeNames(t *testing.T) {
	s := newStore(t)
	lim := FileLimits{MaxFileSize: 5, MaxFilesPerNode: 3, MaxRunStorage: 100}
	for _, name := range []string{"../x", "..", ".", "", "a/b", `a\b`, "x y"} {
		_, err := upload(t, s, "n", lim, [2]string{name, "1"})
		wantError(t, err, ErrInvalid, "invalid file name")
	}
	for _, node := range []string{"..", ".", "", "a/b"} {
		_, err := s.Begin(testLoc, node, lim)
		wantError(t, err, ErrInvalid, "invalid node name")
	}
	for _, loc := range []RunLocation{{"..", "nj", "r"}, {"ns", "a/b", "r"}, {"ns", "nj", ""}} {
		if _, err := s.Begin(loc, "n", lim); err == nil {
			t.Errorf("location %+v accepted", loc)
		}
	}
	if got := tree(t, s.Dir()); len(got) != 0 {
		t.Fatalf("tree %v", got)
	}
}

func TestUploadDoesNotFollowSymlinks(t *testing.T) {
	s := newStore(t)
	outside := t.TempDir()
	// Someone with access to the volume planted a symlink where the files directory goes.
	if err := os.MkdirAll(filepath.Join(s.Dir(), "ns/nj/nj-1/nodes/n"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "ns/nj/nj-1/nodes/n/files")); err != nil {
		t.Fatal(err)
	}
	_, err := upload(t, s, "n", FileLimits{MaxFileSize: 5, MaxFilesPerNode: 3, MaxRunStorage: 100}, [2]string{"a", "1"})
	if err == nil {
		t.Fatal("upload through a symlink succeeded")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("file written outside the report root: %v", entries)
	}
}

func TestPutResultAndRemoveRun(t *testing.T) {
	s := newStore(t)
	if err := s.PutResult(testLoc, "n", []byte(`{"a":[]}`), 100); err != nil {
		t.Fatal(err)
	}
	if err := s.PutResult(testLoc, "n", []byte(`{"b":[]}`), 100); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(s.Dir(), "ns/nj/nj-1/nodes/n/result.json"))
	if string(data) != `{"b":[]}` {
		t.Fatalf("result.json = %q", data)
	}
	err := s.PutResult(testLoc, "n", []byte(strings.Repeat("x", 101)), 100)
	wantError(t, err, ErrTooLarge, "maxRunStorage")
	if u, _ := s.Usage(testLoc); u != 8 {
		t.Fatalf("usage %d, want 8", u)
	}
	if err := s.RemoveRun(testLoc); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, s.Dir()); len(got) != 0 {
		t.Fatalf("tree after RemoveRun %v", got)
	}
	if u, _ := s.Usage(testLoc); u != 0 {
		t.Fatalf("usage after RemoveRun %d", u)
	}
}

// wantError fails unless err is of kind and its message contains msg.
func wantError(t *testing.T, err error, kind error, msg string) {
	t.Helper()
	if !errors.Is(err, kind) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("error = %v, want %v containing %q", err, kind, msg)
	}
}
