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
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
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

// legacyTemplateHashes returns every legacy hash the template may carry:
// today's encoding, and the one of operators built with k8s.io/api before
// v0.34 (reactivejob-operator v0.1.36 and older), which wrote
// "creationTimestamp":null into both object metadata of the template.
func legacyTemplateHashes(tmpl *batchv1.JobTemplateSpec) ([]string, error) {
	current, err := legacyTemplateHash(tmpl)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(tmpl)
	if err != nil {
		return nil, fmt.Errorf("encoding the job template: %w", err)
	}
	for _, m := range []struct {
		prefix string
		meta   *metav1.ObjectMeta
	}{{`{"metadata":`, &tmpl.ObjectMeta}, {`"template":{"metadata":`, &tmpl.Spec.Template.ObjectMeta}} {
		now, err := json.Marshal(m.meta)
		if err != nil {
			return nil, fmt.Errorf("encoding the job template: %w", err)
		}
		old, err := json.Marshal(toNullTimestampMeta(m.meta))
		if err != nil {
			return nil, fmt.Errorf("encoding the job template: %w", err)
		}
		data = bytes.Replace(data, append([]byte(m.prefix), now...), append([]byte(m.prefix), old...), 1)
	}
	sum := sha256.Sum256(data)
	return []string{current, hex.EncodeToString(sum[:])}, nil
}

// nullTimestampMeta encodes object metadata the way k8s.io/apimachinery did
// before creationTimestamp became omitzero: the zero time as null.
type nullTimestampMeta struct {
	Name                       string                      `json:"name,omitempty"`
	GenerateName               string                      `json:"generateName,omitempty"`
	Namespace                  string                      `json:"namespace,omitempty"`
	SelfLink                   string                      `json:"selfLink,omitempty"`
	UID                        types.UID                   `json:"uid,omitempty"`
	ResourceVersion            string                      `json:"resourceVersion,omitempty"`
	Generation                 int64                       `json:"generation,omitempty"`
	CreationTimestamp          metav1.Time                 `json:"creationTimestamp"`
	DeletionTimestamp          *metav1.Time                `json:"deletionTimestamp,omitempty"`
	DeletionGracePeriodSeconds *int64                      `json:"deletionGracePeriodSeconds,omitempty"`
	Labels                     map[string]string           `json:"labels,omitempty"`
	Annotations                map[string]string           `json:"annotations,omitempty"`
	OwnerReferences            []metav1.OwnerReference     `json:"ownerReferences,omitempty"`
	Finalizers                 []string                    `json:"finalizers,omitempty"`
	ManagedFields              []metav1.ManagedFieldsEntry `json:"managedFields,omitempty"`
}

func toNullTimestampMeta(m *metav1.ObjectMeta) nullTimestampMeta {
	return nullTimestampMeta{
		Name: m.Name, GenerateName: m.GenerateName, Namespace: m.Namespace, SelfLink: m.SelfLink, UID: m.UID,
		ResourceVersion: m.ResourceVersion, Generation: m.Generation, CreationTimestamp: m.CreationTimestamp,
		DeletionTimestamp: m.DeletionTimestamp, DeletionGracePeriodSeconds: m.DeletionGracePeriodSeconds,
		Labels: m.Labels, Annotations: m.Annotations, OwnerReferences: m.OwnerReferences, Finalizers: m.Finalizers,
		ManagedFields: m.ManagedFields,
	}
}

// legacyHashMatches reports whether a Job's legacy hash annotation is one of
// the hashes of tmpl.
func legacyHashMatches(job *batchv1.Job, tmpl *batchv1.JobTemplateSpec) (bool, error) {
	have := job.Annotations[batchv1alpha1.ReactiveJobLegacyHashAnnotation]
	if have == "" {
		return false, nil
	}
	hashes, err := legacyTemplateHashes(tmpl)
	if err != nil {
		return false, err
	}
	return slices.Contains(hashes, have), nil
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
