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

// Package quarksoutput persists the output files of a QuarksJob run as
// Secrets (quarksjob.md §2.5) and answers the long poll of the output-persist
// sidecar. Sink implements the OutputSink and Waiter the Waiter of the
// QuarksJob results routes.
package quarksoutput

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
	"github.com/jobkeeper/jobkeeper/internal/results"
	resultsquarksjob "github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// desiredSecret is one Secret an upload asks for.
type desiredSecret struct {
	// name is the Secret name, or the series prefix when versioned.
	name        string
	container   string
	file        string
	versioned   bool
	data        map[string][]byte
	labels      map[string]string
	annotations map[string]string
}

// plan is the checked result of an upload: the Secrets to write, and the
// containers whose REMOTE_ID sanitised to nothing (QJ-F23).
type plan struct {
	secrets       []desiredSecret
	emptyRemoteID []string
}

// OutputSpec returns the output-spec snapshot the Job was created with (QJ-F21);
// nil when the Job has none.
func OutputSpec(job *batchv1.Job) (*quarksv1alpha1.Output, error) {
	raw, ok := job.Annotations[quarksv1alpha1.OutputSpecAnnotation]
	if !ok || raw == "" {
		return nil, nil
	}
	spec := &quarksv1alpha1.Output{}
	if err := json.Unmarshal([]byte(raw), spec); err != nil {
		return nil, fmt.Errorf("decoding the output-spec annotation of job %s: %w", job.Name, err)
	}
	return spec, nil
}

// exitCodes returns the exit code of every terminated container of pod, from the Pod status (QJ-21).
func exitCodes(pod *corev1.Pod) map[string]int32 {
	codes := map[string]int32{}
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Terminated != nil {
			codes[s.Name] = s.State.Terminated.ExitCode
		}
	}
	return codes
}

// makePlan checks every mapped file of an upload before anything is written
// (QJ-F17, QJ-21 to QJ-25). Files of containers that exited with a code that
// does not require writing are skipped; files the map does not name are ignored.
func makePlan(spec *quarksv1alpha1.Output, qjName string, pod *corev1.Pod, files []resultsquarksjob.OutputFile) (*plan, error) {
	p := &plan{}
	if spec == nil {
		return p, nil
	}
	uploaded := make(map[[2]string]*resultsquarksjob.OutputFile, len(files))
	for i := range files {
		uploaded[[2]string{files[i].Container, files[i].File}] = &files[i]
	}
	codes := exitCodes(pod)
	for _, c := range slices.Sorted(maps.Keys(spec.OutputMap)) {
		if len(spec.OutputMap[c]) == 0 {
			continue
		}
		code, ended := codes[c]
		if !ended {
			return nil, results.Conflict(wire.ReasonContainersRunning, "container %s has not terminated yet", c)
		}
		if code != 0 && !spec.WriteOnFailure {
			continue
		}
		remoteID, hasRemoteID := remoteIDOf(pod, c)
		if hasRemoteID && remoteID == "" {
			p.emptyRemoteID = append(p.emptyRemoteID, c)
		}
		for _, f := range slices.Sorted(maps.Keys(spec.OutputMap[c])) {
			opts := spec.OutputMap[c][f]
			up := uploaded[[2]string{c, f}]
			if up == nil || up.Missing {
				return nil, results.NewError(http.StatusBadRequest, wire.ReasonOutputMissing,
					"container %s, file %s: file is missing", c, f)
			}
			labels := secretLabels(spec, opts, qjName, c, remoteID)
			annotations := maps.Clone(opts.SecretAnnotations)
			if opts.PersistenceMethod == quarksv1alpha1.PersistenceMethodFanOut {
				inner, err := parseFanOut(up.Data)
				if err != nil {
					return nil, invalid(c, f, err)
				}
				for _, key := range slices.Sorted(maps.Keys(inner)) {
					p.secrets = append(p.secrets, desiredSecret{
						name: names.Subdomain(opts.Name + "-" + key), container: c, file: f, versioned: opts.Versioned,
						data: inner[key], labels: maps.Clone(labels), annotations: maps.Clone(annotations),
					})
				}
				continue
			}
			data, err := parseStringMap(up.Data)
			if err != nil {
				return nil, invalid(c, f, err)
			}
			p.secrets = append(p.secrets, desiredSecret{
				name: names.Subdomain(opts.Name), container: c, file: f, versioned: opts.Versioned,
				data: data, labels: labels, annotations: annotations,
			})
		}
	}
	seen := map[string]bool{}
	for _, s := range p.secrets {
		key := s.name
		if s.versioned {
			key = "versioned/" + s.name
		}
		if seen[key] {
			return nil, results.NewError(http.StatusBadRequest, wire.ReasonOutputInvalid,
				"container %s, file %s: Secret %s is written by more than one output", s.container, s.file, s.name)
		}
		seen[key] = true
	}
	return p, nil
}

