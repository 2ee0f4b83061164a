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

package podrefs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestReferences(t *testing.T) {
	yes := true
	spec := &corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "secret1"}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "opt"}, Optional: &yes}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj"}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "projcm"}, Optional: &yes}},
			}}}},
		},
		InitContainers: []corev1.Container{{Name: "init", EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "initcm"}}}}}},
		Containers: []corev1.Container{{Name: "main",
			Env: []corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "config1"}, Key: "keyA"}}},
				{Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "opt"}, Key: "k"}}},
				{Name: "C", Value: "literal"},
			},
			EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "envsecret"}, Optional: &yes}}},
		}},
	}
	want := []Ref{
		{Kind: ConfigMap, Name: "config1"},
		{Kind: ConfigMap, Name: "initcm"},
		{Kind: ConfigMap, Name: "opt"}, // required by env B although the volume is optional
		{Kind: ConfigMap, Name: "projcm", Optional: true},
		{Kind: Secret, Name: "envsecret", Optional: true},
		{Kind: Secret, Name: "proj"},
		{Kind: Secret, Name: "secret1"},
	}
	if diff := cmp.Diff(want, References(spec)); diff != "" {
		t.Errorf("References() mismatch (-want +got):\n%s", diff)
	}
}

func TestVersionedSeries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prefix  string
		version int
		ok      bool
	}{
		{"data-v2", "data", 2, true},
		{"my-data-v10", "my-data", 10, true},
		{"data", "", 0, false},
		{"data-v", "", 0, false},
		{"-v1", "", 0, false},
	} {
		p, v, ok := VersionedSeries(tc.name)
		if p != tc.prefix || v != tc.version || ok != tc.ok {
			t.Errorf("VersionedSeries(%q) = %q, %d, %v", tc.name, p, v, ok)
		}
	}
}

func TestHash(t *testing.T) {
	key := []byte("k")
	base := []Resolved{{Kind: ConfigMap, Name: "a", Present: true, Data: map[string][]byte{"x": []byte("1")}}}
	h := Hash("id1", key, base)
	if HashKeyID(h) != "id1" {
		t.Fatalf("key id of %q", h)
	}
	if Hash("id1", key, base) != h {
		t.Error("hash is not deterministic")
	}
	for name, other := range map[string][]Resolved{
		"data":    {{Kind: ConfigMap, Name: "a", Present: true, Data: map[string][]byte{"x": []byte("2")}}},
		"absent":  {{Kind: ConfigMap, Name: "a"}},
		"renamed": {{Kind: ConfigMap, Name: "b", Present: true, Data: map[string][]byte{"x": []byte("1")}}},
		"split":   {{Kind: ConfigMap, Name: "a", Present: true, Data: map[string][]byte{"x1": nil}}},
	} {
		if Hash("id1", key, other) == h {
			t.Errorf("%s: hash did not change", name)
		}
	}
	if Hash("id1", []byte("other"), base) == h {
		t.Error("hash does not depend on the key")
	}
}
