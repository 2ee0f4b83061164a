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
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// Limits of an output upload.
const (
	// MaxOutputFileBytes is the largest file, decoded.
	MaxOutputFileBytes = 1 << 20
	// MaxOutputBodyBytes is the largest request body.
	MaxOutputBodyBytes = 8 << 20
	// MaxOutputFileNameBytes is the longest file name.
	MaxOutputFileNameBytes = 255
)

// OutputFile is one validated file of an upload.
type OutputFile struct {
	// Container is the container that wrote the file.
	Container string
	// File is the base name of the file.
	File string
	// Data is the decoded content; nil when Missing.
	Data []byte
	// Missing is true when the sidecar did not find the file.
	Missing bool
}

// Output is a validated output upload, in the order it was sent.
type Output struct {
	Files []OutputFile
}

// ParseOutput validates the body of POST /quarksjob/v1/output. A body over
// MaxOutputBodyBytes or a file over MaxOutputFileBytes is 413 TooLarge, whose
// message names the container and file and says "file too large"; any
// other problem (not one JSON object, unknown fields, a container that is not
// a DNS label, a file name that is not a plain base name, both or neither of
// data and missing, bad base64, a file sent twice) is 400 InvalidRequest.
// The contents are not interpreted here; the sink checks them.
func ParseOutput(body []byte) (*Output, error) {
	if len(body) > MaxOutputBodyBytes {
		return nil, results.TooLarge("output body of %d bytes exceeds %d bytes", len(body), MaxOutputBodyBytes)
	}
	var req struct {
		Files *[]wire.OutputFile `json:"files"`
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, results.BadRequest("output must be a JSON object {\"files\": [...]}")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, results.BadRequest("output is not valid: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, results.BadRequest("unexpected data after the output object")
	}
	if req.Files == nil {
		return nil, results.BadRequest("output needs a files list")
	}

	out := &Output{Files: make([]OutputFile, 0, len(*req.Files))}
	seen := make(map[[2]string]bool, len(*req.Files))
	for i, f := range *req.Files {
		if errs := validation.IsDNS1123Label(f.Container); len(errs) > 0 {
			return nil, results.BadRequest("files[%d]: container %q is not a valid container name", i, truncate(f.Container))
		}
		if !validFileName(f.File) {
			return nil, results.BadRequest("files[%d]: container %s, file %q must be a file name without path separators",
				i, f.Container, truncate(f.File))
		}
		key := [2]string{f.Container, f.File}
		if seen[key] {
			return nil, results.BadRequest("container %s, file %s is sent twice", f.Container, f.File)
		}
		seen[key] = true
		switch {
		case f.Missing && f.Data != nil:
			return nil, results.BadRequest("container %s, file %s: data and missing exclude each other", f.Container, f.File)
		case f.Missing:
			out.Files = append(out.Files, OutputFile{Container: f.Container, File: f.File, Missing: true})
			continue
		case f.Data == nil:
			return nil, results.BadRequest("container %s, file %s: data or missing is required", f.Container, f.File)
		}
		if base64.StdEncoding.DecodedLen(len(*f.Data)) > MaxOutputFileBytes+2 {
			return nil, results.TooLarge("container %s, file %s: file too large (more than %d bytes)",
				f.Container, f.File, MaxOutputFileBytes)
		}
		data, err := base64.StdEncoding.DecodeString(*f.Data)
		if err != nil {
			return nil, results.BadRequest("container %s, file %s: data is not valid standard base64", f.Container, f.File)
		}
		if len(data) > MaxOutputFileBytes {
			return nil, results.TooLarge("container %s, file %s: file too large (more than %d bytes)",
				f.Container, f.File, MaxOutputFileBytes)
		}
		out.Files = append(out.Files, OutputFile{Container: f.Container, File: f.File, Data: data})
	}
	return out, nil
}

// validFileName reports whether f is a plain base name (QJ-X7).
func validFileName(f string) bool {
	return f != "" && f != "." && f != ".." && len(f) <= MaxOutputFileNameBytes && !strings.ContainsAny(f, "/\\\x00")
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return "field " + te.Field + " has the wrong type"
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		return truncate(err.Error())
	}
	return "invalid JSON"
}

// truncate shortens a client-supplied string for an error message.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
