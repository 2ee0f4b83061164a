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

package labelcache

import (
	"reflect"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func fullPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		NodeName:      "node-1",
		HostNetwork:   true,
		RestartPolicy: corev1.RestartPolicyNever,
		Volumes:       []corev1.Volume{{Name: "data"}},
		Tolerations:   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox",
			Env: []corev1.EnvVar{{Name: "A", Value: "1"}}}},
		Containers: []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", "true"},
			Env:          []corev1.EnvVar{{Name: "REMOTE_ID", Value: "x"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
	}
}

func TestTransformPod(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}, Finalizers: []string{"f"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}},
		Spec:   fullPodSpec(),
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
	}
	out, err := Transform(pod)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Pod)
	want := corev1.PodSpec{
		NodeName: "node-1", HostNetwork: true, RestartPolicy: corev1.RestartPolicyNever,
		InitContainers: []corev1.Container{{Name: "init", Env: []corev1.EnvVar{{Name: "A", Value: "1"}}}},
		Containers:     []corev1.Container{{Name: "main", Env: []corev1.EnvVar{{Name: "REMOTE_ID", Value: "x"}}}},
	}
	if !reflect.DeepEqual(got.Spec, want) {
		t.Errorf("pod spec = %+v, want %+v", got.Spec, want)
	}
	if got.ManagedFields != nil || got.Labels["a"] != "b" || len(got.Finalizers) != 1 || got.Status.PodIP != "10.0.0.1" {
		t.Errorf("metadata or status not as expected: %+v", got.ObjectMeta)
	}
}

func TestTransformJob(t *testing.T) {
	suspend := true
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Annotations: map[string]string{"h": "1"}},
		Spec: batchv1.JobSpec{Suspend: &suspend, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"l": "1"}, Annotations: map[string]string{"big": "x"}},
			Spec:       fullPodSpec(),
		}},
		Status: batchv1.JobStatus{Succeeded: 1},
	}
	out, err := Transform(job)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*batchv1.Job)
	want := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"l": "1"}},
		Spec: corev1.PodSpec{NodeName: "node-1", HostNetwork: true, RestartPolicy: corev1.RestartPolicyNever,
			InitContainers: []corev1.Container{{Name: "init"}}, Containers: []corev1.Container{{Name: "main"}}},
	}
	if !reflect.DeepEqual(got.Spec.Template, want) {
		t.Errorf("job template = %+v, want %+v", got.Spec.Template, want)
	}
	if got.Spec.Suspend == nil || !*got.Spec.Suspend || got.Status.Succeeded != 1 || got.Annotations["h"] != "1" {
		t.Errorf("job spec, status or metadata lost: %+v", got)
	}
}

func TestStripMetadata(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c",
		Annotations:   map[string]string{lastApplied: `{"big":"copy"}`, "keep": "1"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	out, err := StripMetadata(cm)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.ConfigMap)
	if got.ManagedFields != nil || len(got.Annotations) != 1 || got.Annotations["keep"] != "1" {
		t.Errorf("metadata = %+v, want only the annotation keep", got.ObjectMeta)
	}
	meta := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{lastApplied: "x"}}}
	if out, _ := StripMetadata(meta); len(out.(*metav1.PartialObjectMetadata).Annotations) != 0 {
		t.Error("the annotation stayed on a metadata-only object")
	}
}
