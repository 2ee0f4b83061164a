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
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
)

// MaxFileNameBytes is the longest stored file name.
const MaxFileNameBytes = reports.MaxFileNameBytes

// SanitizeFileName turns a client-supplied file name into a stored name
// (NJ-29), as reports.SanitizeFileName does; a name it refuses is 400.
func SanitizeFileName(name string) (string, error) {
	out, err := reports.SanitizeFileName(name)
	return out, fromStore(err)
}

// Receiver takes the files of an upload one by one.
type Receiver interface {
	// Add stores the content of one file under an already sanitised name.
	Add(name string, content io.Reader) error
}

// ReadUpload reads the files of a file upload (NJ-28) into rc and returns the
// stored names in the order they were sent. A multipart/form-data body gives
// one file per part with a file name (other fields are ignored); any other
// body is one file, named by ?name=, else by the filename of the
// Content-Disposition header, else by newName plus an extension from the
// Content-Type. Names are sanitised with SanitizeFileName.
func ReadUpload(r *http.Request, rc Receiver, newName func() string) ([]string, error) {
	if newName == nil {
		newName = uuid.NewString
	}
	mediaType, params, err := mediaTypeOf(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	if mediaType == "multipart/form-data" {
		return readMultipart(r.Body, params["boundary"], rc)
	}

	name := r.URL.Query().Get("name")
	if name == "" {
		if name, err = dispositionFileName(r.Header.Get("Content-Disposition")); err != nil {
			return nil, err
		}
	}
	if name == "" {
		name = newName() + extensionFor(mediaType)
	}
	stored, err := SanitizeFileName(name)
	if err != nil {
		return nil, err
	}
	if err := rc.Add(stored, r.Body); err != nil {
		return nil, err
	}
	return []string{stored}, nil
}

func readMultipart(body io.Reader, boundary string, rc Receiver) ([]string, error) {
	if boundary == "" {
		return nil, results.BadRequest("multipart/form-data body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	var names []string
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, uploadError(err, "malformed multipart/form-data body")
		}
		name, err := dispositionFileName(part.Header.Get("Content-Disposition"))
		if err != nil {
			return nil, err
		}
		if name == "" {
			continue // a form field, not a file
		}
		stored, err := SanitizeFileName(name)
		if err != nil {
			return nil, err
		}
		if err := rc.Add(stored, part); err != nil {
			return nil, uploadError(err, "malformed multipart/form-data body")
		}
		names = append(names, stored)
	}
	if len(names) == 0 {
		return nil, results.BadRequest("multipart/form-data body holds no file")
	}
	return names, nil
}

// uploadError keeps answers and body limits as they are, and turns any other
// read error into 400 with msg.
func uploadError(err error, msg string) error {
	var e *results.Error
	var tooBig *http.MaxBytesError
	if errors.As(err, &e) || errors.As(err, &tooBig) {
		return err
	}
	return results.BadRequest("%s", msg)
}

// mediaTypeOf parses a Content-Type header; an empty one is application/octet-stream.
func mediaTypeOf(ct string) (string, map[string]string, error) {
	if ct == "" {
		return "application/octet-stream", nil, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "multipart/") {
			return "", nil, results.BadRequest("malformed multipart Content-Type header")
		}
		return "application/octet-stream", nil, nil
	}
	return mt, params, nil
}

// dispositionFileName returns the filename parameter of a Content-Disposition
// header, or "" when there is none.
func dispositionFileName(cd string) (string, error) {
	if cd == "" {
		return "", nil
	}
	// Some clients send only the parameters, e.g. `filename="x.txt"`.
	if eq, semi := strings.IndexByte(cd, '='), strings.IndexByte(cd, ';'); eq >= 0 && (semi < 0 || eq < semi) {
		cd = "attachment; " + cd
	}
	_, params, err := mime.ParseMediaType(cd)
	if err != nil {
		return "", results.BadRequest("malformed Content-Disposition header")
	}
	return params["filename"], nil
}

// extensionFor returns the extension of a generated file name for a media
// type: ".txt" for text/plain, else the first registered extension, else ".file".
func extensionFor(mediaType string) string {
	if mediaType == "text/plain" {
		return ".txt"
	}
	if exts, err := mime.ExtensionsByType(mediaType); err == nil && len(exts) > 0 {
		return exts[0]
	}
	return ".file"
}
