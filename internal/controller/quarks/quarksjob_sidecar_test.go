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

package quarks

import (
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

func sidecarTestQuarksJob(output *quarksv1alpha1.Output) *quarksv1alpha1.QuarksJob {
	qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "qj", Namespace: "ns", UID: "uid"}}
	qj.Spec.Template.Spec.Template.Spec.Containers = []corev1.Container{{Name: "a_b"}, {Name: "c"}}
	qj.Spec.Output = output
	return qj
}

func TestSidecarOnlyWithOutputMapEntries(t *testing.T) {
	for name, output := range map[string]*quarksv1alpha1.Output{
		"no output":          nil,
		"empty output map":   {OutputMap: quarksv1alpha1.OutputMap{}},
		"container no files": {OutputMap: quarksv1alpha1.OutputMap{"c": {}}},
	} {
		job, err := buildRunJob(sidecarTestQuarksJob(output), 1, nil, SidecarConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(job.Spec.Template.Spec.Containers); n != 2 {
			t.Errorf("%s: %d containers, want 2", name, n)
		}
	}
}

func TestSidecarShape(t *testing.T) {
	timeout := int64(90)
	qj := sidecarTestQuarksJob(&quarksv1alpha1.Output{TimeoutSeconds: &timeout,
		OutputMap: quarksv1alpha1.OutputMap{"c": {"f.json": {Name: "s"}}}})
	job, err := buildRunJob(qj, 1, nil, SidecarConfig{Image: "img:1", ResultsNamespace: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 3 {
		t.Fatalf("%d containers, want 3", len(pod.Containers))
	}
	for _, c := range pod.Containers[:2] {
		for _, m := range c.VolumeMounts {
			if m.Name == quarksv1alpha1.ResultsVolumeName {
				t.Errorf("user container %s mounts the results token", c.Name)
			}
		}
	}
	s := pod.Containers[2]
	checkSidecar(t, s)
	checkResultsVolume(t, pod.Volumes)
}

func checkSidecar(t *testing.T, s corev1.Container) {
	t.Helper()
	if s.Name != "output-persist" || s.Image != "img:1" || s.Command[0] != "/output-persist" || s.Args[0] != "persist-output" {
		t.Errorf("unexpected sidecar %s %s %v %v", s.Name, s.Image, s.Command, s.Args)
	}
	env := map[string]string{}
	for _, e := range s.Env {
		env[e.Name] = e.Value
	}
	want := map[string]string{
		"NAMESPACE":              "ns",
		"RESULTS_API_URL":        "https://jobkeeper-results.ops.svc",
		"RESULTS_TOKEN_FILE":     "/var/run/secrets/jobkeeper/results/token",
		"RESULTS_CA_FILE":        "/var/run/secrets/jobkeeper/results/ca.crt",
		"PERSIST_OUTPUT_TIMEOUT": "1m30s",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range s.VolumeMounts {
		mounts[m.Name] = m
		if !m.ReadOnly {
			t.Errorf("mount %s is writable", m.Name)
		}
	}
	if mounts["output-a-b"].MountPath != "/mnt/quarks/a_b" || mounts["output-c"].MountPath != "/mnt/quarks/c" ||
		mounts["jobkeeper-results"].MountPath != "/var/run/secrets/jobkeeper/results" {
		t.Errorf("unexpected mounts %v", s.VolumeMounts)
	}
	checkSecurity(t, s)
}

func checkSecurity(t *testing.T, s corev1.Container) {
	t.Helper()
	sc := s.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" ||
		sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("unexpected security context %+v", sc)
	}
	if s.Resources.Requests.Cpu().String() != "10m" || s.Resources.Requests.Memory().String() != "32Mi" ||
		s.Resources.Limits.Cpu().String() != "100m" || s.Resources.Limits.Memory().String() != "64Mi" {
		t.Errorf("unexpected resources %+v", s.Resources)
	}
}

func checkResultsVolume(t *testing.T, volumes []corev1.Volume) {
	t.Helper()
	var projected *corev1.ProjectedVolumeSource
	for _, v := range volumes {
		if v.Name == quarksv1alpha1.ResultsVolumeName {
			projected = v.Projected
		}
	}
	if projected == nil || len(projected.Sources) != 2 ||
		projected.Sources[0].ServiceAccountToken.Audience != "jobkeeper-results" ||
		*projected.Sources[0].ServiceAccountToken.ExpirationSeconds != 3600 ||
		projected.Sources[1].ConfigMap.Name != "jobkeeper-results-ca" {
		t.Errorf("unexpected results volume %+v", projected)
	}
}

// A container that writes its output under umask 077 as user 1000 leaves files
// only that user can read: the sidecar runs as the same user and group.
func TestSidecarRunsAsTheUserOfTheWritingContainers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pod       corev1.PodSpec
		wantUser  int64
		wantGroup *int64
	}{
		{name: "no user set", pod: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}, wantUser: sidecarUID},
		{name: "pod user", wantUser: 1000, wantGroup: new(int64(3000)), pod: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: new(int64(1000)), RunAsGroup: new(int64(3000))},
			Containers:      []corev1.Container{{Name: "a"}, {Name: "b"}}}},
		{name: "container user wins", wantUser: 2000, pod: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: new(int64(1000))},
			Containers:      []corev1.Container{{Name: "a", SecurityContext: &corev1.SecurityContext{RunAsUser: new(int64(2000))}}}}},
		{name: "different users", wantUser: sidecarUID, pod: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", SecurityContext: &corev1.SecurityContext{RunAsUser: new(int64(1000))}},
			{Name: "b", SecurityContext: &corev1.SecurityContext{RunAsUser: new(int64(2000))}}}}},
		{name: "root is never taken", wantUser: sidecarUID, pod: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: new(int64(0))}, Containers: []corev1.Container{{Name: "a"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := tc.pod.DeepCopy()
			output := &quarksv1alpha1.Output{OutputMap: quarksv1alpha1.OutputMap{"a": {"output.json": {Name: "x"}}}}
			SidecarConfig{}.addSidecar(pod, "ns", output)
			sc := pod.Containers[len(pod.Containers)-1].SecurityContext
			if *sc.RunAsUser != tc.wantUser {
				t.Errorf("runAsUser = %d, want %d", *sc.RunAsUser, tc.wantUser)
			}
			if (sc.RunAsGroup == nil) != (tc.wantGroup == nil) || sc.RunAsGroup != nil && *sc.RunAsGroup != *tc.wantGroup {
				t.Errorf("runAsGroup = %v, want %v", sc.RunAsGroup, tc.wantGroup)
			}
		})
	}
}

