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
	"bytes"
	"errors"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jobkeeper/jobkeeper/internal/results"
)

// answerCode returns the status code of an answer, failing on any other error.
func answerCode(t *testing.T, err error) int {
	t.Helper()
	var e *results.Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not an answer: %v", err)
	}
	return e.Code
}

func FuzzParseResult(f *testing.F) {
	for _, s := range []string{
		`{"test": [{"value": 1.0, "labels": {"label_a": "AAA", "label_b": "BBB"}}]}`,
		`{"test":[{"value":"x"}]}`, `null`, `[]`, `{}`, `{"other":[{"value":-1e308}]} `,
		`{"test":[{"value":1,"labels":{"node":"x","zz":"y"}}]}`, "{\"test\":[{\"value\":1,\"labels\":{\"label_a\":\"\xff\"}}]}",
	} {
		f.Add([]byte(s))
	}
	spec := testResultSpec()
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseResult(body, spec)
		if err != nil {
			if c := answerCode(t, err); c != 400 && c != 413 {
				t.Fatalf("code %d", c)
			}
			return
		}
		if len(res.Series) > spec.MaxSeries {
			t.Fatalf("%d series accepted", len(res.Series))
		}
		for _, s := range res.Series {
			if _, ok := spec.Gauges[s.Suffix]; !ok {
				t.Fatalf("undeclared suffix %q accepted", s.Suffix)
			}
			for k, v := range s.Labels {
				if fixed, ok := spec.Fixed[k]; ok && v != fixed {
					t.Fatalf("implicit label %s = %q", k, v)
				}
				if len(v) > MaxLabelValueBytes || !utf8.ValidString(v) {
					t.Fatalf("label %s = %q accepted", k, v)
				}
			}
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"reason":"TestReason","message":"test message with %s","args":["arg"]}`,
		`{"warning":true,"reason":"A","action":"B","message":"%*d %[3]s %v","args":["1","2"]}`,
		`{"reason":"testReason","message":"m"}`, `{"reason":"A","message":"%1000s%1000s","args":["x"]}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEvent(body)
		if err != nil {
			if c := answerCode(t, err); c != 400 {
				t.Fatalf("code %d", c)
			}
			return
		}
		if !validReason(ev.Reason) || len(ev.Note) > MaxEventNoteBytes || ev.Note == "" ||
			len(ev.Action) > MaxEventActionLength || ev.Action == "" || (ev.Type != "Normal" && ev.Type != "Warning") {
			t.Fatalf("invalid event accepted: %+v", ev)
		}
	})
}

func FuzzSanitizeFileName(f *testing.F) {
	for _, s := range []string{"test.txt", "/../../../x.txt", `..\..\x.txt`, "..", "/", "a/..", "ä.txt", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		out, err := SanitizeFileName(name)
		if err != nil {
			if c := answerCode(t, err); c != 400 {
				t.Fatalf("code %d", c)
			}
			return
		}
		if out == "" || out == "." || out == ".." || len(out) > MaxFileNameBytes {
			t.Fatalf("%q gave %q", name, out)
		}
		if strings.Trim(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" ||
			filepath.Base(out) != out || filepath.Clean(out) != out {
			t.Fatalf("%q gave %q, which is not a base name", name, out)
		}
		if again, err := SanitizeFileName(out); err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", name, out, again, err)
		}
	})
}

// FuzzReadUpload sends fuzzed uploads to a real store and checks that every
// stored file lies in the node's files directory.
func FuzzReadUpload(f *testing.F) {
	f.Add("name=x.txt", "", "", []byte("data"))
	f.Add("name=%2F..%2F..%2Fx", "", "", []byte("d"))
	f.Add("", "", `attachment; filename="..\\..\\x.txt"`, []byte("d"))
	f.Add("", "text/plain", "", []byte("generated"))
	f.Add("", "multipart/form-data; boundary=b", "",
		[]byte("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../a\"\r\n\r\nA\r\n--b--\r\n"))
	f.Add("", "multipart/form-data; boundary=b", "", []byte("--b\r\nbroken"))

	dir := f.TempDir()
	s, err := reports.NewFileStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	filesDir := filepath.Join(dir, "ns", "nj", "nj-1", "nodes", "n", "files")
	lim := reports.FileLimits{MaxFileSize: 1 << 10, MaxFilesPerNode: 1000, MaxRunStorage: 1 << 30}
	f.Fuzz(func(t *testing.T, query, contentType, disposition string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/f", bytes.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Content-Disposition", disposition)
		up, err := s.Begin(testLoc, "n", lim)
		if err != nil {
			t.Fatal(err)
		}
		defer up.Abort()
		names, err := ReadUpload(r, storeReceiver{up}, func() string { return "gen" })
		if err == nil {
			_, err = up.Commit()
			err = fromStore(err)
		}
		if err != nil {
			if c := answerCode(t, err); c != 400 && c != 413 {
				t.Fatalf("code %d", c)
			}
			return
		}
		for _, n := range names {
			if _, err := os.Lstat(filepath.Join(filesDir, n)); err != nil {
				t.Fatalf("stored name %q not in the files directory: %v", n, err)
			}
		}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if filepath.Dir(p) != filesDir && !strings.HasPrefix(p, filepath.Join(dir, ".jobkeeper-tmp")) {
				t.Fatalf("file outside the files directory: %s", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
