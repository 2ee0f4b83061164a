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
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSanitizeFileName(t *testing.T) {
	tests := map[string]string{
		"test.txt":               "test.txt",
		"/../../../x.txt":        "x.txt",
		`..\..\x.txt`:            "x.txt",
		`C:\Users\me\report.csv`: "report.csv",
		"dir/sub/":               "sub",
		"a b$c.log":              "a_b_c.log",
		"ärger.txt":              "_rger.txt",
		"\xff\xfe.bin":           "__.bin",
		".hidden":                ".hidden",
		"...":                    "...",
		"x\x00y":                 "x_y",
		strings.Repeat("a", 200): strings.Repeat("a", 200),
	}
	for in, want := range tests {
		got, err := SanitizeFileName(in)
		if err != nil || got != want {
			t.Errorf("SanitizeFileName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "..", "/", "//", `\`, "a/..", "../", `..\`, strings.Repeat("a", 201)} {
		_, err := SanitizeFileName(in)
		wantError(t, err, 400, "invalid file name")
	}
}

// memReceiver keeps uploaded files in memory.
type memReceiver struct {
	files map[string]string
	err   error
}

func (m *memReceiver) Add(name string, r io.Reader) error {
	if m.err != nil {
		return m.err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if m.files == nil {
		m.files = map[string]string{}
	}
	m.files[name] = string(b)
	return nil
}

func multipartBody(t *testing.T, parts ...[3]string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p[1] == "" {
			w, err = mw.CreateFormField(p[0])
		} else {
			w, err = mw.CreateFormFile(p[0], p[1])
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, p[2])
	}
	_ = mw.Close()
	return mw.FormDataContentType(), &buf
}

func TestReadUpload(t *testing.T) {
	gen := func() string { return "generated" }
	ct, mp := multipartBody(t, [3]string{"file", "a.txt", "A"}, [3]string{"comment", "", "ignored"},
		[3]string{"file", `..\..\b.txt`, "B"})

	tests := []struct {
		name    string
		target  string
		headers map[string]string
		body    io.Reader
		names   []string
		files   map[string]string
	}{
		{name: "multipart", target: "/f", headers: map[string]string{"Content-Type": ct}, body: mp,
			names: []string{"a.txt", "b.txt"}, files: map[string]string{"a.txt": "A", "b.txt": "B"}},
		{name: "query name", target: "/f?name=%2F..%2F..%2F..%2Fx.txt", body: strings.NewReader("X"),
			names: []string{"x.txt"}, files: map[string]string{"x.txt": "X"}},
		{name: "content disposition", target: "/f",
			headers: map[string]string{"Content-Disposition": `attachment;filename="test.txt"`}, body: strings.NewReader("T"),
			names: []string{"test.txt"}, files: map[string]string{"test.txt": "T"}},
		{name: "content disposition traversal", target: "/f",
			headers: map[string]string{"Content-Disposition": `attachment; filename="..\\..\\x.txt"`}, body: strings.NewReader("T"),
			names: []string{"x.txt"}, files: map[string]string{"x.txt": "T"}},
		{name: "bare filename parameter", target: "/f",
			headers: map[string]string{"Content-Disposition": `filename="y.txt"`}, body: strings.NewReader("Y"),
			names: []string{"y.txt"}, files: map[string]string{"y.txt": "Y"}},
		{name: "query wins", target: "/f?name=q.txt",
			headers: map[string]string{"Content-Disposition": `attachment;filename="d.txt"`}, body: strings.NewReader("Q"),
			names: []string{"q.txt"}, files: map[string]string{"q.txt": "Q"}},
		{name: "generated text", target: "/f", headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			body: strings.NewReader("G"), names: []string{"generated.txt"}, files: map[string]string{"generated.txt": "G"}},
		{name: "generated unknown", target: "/f", headers: map[string]string{"Content-Type": "application/x-jobkeeper-unknown"},
			body: strings.NewReader("G"), names: []string{"generated.file"}, files: map[string]string{"generated.file": "G"}},
		{name: "generated JSON", target: "/f", headers: map[string]string{"Content-Type": "application/json"},
			body: strings.NewReader("{}"), names: []string{"generated.json"}, files: map[string]string{"generated.json": "{}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.target, tt.body)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			rc := &memReceiver{}
			names, err := ReadUpload(r, rc, gen)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.names, names); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.files, rc.files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadUploadRejects(t *testing.T) {
	ct, mp := multipartBody(t, [3]string{"file", "a.txt", "A"})
	broken := strings.Replace(mp.String(), "--"+strings.TrimPrefix(ct, "multipart/form-data; boundary=")+"--", "--nope", 1)
	_, fieldsOnly := multipartBody(t, [3]string{"comment", "", "x"})
	ctFields := "multipart/form-data; boundary=" + strings.SplitN(strings.TrimPrefix(fieldsOnly.String(), "--"), "\r\n", 2)[0]
	tests := []struct {
		name, target, ct, cd, body, msg string
	}{
		{name: "dot-dot", target: "/f?name=..", body: "x", msg: "invalid file name"},
		{name: "slash", target: "/f?name=/", body: "x", msg: "invalid file name"},
		{name: "disposition dot-dot", target: "/f", cd: `attachment; filename=".."`, body: "x", msg: "invalid file name"},
		{name: "broken boundary", target: "/f", ct: ct, body: broken, msg: "malformed"},
		{name: "wrong boundary", target: "/f", ct: "multipart/form-data; boundary=zzz", body: mp.String(), msg: "no file"},
		{name: "no boundary", target: "/f", ct: "multipart/form-data", body: "x", msg: "boundary"},
		{name: "unparsable multipart type", target: "/f", ct: "multipart/form-data; boundary=", body: "x", msg: "multipart"},
		{name: "no file part", target: "/f", ct: ctFields, body: fieldsOnly.String(), msg: "no file"},
		{name: "bad disposition", target: "/f", cd: `attachment; filename="a"; filename="b"`, body: "x", msg: "Content-Disposition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			if tt.cd != "" {
				r.Header.Set("Content-Disposition", tt.cd)
			}
			_, err := ReadUpload(r, &memReceiver{}, nil)
			wantError(t, err, 400, tt.msg)
		})
	}
}