// An output rejection or a sidecar timeout fails the Job at once: the workload
// is not run again up to the backoff limit.
func TestOutputFailurePolicy(t *testing.T) {
	output := &quarksv1alpha1.Output{OutputMap: quarksv1alpha1.OutputMap{"a_b": {"o.json": {Name: "s"}}}}
	qj := sidecarTestQuarksJob(output)
	qj.Spec.Template.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	qj.Spec.Template.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
			{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}}}
	job, err := buildRunJob(qj, 1, nil, SidecarConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rules := job.Spec.PodFailurePolicy.Rules
	if len(rules) != 2 || rules[0].Action != batchv1.PodFailurePolicyActionFailJob ||
		*rules[0].OnExitCodes.ContainerName != quarksv1alpha1.OutputPersistContainerName ||
		!slices.Equal(rules[0].OnExitCodes.Values, []int32{2, 3}) || rules[1].Action != batchv1.PodFailurePolicyActionIgnore {
		t.Errorf("rules = %+v, want the sidecar's FailJob rule first, then the template's", rules)
	}

	qj.Spec.Template.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	qj.Spec.Template.Spec.PodFailurePolicy = nil
	if job, _ := buildRunJob(qj, 1, nil, SidecarConfig{}); job.Spec.PodFailurePolicy != nil {
		t.Error("a podFailurePolicy with restartPolicy OnFailure, which the API server refuses")
	}
	qj.Spec.Output = nil
	qj.Spec.Template.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if job, _ := buildRunJob(qj, 1, nil, SidecarConfig{}); job.Spec.PodFailurePolicy != nil {
		t.Error("a podFailurePolicy without output")
	}
}
