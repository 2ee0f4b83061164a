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
	"encoding/json"
	"errors"
	"maps"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/results"
	resultsquarksjob "github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

var _ = Describe("Adopting legacy output Secrets (--adopt-legacy-output-secrets)", func() {
	var (
		ns       string
		recorder *events.FakeRecorder
	)

	BeforeEach(func() {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "qjadopt-"}}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		ns = n.Name
		recorder = events.NewFakeRecorder(100)
	})

	// run creates a QuarksJob mapping container a's out.json to opts, the Job
	// of its active run and a pod whose container a exited 0.
	run := func(name string, opts quarksv1alpha1.SecretOptions) *resultsquarksjob.Target {
		output := &quarksv1alpha1.Output{OutputMap: quarksv1alpha1.OutputMap{"a": {"out.json": opts}}}
		podSpec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "a", Image: "busybox"}}}
		qj := &quarksv1alpha1.QuarksJob{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: quarksv1alpha1.QuarksJobSpec{
				Template: quarksv1alpha1.JobTemplate{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec}}},
				Output:   output,
			},
		}
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		snapshot, err := json.Marshal(output)
		Expect(err).NotTo(HaveOccurred())
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-0123456789abcdef", Namespace: ns,
				Labels:          map[string]string{quarksv1alpha1.QuarksJobNameLabel: name},
				Annotations:     map[string]string{quarksv1alpha1.OutputSpecAnnotation: string(snapshot)},
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(qj, quarksv1alpha1.GroupVersion.WithKind("QuarksJob"))}},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec}},
		}
		Expect(k8sClient.Create(ctx, job)).To(Succeed())
		now := metav1.Now()
		qj.Status.RunCount = 1
		qj.Status.LastRun = &quarksv1alpha1.RunStatus{Name: job.Name, Result: quarksv1alpha1.RunResultRunning,
			Trigger: quarksv1alpha1.RunTriggerOnce, Generation: qj.Generation, StartTime: &now}
		Expect(k8sClient.Status().Update(ctx, qj)).To(Succeed())
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-pod", Namespace: ns,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
			Spec: podSpec,
		}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "a", Image: "busybox", ImageID: "busybox",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}
		Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
		return &resultsquarksjob.Target{Pod: pod, Job: job, QuarksJob: qj}
	}
	persist := func(adopt bool, t *resultsquarksjob.Target, data string) ([]string, error) {
		sink := &Sink{Client: k8sClient, Reader: k8sClient, Recorder: recorder, AdoptLegacy: adopt}
		body, err := json.Marshal(wire.OutputRequest{Files: []wire.OutputFile{wire.FileOutput("a", "out.json", []byte(data))}})
		Expect(err).NotTo(HaveOccurred())
		out, err := resultsquarksjob.ParseOutput(body)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t.QuarksJob), t.QuarksJob)).To(Succeed())
		return sink.PersistOutput(ctx, t, out)
	}
	legacy := func(name, container string, extra map[string]string) *corev1.Secret {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
				Labels: map[string]string{quarksv1alpha1.ContainerNameLabel: container}},
			Data: map[string][]byte{"old": []byte("x")},
		}
		maps.Copy(s.Labels, extra)
		Expect(k8sClient.Create(ctx, s)).To(Succeed())
		return s
	}
	secret := func(name string) *corev1.Secret {
		s := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)).To(Succeed())
		return s
	}
	// recorded is what the sink recorded about the run's output on its Job.
	recorded := func(t *resultsquarksjob.Target) quarksv1alpha1.JobOutputResult {
		job := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t.Job), job)).To(Succeed())
		return outputResult(job)
	}
	conflictAnswer := func(err error) *results.Error {
		e, ok := errors.AsType[*results.Error](err)
		Expect(ok).To(BeTrue(), "error %v", err)
		Expect(e.Code).To(Equal(409))
		Expect(e.Reason).To(Equal(wire.ReasonOutputConflict))
		return e
	}

	It("QJ-F18: with adoption on (the default), a legacy Secret of the mapped container is adopted and written", func() {
		legacy("legacy", "a", map[string]string{"keep": "me"})
		t := run("adopt-on", quarksv1alpha1.SecretOptions{Name: "legacy"})
		got, err := persist(true, t, `{"k":"v"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"legacy"}))
		s := secret("legacy")
		Expect(s.Labels).To(HaveKeyWithValue(quarksv1alpha1.QuarksJobNameLabel, "adopt-on"))
		Expect(s.Labels).To(HaveKeyWithValue("keep", "me"))
		Expect(s.OwnerReferences).To(BeEmpty())
		Expect(s.Data).To(Equal(map[string][]byte{"k": []byte("v")}))
		Expect(recorded(t).Secrets).To(Equal([]string{"legacy"}))
	})

	It("QJ-F18: with adoption on, legacy members of a versioned series are adopted and the series continues", func() {
		legacy("series-v1", "a", map[string]string{quarksv1alpha1.SecretKindLabel: quarksv1alpha1.SecretKindVersioned,
			quarksv1alpha1.SecretVersionLabel: "1"})
		t := run("adopt-series", quarksv1alpha1.SecretOptions{Name: "series", Versioned: true})
		got, err := persist(true, t, `{"k":"v"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"series-v2"}))
		Expect(secret("series-v1").Data).To(HaveKey("old"))
	})

	It("QJ-F18: after a migration, the same output as the newest upstream member of a series gives no new version", func() {
		upstream := legacy("same-v3", "a", map[string]string{quarksv1alpha1.SecretKindLabel: quarksv1alpha1.SecretKindVersioned,
			quarksv1alpha1.SecretVersionLabel: "3"})
		upstream.Data = map[string][]byte{"k": []byte("v")}
		Expect(k8sClient.Update(ctx, upstream)).To(Succeed())
		t := run("adopt-same", quarksv1alpha1.SecretOptions{Name: "same", Versioned: true})
		got, err := persist(true, t, `{"k":"v"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"same-v3"}))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "same-v4"}, &corev1.Secret{})).NotTo(Succeed())

		By("a change still gives the next version")
		got, err = persist(true, run("adopt-same-2", quarksv1alpha1.SecretOptions{Name: "same", Versioned: true}), `{"k":"w"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"same-v4"}))
	})

	It("QJ-F18: with adoption on, a legacy Secret of another container is still a conflict", func() {
		before := legacy("other", "b", nil)
		t := run("adopt-other", quarksv1alpha1.SecretOptions{Name: "other"})
		_, err := persist(true, t, `{"k":"v"}`)
		Expect(conflictAnswer(err).Message).To(ContainSubstring("Secret other"))
		Expect(secret("other").ResourceVersion).To(Equal(before.ResourceVersion))
	})

	It("QJ-F18, QJ-X15: with adoption off, a legacy Secret is a conflict: left unchanged, the run fails, an event names it", func() {
		before := legacy("legacy", "a", nil)
		t := run("adopt-off", quarksv1alpha1.SecretOptions{Name: "legacy"})
		_, err := persist(false, t, `{"k":"v"}`)
		Expect(conflictAnswer(err).Message).To(ContainSubstring("Secret legacy"))
		after := secret("legacy")
		Expect(after.ResourceVersion).To(Equal(before.ResourceVersion))
		Expect(after.Labels).NotTo(HaveKey(quarksv1alpha1.QuarksJobNameLabel))
		Expect(after.Data).To(Equal(before.Data))
		run := recorded(t)
		Expect(run.Reason).To(Equal(quarksv1alpha1.RunReasonOutputConflict))
		Expect(run.Secrets).To(BeEmpty())
		Expect(recorder.Events).To(Receive(And(ContainSubstring("Warning"), ContainSubstring(EventOutputConflict),
			ContainSubstring("legacy"))))
	})

	It("QJ-F18: with adoption off, a series with a legacy member is a conflict and gets no new version", func() {
		legacy("series-v1", "a", map[string]string{quarksv1alpha1.SecretKindLabel: quarksv1alpha1.SecretKindVersioned,
			quarksv1alpha1.SecretVersionLabel: "1"})
		t := run("adopt-off-series", quarksv1alpha1.SecretOptions{Name: "series", Versioned: true})
		_, err := persist(false, t, `{"k":"v"}`)
		Expect(conflictAnswer(err).Message).To(ContainSubstring("series-v1"))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "series-v2"}, &corev1.Secret{})).NotTo(Succeed())
	})

	It("QJ-F18: either way, a Secret already labelled for this QuarksJob is written", func() {
		for _, adopt := range []bool{true, false} {
			name := map[bool]string{true: "own-on", false: "own-off"}[adopt]
			legacy(name, "a", map[string]string{quarksv1alpha1.QuarksJobNameLabel: name})
			t := run(name, quarksv1alpha1.SecretOptions{Name: name})
			_, err := persist(adopt, t, `{"k":"v"}`)
			Expect(err).NotTo(HaveOccurred(), "adopt=%v", adopt)
			Expect(secret(name).Data).To(Equal(map[string][]byte{"k": []byte("v")}))
		}
	})
})
