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

package batch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// canonicalHashPrefix marks the version of the canonical template hash.
const canonicalHashPrefix = "c1:"

// canonicalTemplateHash returns the canonical hash of a Job template: the
// template as unstructured JSON with every null, empty string, empty object and
// empty list removed (recursively), keys sorted, no whitespace and no HTML
// escaping, hashed with SHA-256 and prefixed with its version. Unlike a hash of
// the typed struct, it does not change when a dependency changes how empty
// fields are encoded.
func canonicalTemplateHash(tmpl *batchv1.JobTemplateSpec) (string, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tmpl)
	if err != nil {
		return "", fmt.Errorf("converting the job template: %w", err)
	}
	pruned, _ := pruneEmpty(u)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pruned); err != nil {
		return "", fmt.Errorf("encoding the job template: %w", err)
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return canonicalHashPrefix + hex.EncodeToString(sum[:]), nil
}

// legacyTemplateHash returns the hash that earlier operators wrote: SHA-256 of
// encoding/json of the typed template. It is compared only for Jobs that carry
// no canonical hash.
func legacyTemplateHash(tmpl *batchv1.JobTemplateSpec) (string, error) {
	data, err := json.Marshal(tmpl)
	if err != nil {
		return "", fmt.Errorf("encoding the job template: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// pruneEmpty removes nulls, empty strings, empty maps and empty slices from v,
// recursively, and reports whether anything of v is left.
func pruneEmpty(v any) (any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, false
	case string:
		return t, t != ""
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if p, ok := pruneEmpty(e); ok {
				out[k] = p
			}
		}
		return out, len(out) > 0
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			if p, ok := pruneEmpty(e); ok {
				out = append(out, p)
			}
		}
		return out, len(out) > 0
	default:
		return t, true
	}
}