func invalid(container, file string, err error) *results.Error {
	return results.NewError(http.StatusBadRequest, wire.ReasonOutputInvalid, "container %s, file %s: %v", container, file, err)
}

// secretLabels are the labels of an output Secret, later entries winning (QJ-23).
func secretLabels(spec *quarksv1alpha1.Output, opts quarksv1alpha1.SecretOptions, qjName, container, remoteID string) map[string]string {
	labels := map[string]string{}
	for k, v := range spec.SecretLabels {
		labels[k] = names.LabelValue(v)
	}
	for k, v := range opts.SecretLabels {
		labels[k] = names.LabelValue(v)
	}
	labels[quarksv1alpha1.ContainerNameLabel] = names.LabelValue(container)
	if remoteID != "" {
		labels[quarksv1alpha1.RemoteIDLabel] = remoteID
	}
	labels[quarksv1alpha1.QuarksJobNameLabel] = qjName
	return labels
}

// remoteIDOf returns the sanitised literal REMOTE_ID of a container and
// whether the container sets one (QJ-F23).
func remoteIDOf(pod *corev1.Pod, container string) (string, bool) {
	for _, c := range pod.Spec.Containers {
		if c.Name != container {
			continue
		}
		for _, e := range c.Env {
			if e.Name == quarksv1alpha1.RemoteIDEnv && e.ValueFrom == nil && e.Value != "" {
				return names.LabelValue(e.Value), true
			}
		}
	}
	return "", false
}

// parseStringMap parses a one-to-one file: exactly one JSON object whose
// values are all strings, with keys that are valid Secret keys (QJ-22, QJ-X12).
func parseStringMap(data []byte) (map[string][]byte, error) {
	var m map[string]any
	if err := decodeOne(data, &m); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if !ok {
			return nil, fmt.Errorf("the value of key %q is not a string", k)
		}
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			return nil, fmt.Errorf("key %q is not a valid Secret key", k)
		}
		out[k] = []byte(s)
	}
	return out, nil
}

// parseFanOut parses a fan-out file: a JSON object whose values are strings
// that are themselves one-to-one files (QJ-24, QJ-X13).
func parseFanOut(data []byte) (map[string]map[string][]byte, error) {
	var m map[string]any
	if err := decodeOne(data, &m); err != nil {
		return nil, err
	}
	out := make(map[string]map[string][]byte, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if !ok {
			return nil, fmt.Errorf("the value of key %q is not a string", k)
		}
		if names.Subdomain(k) == "" {
			return nil, fmt.Errorf("key %q gives no valid Secret name", k)
		}
		inner, err := parseStringMap([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = inner
	}
	return out, nil
}

// decodeOne decodes exactly one JSON object from data, with nothing after it.
func decodeOne(data []byte, v *map[string]any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return errors.New("the file is empty")
	}
	if trimmed[0] != '{' {
		return errors.New("the file is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errors.New("the file is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}
