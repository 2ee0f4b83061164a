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
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// readmeTemplate is the job template of the upstream README example.
func readmeTemplate() *batchv1.JobTemplateSpec {
	return &batchv1.JobTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"digest": "abc123"}},
		Spec: batchv1.JobSpec{
			TTLSecondsAfterFinished: new(int32(120)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers:    []corev1.Container{{Name: "main", Image: "alpine", Command: []string{"sleep", "10"}}},
				RestartPolicy: corev1.RestartPolicyNever,
			}},
		},
	}
}

func TestTemplateHashVectors(t *testing.T) {
	got, err := canonicalTemplateHash(readmeTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if want := "c1:eeb04c732743fb77382a72b8b9545ca4fdfd4d4d168e87f0e7266b5583bff8c4"; got != want {
		t.Errorf("canonical hash = %s, want %s", got, want)
	}
	legacy, err := legacyTemplateHash(readmeTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if want := "b90fc1291c7a948b5eb74ea6ffc0e531e9de6f5b32c853f16a9a2d43cc98d794"; legacy != want {
		t.Errorf("legacy hash = %s, want %s", legacy, want)
	}
}

func TestCanonicalHashIgnoresEmptyValues(t *testing.T) {
	base, _ := canonicalTemplateHash(readmeTemplate())
	withEmpties := readmeTemplate()
	withEmpties.Labels = map[string]string{}
	withEmpties.Spec.Template.Spec.Containers[0].Args = []string{}
	withEmpties.Spec.Template.Spec.Containers[0].WorkingDir = ""
	if got, _ := canonicalTemplateHash(withEmpties); got != base {
		t.Errorf("empty values changed the hash: %s != %s", got, base)
	}
	changed := readmeTemplate()
	changed.Annotations["digest"] = "def456"
	if got, _ := canonicalTemplateHash(changed); got == base {
		t.Error("a changed annotation did not change the hash")
	}
}
