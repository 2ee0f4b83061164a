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

package quarksoutput

import (
	"errors"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/results"
	resultsquarksjob "github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

func TestParseStringMap(t *testing.T) {
	for _, tc := range []struct {
		name, in, problem string
	}{
		{name: "object of strings", in: `{"foo":"1","bar":"baz"}`},
		{name: "surrounding space", in: " \n{}\n"},
		{name: "number", in: `{"a":1}`, problem: `key "a" is not a string`},
		{name: "nested object", in: `{"a":{"b":"c"}}`, problem: `key "a" is not a string`},
		{name: "array", in: `["a"]`, problem: "not a JSON object"},
		{name: "not JSON", in: `foo`, problem: "not a JSON object"},
		{name: "broken JSON", in: `{"a":`, problem: "not valid JSON"},
		{name: "empty file", in: ``, problem: "empty"},
		{name: "trailing data", in: `{"a":"b"} {}`, problem: "unexpected data"},
		{name: "bad key", in: `{"a/b":"c"}`, problem: "not a valid Secret key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseStringMap([]byte(tc.in))
			switch {
			case tc.problem == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Fatalf("error %v, want one containing %q", err, tc.problem)
			}
		})
	}
}

func TestParseFanOut(t *testing.T) {
	got, err := parseFanOut([]byte(`{"nats":"{\"nats.user\":\"u\",\"nats.port\":\"4222\"}"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got["nats"]["nats.port"]) != "4222" || string(got["nats"]["nats.user"]) != "u" {
		t.Fatalf("unexpected result %v", got)
	}
	for in, problem := range map[string]string{
		`{"nats":{"a":"b"}}`:     `key "nats" is not a string`,
		`{"nats":"{\"a\":1}"}`:   `key "nats": the value of key "a" is not a string`,
		`{"nats":"not json"}`:    `key "nats": the file is not a JSON object`,
		`{"nats":"{\"a\":\"b\"}`: "not valid JSON",
	} {
		if _, err := parseFanOut([]byte(in)); err == nil || !strings.Contains(err.Error(), problem) {
			t.Errorf("%s: error %v, want one containing %q", in, err, problem)
		}
	}
}

func podWith(codes map[string]int32, env ...corev1.EnvVar) *corev1.Pod {
	pod := &corev1.Pod{}
	for _, c := range []string{"a", "b"} {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Env: env})
		st := corev1.ContainerStatus{Name: c}
		if code, ok := codes[c]; ok {
			st.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: code}
		} else {
			st.State.Running = &corev1.ContainerStateRunning{}
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, st)
	}
	return pod
}

func file(c, f, data string) resultsquarksjob.OutputFile {
	return resultsquarksjob.OutputFile{Container: c, File: f, Data: []byte(data)}
}

