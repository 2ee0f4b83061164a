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
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/quarksoutput"
	"github.com/jobkeeper/jobkeeper/internal/results"
	resultsquarksjob "github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

var _ = Describe("QuarksJob output persistence", func() {
	var (
		ns       string
		sink     *quarksoutput.Sink
		recorder *events.FakeRecorder
	)

	BeforeEach(func() {
		ns = newNamespace("qjout-")
		stop := startQuarksJobController(ns)
		DeferCleanup(func() { stop() })
		userCfg, err := utils.UserConfig(testEnv, managerUser)
		Expect(err).NotTo(HaveOccurred())
		c, err := client.New(userCfg, client.Options{Scheme: scheme.Scheme})
		Expect(err).NotTo(HaveOccurred())
		recorder = events.NewFakeRecorder(100)
		sink = &quarksoutput.Sink{Client: c, Reader: c, Recorder: recorder, AdoptLegacy: true}
	})

	get := func(qj *quarksv1alpha1.QuarksJob) *quarksv1alpha1.QuarksJob {
		out := &quarksv1alpha1.QuarksJob{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(qj), out)).To(Succeed())
		return out
	}
	var podFor func(qj *quarksv1alpha1.QuarksJob, job *batchv1.Job, codes map[string]int32) *resultsquarksjob.Target
	// start creates qj with the strategy once and returns the target of the
	// pod of its first run, whose containers exited with codes.
	start := func(qj *quarksv1alpha1.QuarksJob, codes map[string]int32) *resultsquarksjob.Target {
		qj.Namespace = ns
		qj.Spec.Trigger = quarksv1alpha1.Trigger{Strategy: quarksv1alpha1.StrategyOnce}
		ExpectWithOffset(1, k8sClient.Create(ctx, qj)).To(Succeed())
		job := &batchv1.Job{}
		EventuallyWithOffset(1, func(g Gomega) {
			got := get(qj)
			g.Expect(got.Status.LastRun).NotTo(BeNil())
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: got.Status.LastRun.Name}, job)).To(Succeed())
		}).Should(Succeed())
		ExpectWithOffset(1, job.Spec.Template.Spec.Containers).To(ContainElement(
			HaveField("Name", quarksv1alpha1.OutputPersistContainerName)))
		return podFor(qj, job, codes)
	}
	// podFor creates a pod of job whose containers exited with codes, and returns its target.
	podFor = func(qj *quarksv1alpha1.QuarksJob, job *batchv1.Job, codes map[string]int32) *resultsquarksjob.Target {
		// A pod of the run, with the user containers only; envtest runs no kubelet.
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-pod", Namespace: ns, Labels: job.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever},
		}
		for _, c := range qj.Spec.Template.Spec.Template.Spec.Containers {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image, Env: c.Env})
		}
		ExpectWithOffset(1, k8sClient.Create(ctx, pod)).To(Succeed())
		for c, code := range codes {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c, Image: "busybox", ImageID: "busybox",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Exited"}},
			})
		}
		ExpectWithOffset(1, k8sClient.Status().Update(ctx, pod)).To(Succeed())
		return &resultsquarksjob.Target{Pod: pod, Job: job, QuarksJob: get(qj)}
	}
	upload := func(files ...wire.OutputFile) *resultsquarksjob.Output {
		body, err := json.Marshal(wire.OutputRequest{Files: files})
		Expect(err).NotTo(HaveOccurred())
		out, err := resultsquarksjob.ParseOutput(body)
		Expect(err).NotTo(HaveOccurred())
		return out
	}
	// recorded is what the results side recorded about the run's output on its
	// Job, where the controller observes it.
	recorded := func(t *resultsquarksjob.Target) quarksv1alpha1.JobOutputResult {
		job := &batchv1.Job{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(t.Job), job)).To(Succeed())
		return jobOutputResult(job)
	}
	persist := func(t *resultsquarksjob.Target, out *resultsquarksjob.Output) ([]string, error) {
		t.QuarksJob = get(t.QuarksJob) // the routes read it from the cache on every request
		return sink.PersistOutput(ctx, t, out)
	}
	secret := func(name string) *corev1.Secret {
		s := &corev1.Secret{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)).To(Succeed())
		return s
	}
	secretNames := func() []string {
		var list corev1.SecretList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		var out []string
		for _, s := range list.Items {
			out = append(out, s.Name)
		}
		return out
	}
	answer := func(err error) *results.Error {
		e, ok := errors.AsType[*results.Error](err)
		ExpectWithOffset(1, ok).To(BeTrue(), "error %v", err)
		return e
	}
	emitted := func() []string {
		var out []string
		for {
			select {
			case e := <-recorder.Events:
				out = append(out, e)
			default:
				return out
			}
		}
	}
	simple := func(name string, opts quarksv1alpha1.SecretOptions) *quarksv1alpha1.QuarksJob {
		return &quarksv1alpha1.QuarksJob{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: quarksv1alpha1.QuarksJobSpec{
				Template: quarksv1alpha1.JobTemplate{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "a", Image: "busybox"}},
				}}}},
				Output: &quarksv1alpha1.Output{OutputMap: quarksv1alpha1.OutputMap{"a": {"out.json": opts}}},
			},
		}
	}

	It("QJ-22, QJ-23, QJ-26, QJ-S4: a one-to-one file becomes a Secret recorded in the run", func() {
		data, err := os.ReadFile(filepath.Join(utils.RepoRoot(), "..", "shared", "examples", "quarks", "qjob_output.yaml"))
		if os.IsNotExist(err) {
			Skip("the upstream examples are not beside the repository")
		}
		Expect(err).NotTo(HaveOccurred())
		qj := &quarksv1alpha1.QuarksJob{}
		Expect(yaml.UnmarshalStrict(data, qj)).To(Succeed())
		t := start(qj, map[string]int32{"jsonout": 0})

		got, err := persist(t, upload(wire.FileOutput("jsonout", "output.json", []byte(`{"foo": "1", "bar": "baz"}`+"\n"))))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"foo-json"}))
		s := secret("foo-json")
		Expect(s.Data).To(Equal(map[string][]byte{"foo": []byte("1"), "bar": []byte("baz")}))
		Expect(s.Type).To(Equal(corev1.SecretTypeOpaque))
		Expect(s.Labels).To(HaveKeyWithValue("key", "value"))
		Expect(s.Labels).To(HaveKeyWithValue(quarksv1alpha1.ContainerNameLabel, "jsonout"))
		Expect(s.Labels).To(HaveKeyWithValue(quarksv1alpha1.QuarksJobNameLabel, "myfoo"))
		Expect(s.OwnerReferences).To(BeEmpty())
		Expect(recorded(t).Secrets).To(Equal([]string{"foo-json"}))
		Eventually(func() []string { return get(qj).Status.LastRun.OutputSecrets }).Should(Equal([]string{"foo-json"}))
		Expect(emitted()).To(ContainElement(ContainSubstring(quarksoutput.EventOutputPersisted)))

		By("uploading again, which writes the same content")
		_, err = persist(t, upload(wire.FileOutput("jsonout", "output.json", []byte(`{"foo": "1", "bar": "baz"}`))))
		Expect(err).NotTo(HaveOccurred())

		finishJob(t.Job, true)
		Eventually(func(g Gomega) {
			run := get(qj).Status.LastRun
			g.Expect(run.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
			g.Expect(run.OutputSecrets).To(Equal([]string{"foo-json"}))
		}).Should(Succeed())
	})

	It("QJ-25, QJ-F19, QJ-S5: identical uploads give one version; changes give new ones, pruned to the limit", func() {
		qj := simple("vers", quarksv1alpha1.SecretOptions{Name: "bar-nuts", Versioned: true})
		qj.Spec.Output.VersionedSecretHistoryLimit = new(int32(2))
		t := start(qj, map[string]int32{"a": 0})

		for range 2 {
			got, err := persist(t, upload(wire.FileOutput("a", "out.json", []byte(`{"k":"v1"}`))))
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal([]string{"bar-nuts-v1"}))
		}
		Expect(secretNames()).To(ConsistOf("bar-nuts-v1"))
		s := secret("bar-nuts-v1")
		Expect(s.Labels).To(HaveKeyWithValue(quarksv1alpha1.SecretKindLabel, quarksv1alpha1.SecretKindVersioned))
		Expect(s.Labels).To(HaveKeyWithValue(quarksv1alpha1.SecretVersionLabel, "1"))
		Expect(s.Annotations).To(HaveKeyWithValue(quarksv1alpha1.SourceDescriptionAnnotation, quarksv1alpha1.SourceDescriptionQuarksJob))
		ref := metav1.GetControllerOf(s)
		Expect(ref).NotTo(BeNil())
		Expect(ref.UID).To(Equal(t.QuarksJob.UID))
		Expect(ref.BlockOwnerDeletion).To(HaveValue(BeFalse()))

		for _, v := range []string{"v2", "v3"} {
			got, err := persist(t, upload(wire.FileOutput("a", "out.json", []byte(`{"k":"`+v+`"}`))))
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal([]string{"bar-nuts-" + v}))
		}
		Expect(secretNames()).To(ConsistOf("bar-nuts-v2", "bar-nuts-v3"))
		Expect(emitted()).To(ContainElement(ContainSubstring(quarksoutput.EventVersionedSecretsPruned)))
	})

	It("QJ-24, QJ-S6: a fan-out file gives one Secret per key", func() {
		qj := simple("fan", quarksv1alpha1.SecretOptions{Name: "link-nats-deployment",
			PersistenceMethod: quarksv1alpha1.PersistenceMethodFanOut})
		t := start(qj, map[string]int32{"a": 0})
		inner := `{"nats.user":"admin","nats.password":"secret","nats.port":"4222"}`
		body, err := json.Marshal(map[string]string{"nats-nats": inner})
		Expect(err).NotTo(HaveOccurred())
		got, err := persist(t, upload(wire.FileOutput("a", "out.json", body)))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"link-nats-deployment-nats-nats"}))
		Expect(secret("link-nats-deployment-nats-nats").Data).To(Equal(map[string][]byte{
			"nats.user": []byte("admin"), "nats.password": []byte("secret"), "nats.port": []byte("4222"),
		}))
	})

	It("QJ-X15, QJ-F18, QJ-S9: a Secret owned by someone else is left unchanged and the run fails", func() {
		foreign := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: ns, Labels: map[string]string{"owner": "else"}},
			Data:       map[string][]byte{"x": []byte("y")},
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		qj := simple("conf", quarksv1alpha1.SecretOptions{Name: "taken"})
		t := start(qj, map[string]int32{"a": 0})

		_, err := persist(t, upload(wire.FileOutput("a", "out.json", []byte(`{"k":"v"}`))))
		e := answer(err)
		Expect(e.Code).To(Equal(409))
		Expect(e.Reason).To(Equal(wire.ReasonOutputConflict))
		Expect(e.Message).To(ContainSubstring("Secret taken"))
		after := secret("taken")
		Expect(after.ResourceVersion).To(Equal(foreign.ResourceVersion))
		Expect(after.Data).To(Equal(foreign.Data))
		Expect(emitted()).To(ContainElement(And(ContainSubstring(quarksoutput.EventOutputConflict), ContainSubstring("taken"))))

		finishJob(t.Job, false)
		Eventually(func(g Gomega) {
			got := get(qj)
			g.Expect(got.Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultFailed))
			g.Expect(got.Status.LastRun.Reason).To(Equal(quarksv1alpha1.RunReasonOutputConflict))
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", "Stalled"),
				HaveField("Reason", quarksv1alpha1.ReasonRunFailed), HaveField("Message", ContainSubstring("OutputConflict")))))
		}).Should(Succeed())
	})

	It("QJ-F18: a legacy output Secret of the mapped container is adopted", func() {
		legacy := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: ns,
				Labels: map[string]string{quarksv1alpha1.ContainerNameLabel: "a"}},
			Data: map[string][]byte{"old": []byte("x")},
		}
		Expect(k8sClient.Create(ctx, legacy)).To(Succeed())
		t := start(simple("adopt", quarksv1alpha1.SecretOptions{Name: "legacy"}), map[string]int32{"a": 0})
		_, err := persist(t, upload(wire.FileOutput("a", "out.json", []byte(`{"k":"v"}`))))
		Expect(err).NotTo(HaveOccurred())
		s := secret("legacy")
		Expect(s.Labels).To(HaveKeyWithValue(quarksv1alpha1.QuarksJobNameLabel, "adopt"))
		Expect(s.Data).To(Equal(map[string][]byte{"k": []byte("v")}))
	})

	It("QJ-X12, QJ-F17: bad JSON in one file writes nothing and fails the run with OutputInvalid", func() {
		qj := simple("bad", quarksv1alpha1.SecretOptions{Name: "good"})
		qj.Spec.Output.OutputMap["a"]["zz.json"] = quarksv1alpha1.SecretOptions{Name: "bad"}
		t := start(qj, map[string]int32{"a": 0})

		_, err := persist(t, upload(
			wire.FileOutput("a", "out.json", []byte(`{"k":"v"}`)),
			wire.FileOutput("a", "zz.json", []byte(`{"k":1}`)),
		))
		e := answer(err)
		Expect(e.Code).To(Equal(400))
		Expect(e.Reason).To(Equal(wire.ReasonOutputInvalid))
		Expect(e.Message).To(ContainSubstring("container a, file zz.json"))
		Expect(secretNames()).NotTo(ContainElements("good", "bad"))
		Expect(recorded(t).Reason).To(Equal(quarksv1alpha1.RunReasonOutputInvalid))
		Expect(emitted()).To(ContainElement(ContainSubstring(quarksoutput.EventOutputRejected)))

		By("a later valid upload is refused and never turns the rejected run into a success")
		_, err = persist(t, upload(wire.FileOutput("a", "out.json", []byte(`{"k":"v"}`))))
		Expect(answer(err).Code).To(Equal(409))
		Expect(recorded(t).Reason).To(Equal(quarksv1alpha1.RunReasonOutputInvalid))
		Expect(secretNames()).NotTo(ContainElement("good"))

		By("the Job completing does not make the run succeed")
		finishJob(t.Job, true)
		Eventually(func(g Gomega) {
			run := get(qj).Status.LastRun
			g.Expect(run.Result).To(Equal(quarksv1alpha1.RunResultFailed))
			g.Expect(run.Reason).To(Equal(quarksv1alpha1.RunReasonOutputInvalid))
		}).Should(Succeed())
	})

	It("QJ-A7: a sidecar that gave up waiting fails the run with OutputTimeout", func() {
		qj := simple("slow", quarksv1alpha1.SecretOptions{Name: "slow"})
		t := start(qj, map[string]int32{"a": 0})
		t.Pod.Status.ContainerStatuses = append(t.Pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: quarksv1alpha1.OutputPersistContainerName, Image: "jobkeeper", ImageID: "jobkeeper",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}},
		})
		Expect(k8sClient.Status().Update(ctx, t.Pod)).To(Succeed())
		finishJob(t.Job, false)
		Eventually(func(g Gomega) {
			run := get(qj).Status.LastRun
			g.Expect(run.Result).To(Equal(quarksv1alpha1.RunResultFailed))
			g.Expect(run.Reason).To(Equal(quarksv1alpha1.RunReasonOutputTimeout))
		}).Should(Succeed())
	})

	It("QJ-A7: with restartPolicy OnFailure, a sidecar that gave up waiting and was restarted still fails the run with OutputTimeout", func() {
		qj := simple("slow-onfailure", quarksv1alpha1.SecretOptions{Name: "slow-onfailure"})
		qj.Spec.Template.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		t := start(qj, map[string]int32{"a": 0})
		// Restarted in place: the timeout is in the last termination state only.
		t.Pod.Status.ContainerStatuses = append(t.Pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: quarksv1alpha1.OutputPersistContainerName, Image: "jobkeeper", ImageID: "jobkeeper", RestartCount: 1,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}},
		})
		Expect(k8sClient.Status().Update(ctx, t.Pod)).To(Succeed())
		finishJob(t.Job, false)
		Eventually(func(g Gomega) {
			run := get(qj).Status.LastRun
			g.Expect(run.Result).To(Equal(quarksv1alpha1.RunResultFailed))
			g.Expect(run.Reason).To(Equal(quarksv1alpha1.RunReasonOutputTimeout))
		}).Should(Succeed())
	})

	It("with restartPolicy OnFailure, a rejected output ends the run at once and its Job is deleted", func() {
		qj := simple("rejected-onfailure", quarksv1alpha1.SecretOptions{Name: "rejected-onfailure"})
		qj.Spec.Template.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		t := start(qj, map[string]int32{"a": 0})
		_, err := persist(t, upload(wire.FileOutput("a", "out.json", []byte(`not json`))))
		Expect(answer(err).Code).To(Equal(400))
		Eventually(func(g Gomega) {
			run := get(qj).Status.LastRun
			g.Expect(run.Result).To(Equal(quarksv1alpha1.RunResultFailed))
			g.Expect(run.Reason).To(Equal(quarksv1alpha1.RunReasonOutputInvalid))
		}).Should(Succeed())
		Eventually(func() bool {
			j := &batchv1.Job{}
			err := k8sClient.Get(ctx, client.ObjectKeyFromObject(t.Job), j)
			return apierrors.IsNotFound(err) || err == nil && j.DeletionTimestamp != nil
		}).Should(BeTrue())
	})

	It("QJ-X18: a file over 1 MiB is answered 413 at the results route and fails the run with OutputInvalid", func() {
		qj := simple("big", quarksv1alpha1.SecretOptions{Name: "big"})
		qj.Spec.Output.OutputMap["a"]["small.json"] = quarksv1alpha1.SecretOptions{Name: "small"}
		t := start(qj, map[string]int32{"a": 0})
		routes := resultsquarksjob.NewRoutes(resultsquarksjob.Options{Sink: sink, DirectReader: k8sClient,
			QuarksJobReader: k8sClient, PodCacheTTL: -1, RequestsPerMinute: -1})
		var handler results.Handler
		for _, r := range routes.Family().Routes {
			if r.Path == wire.QuarksJobOutputPath {
				handler = r.Handler
			}
		}
		Expect(handler).NotTo(BeNil())
		body, err := json.Marshal(wire.OutputRequest{Files: []wire.OutputFile{
			wire.FileOutput("a", "small.json", []byte(`{"k":"v"}`)),
			wire.FileOutput("a", "out.json", bytes.Repeat([]byte("x"), resultsquarksjob.MaxOutputFileBytes+1)),
		}})
		Expect(err).NotTo(HaveOccurred())
		req := &results.Request{
			HTTP:   httptest.NewRequestWithContext(ctx, http.MethodPost, wire.QuarksJobOutputPath, bytes.NewReader(body)),
			Caller: results.Caller{Namespace: ns, PodName: t.Pod.Name, PodUID: t.Pod.UID},
		}
		_, err = handler.ServeResults(ctx, req)
		e := answer(err)
		Expect(e.Code).To(Equal(http.StatusRequestEntityTooLarge))
		Expect(e.Reason).To(Equal(wire.ReasonTooLarge))
		Expect(e.Message).To(ContainSubstring("container a, file out.json: file too large"))
		Expect(secretNames()).NotTo(ContainElements("big", "small"))
		Expect(get(qj).Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultRunning))
		Expect(recorded(t).Reason).To(Equal(quarksv1alpha1.RunReasonOutputInvalid))
		Expect(recorded(t).Message).To(ContainSubstring("file too large"))
		Expect(emitted()).To(ContainElement(And(ContainSubstring(quarksoutput.EventOutputRejected), ContainSubstring("file too large"))))

		By("the sidecar exits 1, the Job fails, and the run fails with OutputInvalid")
		finishJob(t.Job, false)
		Eventually(func(g Gomega) {
			got := get(qj)
			g.Expect(got.Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultFailed))
			g.Expect(got.Status.LastRun.Reason).To(Equal(quarksv1alpha1.RunReasonOutputInvalid))
			g.Expect(got.Status.LastRun.Message).To(ContainSubstring("file too large"))
			g.Expect(got.Status.Conditions).To(ContainElement(And(HaveField("Type", "Stalled"),
				HaveField("Reason", quarksv1alpha1.ReasonRunFailed), HaveField("Message", ContainSubstring("file too large")))))
		}).Should(Succeed())
	})

	It("QJ-21, QJ-S5, QJ-19: with writeOnFailure, a failed container's files are written; a second identical run adds no version", func() {
		qj := simple("wof", quarksv1alpha1.SecretOptions{Name: "foo-busybox"})
		qj.Spec.Output.OutputMap["a"]["nats.json"] = quarksv1alpha1.SecretOptions{Name: "fake-nats"}
		qj.Spec.Output.OutputMap["a"]["bar.json"] = quarksv1alpha1.SecretOptions{Name: "bar-nuts", Versioned: true}
		qj.Spec.Output.WriteOnFailure = true
		files := []wire.OutputFile{
			wire.FileOutput("a", "out.json", []byte(`{"foo":"bar"}`)),
			wire.FileOutput("a", "nats.json", []byte(`{"user":"nats"}`)),
			wire.FileOutput("a", "bar.json", []byte(`{"nuts":"1"}`)),
		}
		t := start(qj, map[string]int32{"a": 1})
		got, err := persist(t, upload(files...))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"bar-nuts-v1", "fake-nats", "foo-busybox"}))

		By("QJ-19: versioned Secrets are owned by the QuarksJob, the others are not; the Job is owned with blockOwnerDeletion")
		Expect(metav1.GetControllerOf(secret("bar-nuts-v1"))).To(HaveValue(HaveField("UID", t.QuarksJob.UID)))
		Expect(secret("foo-busybox").OwnerReferences).To(BeEmpty())
		Expect(secret("fake-nats").OwnerReferences).To(BeEmpty())
		Expect(metav1.GetControllerOf(t.Job)).To(HaveValue(And(HaveField("UID", t.QuarksJob.UID),
			HaveField("BlockOwnerDeletion", HaveValue(BeTrue())))))

		By("a second run with the same output")
		finishJob(t.Job, false)
		Eventually(func() quarksv1alpha1.RunResult { return get(qj).Status.LastRun.Result }).Should(Equal(quarksv1alpha1.RunResultFailed))
		Eventually(func() error {
			cur := get(qj)
			cur.Spec.Trigger.Strategy = quarksv1alpha1.StrategyNow
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		job2 := &batchv1.Job{}
		Eventually(func(g Gomega) {
			run := get(qj).Status.LastRun
			g.Expect(run.Result).To(Equal(quarksv1alpha1.RunResultRunning))
			g.Expect(run.Name).NotTo(Equal(t.Job.Name))
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: run.Name}, job2)).To(Succeed())
		}).Should(Succeed())
		t2 := podFor(qj, job2, map[string]int32{"a": 1})
		got, err = persist(t2, upload(files...))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"bar-nuts-v1", "fake-nats", "foo-busybox"}))
		Expect(secretNames()).NotTo(ContainElement("bar-nuts-v2"))
	})

	It("QJ-21: without writeOnFailure, the files of a failed container are skipped without error", func() {
		t := start(simple("nowof", quarksv1alpha1.SecretOptions{Name: "skipped"}), map[string]int32{"a": 3})
		got, err := persist(t, upload(wire.FileOutput("a", "out.json", []byte(`{"k":"v"}`))))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(BeEmpty())
		Expect(secretNames()).NotTo(ContainElement("skipped"))
	})

	It("QJ-X13: a fan-out value that is not an object of strings writes nothing and names the key", func() {
		qj := simple("fanbad", quarksv1alpha1.SecretOptions{Name: "link", PersistenceMethod: quarksv1alpha1.PersistenceMethodFanOut})
		t := start(qj, map[string]int32{"a": 0})
		body, err := json.Marshal(map[string]string{"good": `{"a":"b"}`, "bad": `{"a":1}`})
		Expect(err).NotTo(HaveOccurred())
		_, err = persist(t, upload(wire.FileOutput("a", "out.json", body)))
		e := answer(err)
		Expect(e.Reason).To(Equal(wire.ReasonOutputInvalid))
		Expect(e.Message).To(And(ContainSubstring("container a, file out.json"), ContainSubstring(`key "bad"`)))
		Expect(secretNames()).NotTo(ContainElements("link-good", "link-bad"))
		Expect(recorded(t).Reason).To(Equal(quarksv1alpha1.RunReasonOutputInvalid))
	})

	It("QJ-23, QJ-F23: REMOTE_ID becomes a sanitised label; one that sanitises to nothing is left out with a Warning", func() {
		qj := simple("remote", quarksv1alpha1.SecretOptions{Name: "remote-a"})
		qj.Spec.Template.Spec.Template.Spec.Containers = append(qj.Spec.Template.Spec.Template.Spec.Containers,
			corev1.Container{Name: "b", Image: "busybox", Env: []corev1.EnvVar{{Name: quarksv1alpha1.RemoteIDEnv, Value: "!!!"}}})
		qj.Spec.Template.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: quarksv1alpha1.RemoteIDEnv, Value: "Node_1"}}
		qj.Spec.Output.OutputMap["b"] = map[string]quarksv1alpha1.SecretOptions{"out.json": {Name: "remote-b"}}
		t := start(qj, map[string]int32{"a": 0, "b": 0})
		_, err := persist(t, upload(wire.FileOutput("a", "out.json", []byte(`{"k":"v"}`)),
			wire.FileOutput("b", "out.json", []byte(`{"k":"v"}`))))
		Expect(err).NotTo(HaveOccurred())
		Expect(secret("remote-a").Labels).To(HaveKeyWithValue(quarksv1alpha1.RemoteIDLabel, "node-1"))
		Expect(secret("remote-b").Labels).NotTo(HaveKey(quarksv1alpha1.RemoteIDLabel))
		Expect(emitted()).To(ContainElement(And(ContainSubstring("Warning"), ContainSubstring("container b"))))
	})

	It("QJ-S11, QJ-F15: with two containers of which one is mapped, a file never written ends the run with OutputMissing", func() {
		qj := simple("twoc", quarksv1alpha1.SecretOptions{Name: "never"})
		qj.Spec.Template.Spec.Template.Spec.Containers = append(qj.Spec.Template.Spec.Template.Spec.Containers,
			corev1.Container{Name: "unmapped", Image: "busybox"})
		t := start(qj, map[string]int32{"a": 0, "unmapped": 0})
		_, err := persist(t, upload(wire.MissingOutput("a", "out.json")))
		Expect(answer(err).Reason).To(Equal(wire.ReasonOutputMissing))
		finishJob(t.Job, false)
		Eventually(func(g Gomega) {
			run := get(qj).Status.LastRun
			g.Expect(run.Result).To(Equal(quarksv1alpha1.RunResultFailed))
			g.Expect(run.Reason).To(Equal(quarksv1alpha1.RunReasonOutputMissing))
		}).Should(Succeed())
	})

	It("QJ-X14, QJ-21: a missing file of a succeeded container is OutputMissing", func() {
		qj := simple("miss", quarksv1alpha1.SecretOptions{Name: "miss"})
		t := start(qj, map[string]int32{"a": 0})
		_, err := persist(t, upload(wire.MissingOutput("a", "out.json")))
		e := answer(err)
		Expect(e.Reason).To(Equal(wire.ReasonOutputMissing))
		Expect(recorded(t).Reason).To(Equal(quarksv1alpha1.RunReasonOutputMissing))
	})
})
