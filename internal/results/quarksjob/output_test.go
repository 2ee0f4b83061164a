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

package quarksjob

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobkeeper/jobkeeper/internal/results"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func wantError(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var e *results.Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("error = %v, want %d containing %q", err, code, msg)
	}
}

func TestParseOutputAccepts(t *testing.T) {
	body := `{"files":[{"container":"c1","file":"out.json","data":"` + b64(`{"a":"b"}`) + `"},` +
		`{"container":"c1","file":"empty.json","data":""},` +
		`{"container":"c-2","file":"gone.json","missing":true}]}`
	out, err := ParseOutput([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []OutputFile{
		{Container: "c1", File: "out.json", Data: []byte(`{"a":"b"}`)},
		{Container: "c1", File: "empty.json", Data: []byte{}},
		{Container: "c-2", File: "gone.json", Missing: true},
	}
	if diff := cmp.Diff(want, out.Files); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if out, err := ParseOutput([]byte(`{"files":[]}`)); err != nil || len(out.Files) != 0 {
		t.Fatalf("empty list: %v %v", out, err)
	}
	exact := strings.Repeat("x", MaxOutputFileBytes)
	if _, err := ParseOutput([]byte(`{"files":[{"container":"c","file":"f","data":"` + b64(exact) + `"}]}`)); err != nil {
		t.Fatalf("file of exactly 1 MiB: %v", err)
	}
}

func TestParseOutputRejects(t *testing.T) {
	big := b64(strings.Repeat("x", MaxOutputFileBytes+1))
	tests := []struct {
		name, body string
		code       int
		msg        string
	}{
		{name: "file over 1 MiB", body: `{"files":[{"container":"c","file":"f","data":"` + big + `"}]}`, code: 413,
			msg: "container c, file f: file too large"},
		{name: "body over 8 MiB", body: `{"files":[]}` + strings.Repeat(" ", MaxOutputBodyBytes), code: 413, msg: "exceeds"},
		{name: "not an object", body: `[]`, code: 400, msg: "JSON object"},
		{name: "null", body: `null`, code: 400, msg: "JSON object"},
		{name: "no files", body: `{}`, code: 400, msg: "files list"},
		{name: "null files", body: `{"files":null}`, code: 400, msg: "files list"},
		{name: "unknown field", body: `{"files":[],"x":1}`, code: 400, msg: "unknown field"},
		{name: "unknown file field", body: `{"files":[{"container":"c","file":"f","missing":true,"mode":1}]}`, code: 400, msg: "unknown field"},
		{name: "trailing data", body: `{"files":[]} {}`, code: 400, msg: "unexpected data"},
		{name: "wrong type", body: `{"files":[{"container":"c","file":"f","missing":"yes"}]}`, code: 400, msg: "wrong type"},
		{name: "bad container", body: `{"files":[{"container":"C_1","file":"f","missing":true}]}`, code: 400, msg: "container"},
		{name: "path file", body: `{"files":[{"container":"c","file":"a/b.json","missing":true}]}`, code: 400, msg: "without path separators"},
		{name: "dot-dot file", body: `{"files":[{"container":"c","file":"..","missing":true}]}`, code: 400, msg: "without path separators"},
		{name: "empty file name", body: `{"files":[{"container":"c","file":"","missing":true}]}`, code: 400, msg: "without path separators"},
		{name: "neither", body: `{"files":[{"container":"c","file":"f"}]}`, code: 400, msg: "data or missing is required"},
		{name: "both", body: `{"files":[{"container":"c","file":"f","data":"","missing":true}]}`, code: 400, msg: "exclude each other"},
		{name: "bad base64", body: `{"files":[{"container":"c","file":"f","data":"***"}]}`, code: 400, msg: "base64"},
		{name: "URL base64", body: `{"files":[{"container":"c","file":"f","data":"_-__"}]}`, code: 400, msg: "base64"},
		{name: "twice", body: `{"files":[{"container":"c","file":"f","missing":true},{"container":"c","file":"f","missing":true}]}`,
			code: 400, msg: "sent twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOutput([]byte(tt.body))
			wantError(t, err, tt.code, tt.msg)
		})
	}
}

func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{
		`{"files":[{"container":"c","file":"f","data":"` + b64(`{"a":"b"}`) + `"}]}`,
		`{"files":[{"container":"c","file":"f","missing":true}]}`,
		`{"files":[]}`, `{}`, `null`, `{"files":[{"container":"c","file":"f","data":"***"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := ParseOutput(body)
		if err != nil {
			var e *results.Error
			if !errors.As(err, &e) || (e.Code != 400 && e.Code != 413) {
				t.Fatalf("error %v", err)
			}
			return
		}
		seen := map[[2]string]bool{}
		for _, f := range out.Files {
			if !validFileName(f.File) || f.Container == "" || (f.Missing && f.Data != nil) || (!f.Missing && f.Data == nil) ||
				len(f.Data) > MaxOutputFileBytes || seen[[2]string{f.Container, f.File}] {
				t.Fatalf("invalid file accepted: %+v", f)
			}
			seen[[2]string{f.Container, f.File}] = true
		}
	})
}
