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

package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// batchJobControllerConfigMap reads testdata/batch-job-controller-configmap.yaml.
func batchJobControllerConfigMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "batch-job-controller-configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(data, cm); err != nil {
		t.Fatal(err)
	}
	return cm
}

func TestConvertBatchJobController(t *testing.T) {
	nj, notes, err := convertBatchJobController(batchJobControllerConfigMap(t), "")
	if err != nil {
		t.Fatal(err)
	}
	want := &batchv1alpha1.NodeJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch.cs.sap.com/v1alpha1", Kind: "NodeJob"},
		ObjectMeta: metav1.ObjectMeta{Name: "node-check", Namespace: "monitoring"},
	}
	s := &want.Spec
	s.Schedule = "42 3 * * *"
	s.RunOnCreate = true
	s.SuccessfulRunsHistoryLimit = ptr.To[int32](100)
	s.FailedRunsHistoryLimit = ptr.To[int32](100)
	s.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"node-role.kubernetes.io/worker": ""}}
	s.IncludeUnschedulable = true
	s.Parallelism = ptr.To(intstr.FromInt32(5))
	s.LatestMetricsLabel = true
	s.SavePodLogs = true
	s.Metrics = batchv1alpha1.NodeJobMetrics{Prefix: "node_check", Gauges: map[string]batchv1alpha1.NodeJobGauge{
		"root_used_percent": {Help: "Used space of the root file system in percent", Labels: []string{"mount"}},
	}}
	s.Template = corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "node-check"}},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			ServiceAccountName: "node-check-job",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "registry-creds"}},
			Containers: []corev1.Container{{
				Name: "check", Image: "busybox", Command: []string{"/bin/sh", "-c", "df -P / | tail -1"},
			}},
		},
	}
	if diff := cmp.Diff(want, nj); diff != "" {
		t.Errorf("NodeJob (-want +got):\n%s", diff)
	}

	joined := strings.Join(notes, "\n")
	for _, want := range []string{
		"reportHistory 150 is kept as 100", "startupDelay 10s is dropped", "reportDirectory", "callbackServiceName",
		"callbackServicePort", "leaderElectionResourceLock", "spec.timeZone", "CALLBACK_SERVICE_TOKEN_FILE",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("the notes do not mention %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "custom") {
		t.Errorf("an empty custom map is reported:\n%s", joined)
	}

	if nj, _, err := convertBatchJobController(batchJobControllerConfigMap(t), "other"); err != nil ||
		nj.Name != "other" {
		t.Errorf("--name other: %v, %v", nj, err)
	}
}

func TestConvertPodTemplateForms(t *testing.T) {
	for name, raw := range map[string]string{
		"pod":          "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: busybox\n",
		"pod template": "metadata:\n  labels: {a: b}\nspec:\n  containers:\n  - name: c\n    image: busybox\n",
		"pod spec":     "containers:\n- name: c\n  image: busybox\n",
	} {
		tmpl, err := podTemplate(raw)
		if err != nil || len(tmpl.Spec.Containers) != 1 || tmpl.Spec.Containers[0].Image != "busybox" {
			t.Errorf("%s: %+v, %v", name, tmpl, err)
		}
	}
	for name, raw := range map[string]string{
		"no containers": "spec: {}\n",
		"a Deployment":  "kind: Deployment\nspec:\n  containers:\n  - name: c\n",
		"unknown field": "containers:\n- name: c\nimage: x\n",
	} {
		if _, err := podTemplate(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConvertRejects(t *testing.T) {
	cm := batchJobControllerConfigMap(t)
	delete(cm.Data, bakitoPodTemplateKey)
	if _, _, err := convertBatchJobController(cm, ""); err == nil {
		t.Error("a ConfigMap without pod-template.yaml was converted")
	}
	cm = batchJobControllerConfigMap(t)
	cm.Data[bakitoConfigKey] += "cronExpresion: typo\n"
	if _, _, err := convertBatchJobController(cm, ""); err == nil {
		t.Error("an unknown config.yaml field was accepted")
	}
}

func TestConvertCommand(t *testing.T) {
	got, err := runCommand(t, "convert", "-f", filepath.Join("testdata", "batch-job-controller-configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, notes, _ := strings.Cut(got, "note:")
	nj := &batchv1alpha1.NodeJob{}
	if err := yaml.UnmarshalStrict([]byte(out), nj); err != nil {
		t.Fatalf("convert printed no NodeJob: %v\n%s", err, got)
	}
	if nj.Name != "node-check" || nj.Spec.Schedule != "42 3 * * *" || notes == "" {
		t.Errorf("convert printed %s", got)
	}
}