func TestMakePlan(t *testing.T) {
	spec := &quarksv1alpha1.Output{
		SecretLabels: map[string]string{"key": "Va_lue"},
		OutputMap: quarksv1alpha1.OutputMap{
			"a": {"out.json": {Name: "foo-json", SecretLabels: map[string]string{"file": "x"},
				SecretAnnotations: map[string]string{"note": "As Is"}}},
			"b": {"provides.json": {Name: "link", PersistenceMethod: quarksv1alpha1.PersistenceMethodFanOut, Versioned: true}},
		},
	}
	good := []resultsquarksjob.OutputFile{
		file("a", "out.json", `{"foo":"1"}`),
		file("b", "provides.json", `{"n":"{\"u\":\"v\"}","m":"{}"}`),
		file("a", "ignored.json", `not json`),
	}

	t.Run("both containers succeeded", func(t *testing.T) {
		p, err := makePlan(spec, "qj", podWith(map[string]int32{"a": 0, "b": 0}, corev1.EnvVar{Name: "REMOTE_ID", Value: "Node_1"}), good)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range p.secrets {
			got = append(got, s.name)
		}
		if strings.Join(got, ",") != "foo-json,link-m,link-n" {
			t.Fatalf("secrets %v", got)
		}
		l := p.secrets[0].labels
		if l["key"] != "va-lue" || l["file"] != "x" || l[quarksv1alpha1.ContainerNameLabel] != "a" ||
			l[quarksv1alpha1.RemoteIDLabel] != "node-1" || l[quarksv1alpha1.QuarksJobNameLabel] != "qj" {
			t.Fatalf("labels %v", l)
		}
		if p.secrets[0].annotations["note"] != "As Is" || !p.secrets[1].versioned {
			t.Fatalf("unexpected secret %+v", p.secrets[0])
		}
	})

	t.Run("failed container is skipped without writeOnFailure", func(t *testing.T) {
		files := []resultsquarksjob.OutputFile{file("a", "out.json", `{"foo":"1"}`), {Container: "b", File: "provides.json", Missing: true}}
		p, err := makePlan(spec, "qj", podWith(map[string]int32{"a": 0, "b": 1}), files)
		if err != nil || len(p.secrets) != 1 {
			t.Fatalf("plan %+v, error %v", p, err)
		}
	})

	t.Run("failed container is written with writeOnFailure", func(t *testing.T) {
		s := spec.DeepCopy()
		s.WriteOnFailure = true
		files := []resultsquarksjob.OutputFile{file("a", "out.json", `{"foo":"1"}`), {Container: "b", File: "provides.json", Missing: true}}
		_, err := makePlan(s, "qj", podWith(map[string]int32{"a": 0, "b": 1}), files)
		wantAnswer(t, err, 400, wire.ReasonOutputMissing, "container b, file provides.json")
	})

	t.Run("file not sent", func(t *testing.T) {
		_, err := makePlan(spec, "qj", podWith(map[string]int32{"a": 0, "b": 0}), good[:1])
		wantAnswer(t, err, 400, wire.ReasonOutputMissing, "container b, file provides.json")
	})

	t.Run("bad JSON names container and file", func(t *testing.T) {
		files := []resultsquarksjob.OutputFile{file("a", "out.json", `{"foo":1}`), good[1]}
		_, err := makePlan(spec, "qj", podWith(map[string]int32{"a": 0, "b": 0}), files)
		wantAnswer(t, err, 400, wire.ReasonOutputInvalid, "container a, file out.json")
	})

	t.Run("bad fan-out value names the key", func(t *testing.T) {
		files := []resultsquarksjob.OutputFile{good[0], file("b", "provides.json", `{"n":"{\"u\":[]}"}`)}
		_, err := makePlan(spec, "qj", podWith(map[string]int32{"a": 0, "b": 0}), files)
		wantAnswer(t, err, 400, wire.ReasonOutputInvalid, `container b, file provides.json: key "n"`)
	})

	t.Run("running container", func(t *testing.T) {
		_, err := makePlan(spec, "qj", podWith(map[string]int32{"a": 0}), good)
		wantAnswer(t, err, 409, wire.ReasonContainersRunning, "container b")
	})

	t.Run("remote id that sanitises to nothing", func(t *testing.T) {
		p, err := makePlan(spec, "qj", podWith(map[string]int32{"a": 0, "b": 0}, corev1.EnvVar{Name: "REMOTE_ID", Value: "%%"}), good)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.secrets[0].labels[quarksv1alpha1.RemoteIDLabel]; ok || len(p.emptyRemoteID) != 2 {
			t.Fatalf("plan %+v", p)
		}
	})
}

func wantAnswer(t *testing.T, err error, code int, reason, message string) {
	t.Helper()
	e, ok := errors.AsType[*results.Error](err)
	if !ok || e.Code != code || e.Reason != reason || !strings.Contains(e.Message, message) {
		t.Fatalf("error %v, want %d %s containing %q", err, code, reason, message)
	}
}

func TestOutputSpec(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		quarksv1alpha1.OutputSpecAnnotation: `{"outputMap":{"a":{"f":{"name":"n"}}},"writeOnFailure":true}`,
	}}}
	spec, err := OutputSpec(job)
	if err != nil || !spec.WriteOnFailure || spec.OutputMap["a"]["f"].Name != "n" {
		t.Fatalf("spec %+v, error %v", spec, err)
	}
	if spec, err := OutputSpec(&batchv1.Job{}); spec != nil || err != nil {
		t.Fatalf("spec %+v, error %v", spec, err)
	}
}
