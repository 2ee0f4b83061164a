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
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

var _ = Describe("QuarksJob triggers and references", func() {
	var (
		ns   string
		stop func()
	)

	BeforeEach(func() {
		ns = newNamespace("qjc-")
		stop = startQuarksJobController(ns)
		DeferCleanup(func() { stop() })
	})

	get := func(qj *quarksv1alpha1.QuarksJob) *quarksv1alpha1.QuarksJob {
		out := &quarksv1alpha1.QuarksJob{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(qj), out)).To(Succeed())
		return out
	}
	runCount := func(qj *quarksv1alpha1.QuarksJob) func() int64 {
		return func() int64 { return get(qj).Status.RunCount }
	}
	jobCount := func(qj *quarksv1alpha1.QuarksJob) func() int {
		return func() int {
			var list batchv1.JobList
			ExpectWithOffset(1, k8sClient.List(ctx, &list, client.InNamespace(ns),
				client.MatchingLabels{quarksv1alpha1.QuarksJobNameLabel: qj.Name})).To(Succeed())
			return len(list.Items)
		}
	}
	runJob := func(qj *quarksv1alpha1.QuarksJob, n int64) *batchv1.Job {
		job := &batchv1.Job{}
		EventuallyWithOffset(1, func(g Gomega) {
			got := get(qj)
			g.Expect(got.Status.RunCount).To(BeNumerically(">=", n))
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: runJobName(got, n)}, job)).To(Succeed())
		}).Should(Succeed())
		return job
	}
	succeeded := func(qj *quarksv1alpha1.QuarksJob, job *batchv1.Job) {
		finishJob(job, true)
		EventuallyWithOffset(1, func() quarksv1alpha1.RunResult { return get(qj).Status.LastRun.Result }).
			Should(Equal(quarksv1alpha1.RunResultSucceeded))
	}
	setStrategy := func(qj *quarksv1alpha1.QuarksJob, s quarksv1alpha1.Strategy) {
		EventuallyWithOffset(1, func() error {
			cur := get(qj)
			cur.Spec.Trigger.Strategy = s
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
	}
	strategy := func(qj *quarksv1alpha1.QuarksJob) func() quarksv1alpha1.Strategy {
		return func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }
	}
	newQJ := func(name string, s quarksv1alpha1.Strategy, pod corev1.PodSpec) *quarksv1alpha1.QuarksJob {
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		qj.Spec.Trigger.Strategy = s
		pod.RestartPolicy = corev1.RestartPolicyNever
		if len(pod.Containers) == 0 {
			pod.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}
		}
		qj.Spec.Template.Spec.Template.Spec = pod
		return qj
	}

	It("QJ-8: the Job name is the name prefix and the FNV-64a hash of UID and run number", func() {
		long := strings.Repeat("n", 50)
		qj := newQJ(long, quarksv1alpha1.StrategyOnce, corev1.PodSpec{})
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		job := runJob(qj, 1)
		h := fnv.New64a()
		_, _ = fmt.Fprintf(h, "%s/1", get(qj).UID)
		Expect(job.Name).To(Equal(fmt.Sprintf("%s-%016x", long[:39], h.Sum64())))
		Expect(len(job.Name)).To(BeNumerically("<=", 56))
	})

	It("QJ-3, QJ-F4, QJ-F3: a change to now from done runs once and is written back to manual", func() {
		qj := newQJ("fromdone", quarksv1alpha1.StrategyOnce, corev1.PodSpec{})
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		succeeded(qj, runJob(qj, 1))
		Eventually(strategy(qj)).Should(Equal(quarksv1alpha1.StrategyDone))

		setStrategy(qj, quarksv1alpha1.StrategyNow)
		job := runJob(qj, 2)
		Eventually(strategy(qj)).Should(Equal(quarksv1alpha1.StrategyManual))
		got := get(qj)
		Expect(got.Status.LastRun.Trigger).To(Equal(quarksv1alpha1.RunTriggerNow))
		Expect(got.Status.LastRun.Generation).To(BeNumerically("<", got.Generation), "the run started before the write-back")
		Consistently(runCount(qj)).WithTimeout(2 * time.Second).Should(Equal(int64(2)))

		By("QJ-F14: completed is reset while the run is active")
		Expect(got.Status.Completed).To(BeFalse())
		succeeded(qj, job)
		Expect(get(qj).Status.Completed).To(BeTrue())
	})

	It("QJ-2: done without updateOnConfigChange runs nothing, also after an update and a restart", func() {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: ns}, Data: map[string]string{"k": "v"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		qj := newQJ("idle", quarksv1alpha1.StrategyDone, corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox",
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}}}})
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		Eventually(func() int64 { return get(qj).Status.ObservedGeneration }).Should(Equal(int64(1)))
		cm.Data["k"] = "changed"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		cur := get(qj)
		cur.Spec.Template.Labels = map[string]string{"touched": "yes"}
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())
		stop()
		stop = startQuarksJobController(ns)
		Consistently(jobCount(qj)).WithTimeout(2 * time.Second).Should(BeZero())
		Expect(get(qj).Status.RunCount).To(BeZero())
	})

	It("QJ-12, QJ-F6: required references of init containers, projected volumes and key refs block; optional ones do not", func() {
		optional := true
		qj := newQJ("refs", quarksv1alpha1.StrategyOnce, corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox", Env: []corev1.EnvVar{{Name: "S",
				ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "init-secret"}, Key: "k"}}}}}},
			Volumes: []corev1.Volume{{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: "proj-cm"}}}}}}}},
			Containers: []corev1.Container{{Name: "main", Image: "busybox", Env: []corev1.EnvVar{{Name: "O",
				ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "opt-cm"}, Key: "k", Optional: &optional}}}}}},
		})
		qj.Spec.UpdateOnConfigChange = true
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(get(qj).Status.Conditions, quarksv1alpha1.ConditionReferencesResolved)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Message).To(And(ContainSubstring("Secret init-secret"), ContainSubstring("ConfigMap proj-cm"),
				Not(ContainSubstring("opt-cm"))))
		}).Should(Succeed())
		Expect(jobCount(qj)()).To(BeZero())

		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "init-secret", Namespace: ns}})).To(Succeed())
		Consistently(jobCount(qj)).WithTimeout(time.Second).Should(BeZero())
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "proj-cm", Namespace: ns}})).To(Succeed())
		succeeded(qj, runJob(qj, 1))

		By("QJ-15: the optional ConfigMap appearing later is a config change and runs once")
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "opt-cm", Namespace: ns},
			Data: map[string]string{"k": "v"}})).To(Succeed())
		job := runJob(qj, 2)
		Expect(get(qj).Status.LastRun.Trigger).To(Equal(quarksv1alpha1.RunTriggerConfigChange))
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
		succeeded(qj, job)
		Consistently(runCount(qj)).WithTimeout(2 * time.Second).Should(Equal(int64(2)))
	})

	It("QJ-4: a newer member of a referenced versioned series re-runs once", func() {
		versioned := func(name, v string) *corev1.Secret {
			return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
				quarksv1alpha1.SecretKindLabel: quarksv1alpha1.SecretKindVersioned, quarksv1alpha1.SecretVersionLabel: v}},
				Data: map[string][]byte{"k": []byte(v)}}
		}
		Expect(k8sClient.Create(ctx, versioned("series-v1", "1"))).To(Succeed())
		qj := newQJ("series", quarksv1alpha1.StrategyOnce, corev1.PodSpec{Volumes: []corev1.Volume{{Name: "d",
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "series-v1"}}}}})
		qj.Spec.UpdateOnConfigChange = true
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		succeeded(qj, runJob(qj, 1))

		Expect(k8sClient.Create(ctx, versioned("series-v2", "2"))).To(Succeed())
		job := runJob(qj, 2)
		Expect(job.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.Secret.SecretName", "series-v2")))
		succeeded(qj, job)
		Consistently(runCount(qj)).WithTimeout(2 * time.Second).Should(Equal(int64(2)))
	})

	// activeSecondRun is a done QuarksJob with updateOnConfigChange whose second run,
	// started by a change of its ConfigMap, is active.
	activeSecondRun := func(name string) (*quarksv1alpha1.QuarksJob, *batchv1.Job) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name + "-cfg", Namespace: ns}, Data: map[string]string{"k": "v1"}}
		ExpectWithOffset(1, k8sClient.Create(ctx, cm)).To(Succeed())
		qj := newQJ(name, quarksv1alpha1.StrategyOnce, corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox",
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}}}}}}})
		qj.Spec.UpdateOnConfigChange = true
		ExpectWithOffset(1, k8sClient.Create(ctx, qj)).To(Succeed())
		succeeded(qj, runJob(qj, 1))
		EventuallyWithOffset(1, strategy(qj)).Should(Equal(quarksv1alpha1.StrategyDone))
		ExpectWithOffset(1, get(qj).Status.LastRun.SpecHash).To(HavePrefix("sha256:"))

		cm.Data["k"] = "v2"
		ExpectWithOffset(1, k8sClient.Update(ctx, cm)).To(Succeed())
		job := runJob(qj, 2)
		ExpectWithOffset(1, get(qj).Status.LastRun.Trigger).To(Equal(quarksv1alpha1.RunTriggerConfigChange))
		return qj, job
	}

	It("QJ-6, QJ-S3: once reset during a run of the same spec and data is merged into that run", func() {
		qj, job := activeSecondRun("merged")
		setStrategy(qj, quarksv1alpha1.StrategyOnce) // a re-applied manifest resets the written-back done

		Eventually(strategy(qj)).Should(Equal(quarksv1alpha1.StrategyDone))
		Eventually(func() []string { return eventReasons(ns, qj.Name) }).Should(ContainElement(EventTriggerMerged))
		got := get(qj)
		Expect(got.Status.RunCount).To(Equal(int64(2)))
		Expect(got.Status.LastRun.Name).To(Equal(job.Name))
		Expect(got.Status.LastRun.Trigger).To(Equal(quarksv1alpha1.RunTriggerConfigChange))
		Expect(got.Status.LastRun.Generation).To(Equal(got.Generation-1), "the merged generation is handled; done was written back after it")
		Eventually(func() string {
			c := meta.FindStatusCondition(get(qj).Status.Conditions, quarksv1alpha1.ConditionReconciling)
			if c == nil {
				return ""
			}
			return c.Reason
		}).Should(Equal(quarksv1alpha1.ReasonRunActive))
		Expect(jobCount(qj)()).To(Equal(1))

		succeeded(qj, job)
		Consistently(runCount(qj)).WithTimeout(2 * time.Second).Should(Equal(int64(2)))
		Expect(jobCount(qj)()).To(BeZero())
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
	})

	It("QJ-6: once reset during a run together with a template change gives a follow-up run", func() {
		qj, job := activeSecondRun("changed")
		Eventually(func() error {
			cur := get(qj)
			cur.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
			cur.Spec.Template.Spec.Template.Annotations = map[string]string{"example.com/rev": "2"}
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func() string {
			c := meta.FindStatusCondition(get(qj).Status.Conditions, quarksv1alpha1.ConditionReconciling)
			if c == nil {
				return ""
			}
			return c.Reason
		}).Should(Equal(quarksv1alpha1.ReasonRunQueued))
		Consistently(jobCount(qj)).WithTimeout(time.Second).Should(Equal(1))
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyOnce))

		finishJob(job, true) // the follow-up run starts at once
		third := runJob(qj, 3)
		Expect(third.Spec.Template.Annotations).To(HaveKeyWithValue("example.com/rev", "2"))
		Expect(get(qj).Status.LastRun.Trigger).To(Equal(quarksv1alpha1.RunTriggerOnce))
		Eventually(strategy(qj)).Should(Equal(quarksv1alpha1.StrategyDone))
		succeeded(qj, third)
		Consistently(runCount(qj)).WithTimeout(2 * time.Second).Should(Equal(int64(3)))
		Expect(eventReasons(ns, qj.Name)).NotTo(ContainElement(EventTriggerMerged))
	})

	It("QJ-3, QJ-6: now during a run of the same spec and data still gives its follow-up run", func() {
		qj, job := activeSecondRun("explicit")
		setStrategy(qj, quarksv1alpha1.StrategyNow)
		Consistently(jobCount(qj)).WithTimeout(time.Second).Should(Equal(1))
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyNow))

		finishJob(job, true) // the follow-up run starts at once
		third := runJob(qj, 3)
		Expect(get(qj).Status.LastRun.Trigger).To(Equal(quarksv1alpha1.RunTriggerNow))
		Eventually(strategy(qj)).Should(Equal(quarksv1alpha1.StrategyManual))
		succeeded(qj, third)
		Consistently(runCount(qj)).WithTimeout(2 * time.Second).Should(Equal(int64(3)))
		Expect(eventReasons(ns, qj.Name)).NotTo(ContainElement(EventTriggerMerged))
	})

	It("QJ-F3: a handled once whose write-back was lost is only written back", func() {
		qj := newQJ("lostwriteback", quarksv1alpha1.StrategyOnce, corev1.PodSpec{})
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		succeeded(qj, runJob(qj, 1))
		Eventually(strategy(qj)).Should(Equal(quarksv1alpha1.StrategyDone))

		stop()
		setStrategy(qj, quarksv1alpha1.StrategyOnce)
		cur := get(qj)
		cur.Status.LastRun.Generation = cur.Generation // handled, as if the write-back had failed
		Expect(k8sClient.Status().Update(ctx, cur)).To(Succeed())
		stop = startQuarksJobController(ns)

		Eventually(strategy(qj)).Should(Equal(quarksv1alpha1.StrategyDone))
		Consistently(runCount(qj)).WithTimeout(2 * time.Second).Should(Equal(int64(1)))
		Expect(jobCount(qj)()).To(BeZero())
	})

	It("QJ-F10: a Job with several completions succeeds by its Complete condition", func() {
		qj := newQJ("completions", quarksv1alpha1.StrategyOnce, corev1.PodSpec{})
		qj.Spec.Template.Spec.Completions = new(int32(3))
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		job := runJob(qj, 1)
		now := metav1.Now()
		job.Status.StartTime, job.Status.CompletionTime, job.Status.Succeeded = &now, &now, 3
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: now},
		}
		Expect(k8sClient.Status().Update(ctx, job)).To(Succeed())
		Eventually(func() quarksv1alpha1.RunResult { return get(qj).Status.LastRun.Result }).Should(Equal(quarksv1alpha1.RunResultSucceeded))
	})
})
