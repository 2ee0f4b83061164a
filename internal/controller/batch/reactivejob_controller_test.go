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
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// readmeReactiveJob is the upstream README example.
func readmeReactiveJob(namespace, name string) *batchv1alpha1.ReactiveJob {
	return &batchv1alpha1.ReactiveJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       batchv1alpha1.ReactiveJobSpec{JobTemplate: *readmeTemplate()},
	}
}

var _ = Describe("ReactiveJob controller", func() {
	var (
		ns   string
		stop func()
	)

	BeforeEach(func() {
		ns = newNamespace("rj-")
		stop = startReactiveJobController(ns)
		DeferCleanup(func() { stop() })
	})

	get := func(rj *batchv1alpha1.ReactiveJob) *batchv1alpha1.ReactiveJob {
		out := &batchv1alpha1.ReactiveJob{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(rj), out)).To(Succeed())
		return out
	}
	jobsOf := func(rj *batchv1alpha1.ReactiveJob) []batchv1.Job {
		var list batchv1.JobList
		ExpectWithOffset(1, k8sClient.List(ctx, &list, client.InNamespace(rj.Namespace),
			client.MatchingLabels{batchv1alpha1.ReactiveJobControllerNameLabel: rj.Name})).To(Succeed())
		return list.Items
	}
	// currentJob waits until the status names a Job for the object's generation and returns it.
	currentJob := func(rj *batchv1alpha1.ReactiveJob) *batchv1.Job {
		job := &batchv1.Job{}
		EventuallyWithOffset(1, func(g Gomega) {
			got := get(rj)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.CurrentJobName).NotTo(BeEmpty())
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: rj.Namespace, Name: got.Status.CurrentJobName}, job)).To(Succeed())
		}).Should(Succeed())
		return job
	}
	update := func(rj *batchv1alpha1.ReactiveJob, mutate func(*batchv1alpha1.ReactiveJob)) {
		EventuallyWithOffset(1, func() error {
			cur := get(rj)
			mutate(cur)
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
	}
	readyCondition := func(rj *batchv1alpha1.ReactiveJob) *metav1.Condition {
		return meta.FindStatusCondition(get(rj).Status.Conditions, status.TypeReady)
	}

	It("RJ-25 reports InProgress before the first reconcile", func() {
		stop()
		rj := readmeReactiveJob(ns, "unobserved")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		Expect(get(rj).Status.ObservedGeneration).To(Equal(int64(-1)))
		Expect(kstatusOf(get(rj))).To(Equal(kstatus.InProgressStatus))
		stop = startReactiveJobController(ns)
		currentJob(rj)
	})

	It("RJ-2, RJ-7, RJ-S1: creates one Job of the §1.6 shape and reports it in the same status write", func() {
		rj := readmeReactiveJob(ns, "test")
		rj.Spec.JobTemplate.Labels = map[string]string{"app": "demo", batchv1alpha1.ReactiveJobControllerNameLabel: "spoofed"}
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		job := currentJob(rj)
		wantHash, err := canonicalTemplateHash(&get(rj).Spec.JobTemplate)
		Expect(err).NotTo(HaveOccurred())

		got := get(rj)
		Expect(got.Finalizers).To(ContainElement(batchv1alpha1.ReactiveJobFinalizer))
		Expect(got.Status.State).To(Equal(batchv1alpha1.ReactiveJobStateProcessing))
		Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReady)).To(PointTo(And(
			HaveField("Status", metav1.ConditionUnknown), HaveField("Reason", "Processing"),
			HaveField("Message", "waiting for job to complete"))))
		Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReconciling)).To(PointTo(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", "JobActive"))))
		Expect(kstatusOf(got)).To(Equal(kstatus.InProgressStatus))

		Expect(job.Name).To(MatchRegexp(`^test-[bcdfghjklmnpqrstvwxz2456789]{5}$`))
		Expect(job.Name).To(Equal(reactiveJobJobName(got, 1, 0)))
		Expect(job.Annotations).To(HaveKeyWithValue(batchv1alpha1.ReactiveJobRunAnnotation, "1"))
		Expect(got.Status.RunCount).To(Equal(int64(1)))
		Expect(job.Labels).To(HaveKeyWithValue("app", "demo"))
		Expect(job.Labels).To(HaveKeyWithValue(batchv1alpha1.ReactiveJobControllerNameLabel, "test"))
		Expect(job.Labels).To(HaveKeyWithValue(batchv1alpha1.ReactiveJobControllerUIDLabel, string(got.UID)))
		Expect(job.Annotations).To(HaveKeyWithValue("digest", "abc123"))
		Expect(job.Annotations).To(HaveKeyWithValue(batchv1alpha1.ReactiveJobGenerationAnnotation, "1"))
		Expect(job.Annotations).To(HaveKeyWithValue(batchv1alpha1.ReactiveJobTemplateHashAnnotation, wantHash))
		Expect(job.Annotations).To(HaveKey(batchv1alpha1.ReactiveJobLegacyHashAnnotation))
		Expect(job.Finalizers).To(BeEmpty())
		Expect(metav1.GetControllerOf(job)).To(PointTo(And(HaveField("Kind", "ReactiveJob"), HaveField("UID", got.UID))))
		Expect(job.Spec.Template.Spec.Containers[0].Command).To(Equal([]string{"sleep", "10"}))
		Expect(eventReasons(ns, "test")).To(ContainElement(EventJobCreated))
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Second).Should(HaveLen(1))
	})

	It("RJ-8, RJ-12, RJ-25: a completed Job makes it Ready and Current, and kubectl wait succeeds", func() {
		rj := readmeReactiveJob(ns, "test")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		job := currentJob(rj)
		startJob(job)
		Eventually(func() int32 { return get(rj).Status.Active }).Should(Equal(int32(1)))
		finishJob(job, true)

		Eventually(func() batchv1alpha1.ReactiveJobState { return get(rj).Status.State }).Should(Equal(batchv1alpha1.ReactiveJobStateReady))
		got := get(rj)
		Expect(readyCondition(rj)).To(PointTo(And(HaveField("Status", metav1.ConditionTrue), HaveField("Reason", "Ready"),
			HaveField("Message", "CompletionsReached: Reached expected number of succeeded pods"))))
		Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReconciling)).To(BeNil())
		Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled)).To(BeNil())
		Expect(got.Status.Succeeded).To(Equal(int32(1)))
		Expect(got.Status.Active).To(BeZero())
		Expect(got.Status.CompletionTime).NotTo(BeNil())
		Expect(kstatusOf(got)).To(Equal(kstatus.CurrentStatus))
		Expect(eventReasons(ns, "test")).To(ContainElement(EventJobSucceeded))

		out, err := kubectl("wait", "-n", ns, "reactivejobs.batch.cs.sap.com/test", "--for=condition=Ready", "--timeout=30s")
		Expect(err).NotTo(HaveOccurred(), out)
	})

	It("RJ-9, RJ-S2: a failed Job makes it Error and Stalled, which kstatus reads as Failed", func() {
		rj := readmeReactiveJob(ns, "fails")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		finishJob(currentJob(rj), false)

		Eventually(func() kstatus.Status { return kstatusOf(get(rj)) }).Should(Equal(kstatus.FailedStatus))
		got := get(rj)
		Expect(got.Status.State).To(Equal(batchv1alpha1.ReactiveJobStateError))
		Expect(readyCondition(rj)).To(PointTo(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", "Error"),
			HaveField("Message", "BackoffLimitExceeded: Job has reached the specified backoff limit"))))
		Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled)).To(PointTo(HaveField("Reason", "JobFailed")))
		Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReconciling)).To(BeNil())
		Expect(eventReasons(ns, "fails")).To(ContainElement(EventJobFailed))
	})

	It("RJ-11: a suspended Job is reported as suspended", func() {
		rj := readmeReactiveJob(ns, "suspended")
		rj.Spec.JobTemplate.Spec.Suspend = new(true)
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		job := currentJob(rj)
		Eventually(func(g Gomega) {
			got := get(rj)
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReconciling)).To(PointTo(HaveField("Reason", "JobSuspended")))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReady)).To(PointTo(
				HaveField("Message", fmt.Sprintf("job %s is suspended", job.Name))))
		}).Should(Succeed())
	})

	It("RJ-3, RJ-4, RJ-5, RJ-S4: labels, annotations and a template-neutral spec change create no Job", func() {
		rj := readmeReactiveJob(ns, "stable")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		finishJob(currentJob(rj), true)
		Eventually(func() batchv1alpha1.ReactiveJobState { return get(rj).Status.State }).Should(Equal(batchv1alpha1.ReactiveJobStateReady))
		rv := get(rj).ResourceVersion

		update(rj, func(o *batchv1alpha1.ReactiveJob) {
			o.Labels = map[string]string{"team": "a"}
			o.Annotations = map[string]string{"note": "x"}
		})
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.SuccessfulJobsHistoryLimit = new(int32(5)) })
		Eventually(func() int64 { return get(rj).Status.ObservedGeneration }).Should(Equal(int64(2)))
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(2 * time.Second).Should(HaveLen(1))
		Expect(kstatusOf(get(rj))).To(Equal(kstatus.CurrentStatus))
		Expect(get(rj).ResourceVersion).NotTo(Equal(rv))
	})

	It("RJ-6, RJ-14, RJ-S3: a template change creates exactly one Job for the new generation and leaves the old one", func() {
		rj := readmeReactiveJob(ns, "change")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		first := currentJob(rj)
		startJob(first)

		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.JobTemplate.Annotations["digest"] = "def456" })
		Eventually(func() string { return get(rj).Status.CurrentJobName }).ShouldNot(Equal(first.Name))
		second := currentJob(rj)
		Expect(second.Annotations).To(HaveKeyWithValue("digest", "def456"))
		Expect(second.Annotations).To(HaveKeyWithValue(batchv1alpha1.ReactiveJobGenerationAnnotation, "2"))
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(2 * time.Second).Should(HaveLen(2))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(first), first)).To(Succeed())
		Expect(first.DeletionTimestamp).To(BeNil())
	})

	It("RJ-12, RJ-S9: a finished current Job that disappears leaves it Ready and creates nothing", func() {
		rj := readmeReactiveJob(ns, "ttl")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		job := currentJob(rj)
		finishJob(job, true)
		Eventually(func() batchv1alpha1.ReactiveJobState { return get(rj).Status.State }).Should(Equal(batchv1alpha1.ReactiveJobStateReady))
		Expect(k8sClient.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		Eventually(func() []batchv1.Job { return jobsOf(rj) }).Should(BeEmpty())
		Consistently(func(g Gomega) {
			g.Expect(jobsOf(rj)).To(BeEmpty())
			g.Expect(get(rj).Status.State).To(Equal(batchv1alpha1.ReactiveJobStateReady))
		}).WithTimeout(2 * time.Second).Should(Succeed())
		Expect(kstatusOf(get(rj))).To(Equal(kstatus.CurrentStatus))

		By("a later template-neutral generation change still creates nothing")
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.FailedJobsHistoryLimit = new(int32(1)) })
		Eventually(func() int64 { return get(rj).Status.ObservedGeneration }).Should(Equal(int64(2)))
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Second).Should(BeEmpty())

		By("a template change runs again")
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.JobTemplate.Annotations["digest"] = "new" })
		Eventually(func() []batchv1.Job { return jobsOf(rj) }).Should(HaveLen(1))
	})

	It("RJ-12: an unfinished current Job that disappears stalls with JobDeleted, and a rerun starts a new one", func() {
		rj := readmeReactiveJob(ns, "deleted")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		job := currentJob(rj)
		Expect(k8sClient.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		Eventually(func(g Gomega) {
			got := get(rj)
			g.Expect(got.Status.State).To(Equal(batchv1alpha1.ReactiveJobStateError))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled)).To(PointTo(HaveField("Reason", "JobDeleted")))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.FailedStatus))
		}).Should(Succeed())
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Second).Should(BeEmpty())

		update(rj, func(o *batchv1alpha1.ReactiveJob) {
			o.Annotations = map[string]string{batchv1alpha1.ReactiveJobRerunAnnotation: "again"}
		})
		Eventually(func() []batchv1.Job { return jobsOf(rj) }).Should(HaveLen(1))
	})

	It("RJ-15, RJ-S6: under Forbid, changes during an active Job give one Job from the latest template after it ends", func() {
		rj := readmeReactiveJob(ns, "forbid")
		rj.Spec.ConcurrencyPolicy = batchv1alpha1.ForbidConcurrent
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		first := currentJob(rj)
		startJob(first)

		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.JobTemplate.Annotations["digest"] = "second" })
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.JobTemplate.Annotations["digest"] = "third" })
		Eventually(func(g Gomega) {
			got := get(rj)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReconciling)).To(PointTo(HaveField("Reason", "WaitingForActiveJob")))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.InProgressStatus))
		}).Should(Succeed())
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Second).Should(HaveLen(1))
		Expect(eventReasons(ns, "forbid")).To(ContainElement(EventRunQueued))

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(first), first)).To(Succeed())
		finishJob(first, true)
		Eventually(func() []batchv1.Job { return jobsOf(rj) }).Should(HaveLen(2))
		Eventually(func() string { return get(rj).Status.CurrentJobName }).ShouldNot(Equal(first.Name))
		next := currentJob(rj)
		Expect(next.Annotations).To(HaveKeyWithValue("digest", "third"))
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Second).Should(HaveLen(2))
	})

	It("RJ-16, RJ-S7: under Replace, the active old Job is deleted and the new one created", func() {
		rj := readmeReactiveJob(ns, "replace")
		rj.Spec.ConcurrencyPolicy = batchv1alpha1.ReplaceConcurrent
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		first := currentJob(rj)
		startJob(first)
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.JobTemplate.Annotations["digest"] = "next" })
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(first), &batchv1.Job{}))
		}).Should(BeTrue())
		Expect(currentJob(rj).Annotations).To(HaveKeyWithValue("digest", "next"))
		Expect(eventReasons(ns, "replace")).To(ContainElement(EventJobReplaced))
	})

	It("RJ-17, RJ-S8, RJ-X13: each new rerun token gives exactly one Job", func() {
		rj := readmeReactiveJob(ns, "rerun")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		finishJob(currentJob(rj), true)
		setRerun := func(token string) {
			update(rj, func(o *batchv1alpha1.ReactiveJob) {
				o.Annotations = map[string]string{batchv1alpha1.ReactiveJobRerunAnnotation: token}
			})
		}
		setRerun("")
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Second).Should(HaveLen(1))
		setRerun("a")
		Eventually(func() []batchv1.Job { return jobsOf(rj) }).Should(HaveLen(2))
		Eventually(func() string { return get(rj).Status.LastHandledRerun }).Should(Equal("a"))
		Expect(currentJob(rj).Annotations).To(HaveKeyWithValue(batchv1alpha1.ReactiveJobRerunAnnotation, "a"))
		Expect(get(rj).Status.LastHandledRerun).To(Equal("a"))
		setRerun("a")
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Second).Should(HaveLen(2))
		setRerun("b")
		Eventually(func() []batchv1.Job { return jobsOf(rj) }).Should(HaveLen(3))
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Second).Should(HaveLen(3))
		Expect(eventReasons(ns, "rerun")).To(ContainElement(EventRerunRequested))
	})

	It("RJ-18: finished Jobs beyond the history limit are pruned, the current one never", func() {
		rj := readmeReactiveJob(ns, "history")
		rj.Spec.SuccessfulJobsHistoryLimit = new(int32(1))
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		var names []string
		for i := range 3 {
			job := currentJob(rj)
			names = append(names, job.Name)
			finishJobAt(job, true, metav1.NewTime(time.Now().Add(time.Duration(i-10)*time.Minute)))
			Eventually(func() batchv1alpha1.ReactiveJobState { return get(rj).Status.State }).Should(Equal(batchv1alpha1.ReactiveJobStateReady))
			if i < 2 {
				update(rj, func(o *batchv1alpha1.ReactiveJob) {
					o.Annotations = map[string]string{batchv1alpha1.ReactiveJobRerunAnnotation: fmt.Sprint(i)}
				})
				Eventually(func() string { return get(rj).Status.CurrentJobName }).ShouldNot(Equal(job.Name))
			}
		}
		Eventually(func() []string {
			var out []string
			for _, j := range jobsOf(rj) {
				out = append(out, j.Name)
			}
			return out
		}).Should(ConsistOf(names[1], names[2]))
		Expect(eventReasons(ns, "history")).To(ContainElement(EventJobsPruned))
	})

	It("RJ-19, RJ-20, RJ-S5: adopts an upstream Job of the current generation without running again", func() {
		stop()
		rj := readmeReactiveJob(ns, "upgrade")
		rj.Finalizers = []string{batchv1alpha1.ReactiveJobFinalizer}
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		legacy := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{
				Name: "upgrade-abcde", Namespace: ns,
				Labels: map[string]string{
					batchv1alpha1.ReactiveJobControllerUIDLabel:  string(rj.UID),
					batchv1alpha1.ReactiveJobControllerNameLabel: rj.Name,
				},
				Annotations: map[string]string{
					batchv1alpha1.ReactiveJobGenerationAnnotation: "1",
					batchv1alpha1.ReactiveJobLegacyHashAnnotation: "7a4e8d3e61655baaadccfb8261f96e35882da6bbda13ee98e5cb50c51446a6f0",
				},
				Finalizers: []string{batchv1alpha1.ReactiveJobFinalizer},
			},
			Spec: *rj.Spec.JobTemplate.Spec.DeepCopy(),
		}
		Expect(k8sClient.Create(ctx, legacy)).To(Succeed())
		foreign := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{
				Name: "upgrade-zzzzz", Namespace: ns,
				Labels: map[string]string{batchv1alpha1.ReactiveJobControllerNameLabel: rj.Name,
					batchv1alpha1.ReactiveJobControllerUIDLabel: "another-uid"},
				Annotations: map[string]string{batchv1alpha1.ReactiveJobGenerationAnnotation: "1"},
			},
			Spec: *rj.Spec.JobTemplate.Spec.DeepCopy(),
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())

		stop = startReactiveJobController(ns)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(legacy), legacy)).To(Succeed())
			g.Expect(legacy.Finalizers).NotTo(ContainElement(batchv1alpha1.ReactiveJobFinalizer))
			g.Expect(metav1.GetControllerOf(legacy)).To(PointTo(HaveField("UID", rj.UID)))
			g.Expect(get(rj).Status.CurrentJobName).To(Equal("upgrade-abcde"))
		}).Should(Succeed())
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(2 * time.Second).Should(HaveLen(2))
		Expect(eventReasons(ns, "upgrade")).To(ContainElement(EventJobAdopted))

		By("RJ-X12: the Job with another UID is left alone")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), foreign)).To(Succeed())
		Expect(metav1.GetControllerOf(foreign)).To(BeNil())
		Expect(foreign.DeletionTimestamp).To(BeNil())
	})

	It("RJ-F9, RJ-X11: a Job with a non-numeric generation is ignored with a Warning and no panic", func() {
		rj := readmeReactiveJob(ns, "badgen")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		job := currentJob(rj)
		bad := job.DeepCopy()
		bad.ResourceVersion, bad.Name, bad.UID = "", "badgen-zzzzz", ""
		bad.Annotations = maps.Clone(job.Annotations)
		bad.Annotations[batchv1alpha1.ReactiveJobGenerationAnnotation] = "abc"
		bad.Spec.Selector, bad.Spec.Template.Labels = nil, nil
		bad.Spec.ManualSelector = nil
		Expect(k8sClient.Create(ctx, bad)).To(Succeed())
		Eventually(func() []string { return eventReasons(ns, "badgen") }).Should(ContainElement(EventInvalidJobAnnotation))
		Expect(get(rj).Status.CurrentJobName).To(Equal(job.Name))
	})

	It("RJ-S10: after a restart between Job creation and the status write, the same Job is adopted", func() {
		stop()
		rj := readmeReactiveJob(ns, "restart")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rj), rj)).To(Succeed())
		hash, err := canonicalTemplateHash(&rj.Spec.JobTemplate)
		Expect(err).NotTo(HaveOccurred())
		legacy, err := legacyTemplateHash(&rj.Spec.JobTemplate)
		Expect(err).NotTo(HaveOccurred())
		crashed := buildReactiveJobJob(rj, reactiveJobJobName(rj, 1, 0), 1, "", hash, legacy)
		Expect(k8sClient.Create(ctx, crashed)).To(Succeed())

		stop = startReactiveJobController(ns)
		Expect(currentJob(rj).Name).To(Equal(crashed.Name))
		Consistently(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(2 * time.Second).Should(HaveLen(1))
		Eventually(func() int64 { return get(rj).Status.RunCount }).Should(Equal(int64(1)), "the run is counted")

		By("the next run after that restart gets a Job of its own")
		finishJob(currentJob(rj), true)
		update(rj, func(o *batchv1alpha1.ReactiveJob) {
			o.Annotations = map[string]string{batchv1alpha1.ReactiveJobRerunAnnotation: "after-restart"}
		})
		Eventually(func() []batchv1.Job { return jobsOf(rj) }).Should(HaveLen(2))
		// The Job is created before the status write that counts its run.
		Eventually(func() int64 { return get(rj).Status.RunCount }).Should(Equal(int64(2)))
	})

	It("RJ-21, RJ-22, RJ-S11: deletion removes the Jobs first, and foreign finalizers show DeletionBlocked", func() {
		rj := readmeReactiveJob(ns, "delete")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		job := currentJob(rj)
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Finalizers = append(o.Finalizers, "example.com/hold") })
		Expect(k8sClient.Delete(ctx, rj)).To(Succeed())
		Expect(kstatusOf(get(rj))).To(Equal(kstatus.TerminatingStatus))

		// Foreground deletion waits for the garbage collector, which envtest does not run.
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
			g.Expect(job.DeletionTimestamp).NotTo(BeNil())
			g.Expect(get(rj).Status.State).To(Equal(batchv1alpha1.ReactiveJobStateDeleting))
		}).Should(Succeed())
		Eventually(func() error {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
				return client.IgnoreNotFound(err)
			}
			job.Finalizers = nil
			return k8sClient.Update(ctx, job)
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			got := get(rj)
			g.Expect(got.Status.State).To(Equal(batchv1alpha1.ReactiveJobStateDeletionBlocked))
			g.Expect(got.Finalizers).To(ConsistOf("example.com/hold"))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReady)).To(PointTo(
				HaveField("Message", "Deletion blocked due to foreign finalizers")))
		}).Should(Succeed())
		update(rj, func(o *batchv1alpha1.ReactiveJob) { controllerutil.RemoveFinalizer(o, "example.com/hold") })
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(rj), &batchv1alpha1.ReactiveJob{}))
		}).Should(BeTrue())
	})

	It("RJ-X6, RJ-25: without the webhook, an invalid template stalls with InvalidJobTemplate", func() {
		rj := readmeReactiveJob(ns, "invalid")
		rj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image = ""
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		Eventually(func(g Gomega) {
			got := get(rj)
			g.Expect(got.Status.State).To(Equal(batchv1alpha1.ReactiveJobStateError))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled)).To(PointTo(HaveField("Reason", "InvalidJobTemplate")))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.FailedStatus))
		}).Should(Succeed())
		Expect(eventReasons(ns, "invalid")).To(ContainElement(EventCreateJobFailed))
	})

	It("RJ-X10: a refused creation stalls with JobCreationForbidden and is retried until it succeeds", func() {
		stop()
		user := "rj-x10-" + ns
		role := bindRole(user, user, func(r *rbacv1.ClusterRole) {
			for i := range r.Rules {
				if slices.Contains(r.Rules[i].Resources, "jobs") {
					r.Rules[i].Verbs = slices.DeleteFunc(r.Rules[i].Verbs, func(v string) bool { return v == "create" })
				}
			}
		})
		stop = startReactiveJobControllerAs(ns, userConfig(user))
		rj := readmeReactiveJob(ns, "refused")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		Eventually(func(g Gomega) {
			got := get(rj)
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled)).To(
				PointTo(HaveField("Reason", "JobCreationForbidden")), "status: %+v", got.Status)
			g.Expect(got.Status.State).To(Equal(batchv1alpha1.ReactiveJobStateError))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.FailedStatus))
		}).Should(Succeed())
		Expect(eventReasons(ns, "refused")).To(ContainElement(EventCreateJobFailed))

		By("granting the permission, the retry with backoff creates the Job and clears Stalled")
		Expect(k8sClient.Delete(ctx, role)).To(Succeed())
		bindRole(user+"-full", user, nil)
		Eventually(func() []batchv1.Job { return jobsOf(rj) }).WithTimeout(time.Minute).Should(HaveLen(1))
		Eventually(func() *metav1.Condition {
			return meta.FindStatusCondition(get(rj).Status.Conditions, status.TypeStalled)
		}).Should(BeNil())
	})

	It("RJ-28: counts finished runs and active Jobs, and drops the series with the object", func() {
		rj := readmeReactiveJob(ns, "metrics")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		job := currentJob(rj)
		startJob(job)
		Eventually(func() float64 {
			return testutil.ToFloat64(reactiveJobKind.Active.WithLabelValues(ns, "metrics"))
		}).Should(Equal(1.0))
		finishJob(job, true)
		Eventually(func() float64 {
			return testutil.ToFloat64(reactiveJobKind.Runs.WithLabelValues(ns, "metrics", "succeeded"))
		}).Should(Equal(1.0))
		Expect(testutil.ToFloat64(reactiveJobKind.Active.WithLabelValues(ns, "metrics"))).To(Equal(0.0))

		Expect(k8sClient.Delete(ctx, rj)).To(Succeed())
		// envtest runs no garbage collector: once the controller has deleted the Job
		// (foreground), its foregroundDeletion finalizer is removed here.
		Eventually(func() error {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
				return client.IgnoreNotFound(err)
			}
			if job.DeletionTimestamp == nil {
				return fmt.Errorf("job %s is not being deleted yet", job.Name)
			}
			job.Finalizers = nil
			return k8sClient.Update(ctx, job)
		}).Should(Succeed())
		Eventually(func() int {
			return testutil.CollectAndCount(reactiveJobKind.Runs, "jobkeeper_reactivejob_runs_total") -
				countOtherSeries(ns)
		}).Should(BeZero())
	})

	It("RJ-X8: a 60-character name gives a Job named with its first 57 characters", func() {
		rj := readmeReactiveJob(ns, strings.Repeat("x", 60))
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		Expect(currentJob(rj).Name).To(MatchRegexp(`^x{57}-[a-z0-9]{5}$`))
	})

	// uids returns the UIDs of the object's Jobs: a Job deleted and created
	// again under the same name counts twice.
	uids := func(rj *batchv1alpha1.ReactiveJob) []string {
		var out []string
		for _, j := range jobsOf(rj) {
			out = append(out, string(j.UID))
		}
		return out
	}

	It("a rerun token used before (a, b, a, as a revert in Git) is a new request: 4 Jobs, 4 runs", func() {
		rj := readmeReactiveJob(ns, "revert")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		seen := map[string]bool{}
		finish := func() {
			job := currentJob(rj)
			seen[string(job.UID)] = true
			finishJob(job, true)
			Eventually(func() batchv1alpha1.ReactiveJobState { return get(rj).Status.State }).Should(Equal(batchv1alpha1.ReactiveJobStateReady))
		}
		finish()
		for i, token := range []string{"a", "b", "a"} {
			update(rj, func(o *batchv1alpha1.ReactiveJob) {
				o.Annotations = map[string]string{batchv1alpha1.ReactiveJobRerunAnnotation: token}
			})
			Eventually(func() int64 { return get(rj).Status.RunCount }).Should(Equal(int64(i + 2)))
			finish()
		}
		Expect(seen).To(HaveLen(4))
		Expect(uids(rj)).To(HaveLen(4))
		Consistently(func() []string { return uids(rj) }).WithTimeout(2 * time.Second).Should(HaveLen(4))
		Expect(get(rj).Status.LastHandledRerun).To(Equal("a"))
	})

	It("under Replace, a reconcile that reads its own object before its status write deletes and recreates nothing", func() {
		rj := readmeReactiveJob(ns, "stale")
		rj.Spec.ConcurrencyPolicy = batchv1alpha1.ReplaceConcurrent
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		first := currentJob(rj)
		stop()
		stop = func() {}

		// The replaced Job takes a while to go, as Jobs with pods do on a real cluster.
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(first), first)).To(Succeed())
		first.Finalizers = append(first.Finalizers, "test.jobkeeper.io/hold")
		Expect(k8sClient.Update(ctx, first)).To(Succeed())
		DeferCleanup(func() {
			j := &batchv1.Job{}
			if k8sClient.Get(ctx, client.ObjectKeyFromObject(first), j) == nil {
				j.Finalizers = nil
				Expect(k8sClient.Update(ctx, j)).To(Succeed())
			}
		})

		// A reconciler whose client serves a copy of the object older than its own
		// last status write, as an informer does for a moment after the write.
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.JobTemplate.Annotations["digest"] = "next" })
		beforeWrite := get(rj)
		r, rc := newStaleReactiveJobReconciler(beforeWrite)
		_, err := r.Reconcile(ctx, reconcileRequest(rj))
		Expect(err).NotTo(HaveOccurred())
		Expect(get(rj).Status.RunCount).To(Equal(int64(2)))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(first), first)).To(Succeed())
		Expect(first.DeletionTimestamp).NotTo(BeNil(), "the replaced Job is being deleted")
		after := uids(rj)
		Expect(after).To(HaveLen(2))

		// The Job-add event's reconcile reads the copy from before the status write.
		rc.Serve(beforeWrite)
		_, err = r.Reconcile(ctx, reconcileRequest(rj))
		Expect(err).NotTo(HaveOccurred())
		Expect(uids(rj)).To(Equal(after), "the new Job is neither replaced nor created again")
		Expect(get(rj).Status.RunCount).To(Equal(int64(2)))
		Expect(eventReasons(ns, "stale")).NotTo(ContainElement(EventJobReplaced))
	})

	It("a Job being deleted under the name of the next run is never taken for that run", func() {
		stop()
		rj := readmeReactiveJob(ns, "dying")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rj), rj)).To(Succeed())
		hash, err := canonicalTemplateHash(&rj.Spec.JobTemplate)
		Expect(err).NotTo(HaveOccurred())
		dying := buildReactiveJobJob(rj, reactiveJobJobName(rj, 1, 0), 1, "", hash, "")
		dying.Finalizers = []string{"test.jobkeeper.io/hold"}
		Expect(k8sClient.Create(ctx, dying)).To(Succeed())
		Expect(k8sClient.Delete(ctx, dying)).To(Succeed())

		stop = startReactiveJobController(ns)
		job := currentJob(rj)
		Expect(job.UID).NotTo(Equal(dying.UID))
		Expect(job.Name).To(Equal(reactiveJobJobName(rj, 1, 1)))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dying), dying)).To(Succeed())
		dying.Finalizers = nil
		Expect(k8sClient.Update(ctx, dying)).To(Succeed())
	})

	It("after migration, a spec change that leaves the template alone runs nothing once the adopted Job is gone", func() {
		stop() // the upstream operator stopped; jobkeeper starts over its objects
		stop = func() {}
		for _, legacyEncoding := range []int{0, 1} {
			name := fmt.Sprintf("migrated-%d", legacyEncoding)
			rj := readmeReactiveJob(ns, name)
			rj.Finalizers = []string{batchv1alpha1.ReactiveJobFinalizer}
			Expect(k8sClient.Create(ctx, rj)).To(Succeed())
			hashes, err := legacyTemplateHashes(&rj.Spec.JobTemplate)
			Expect(err).NotTo(HaveOccurred())
			upstream := &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{
					Name: name + "-abcde", Namespace: ns,
					Labels: map[string]string{
						batchv1alpha1.ReactiveJobControllerUIDLabel:  string(rj.UID),
						batchv1alpha1.ReactiveJobControllerNameLabel: rj.Name,
					},
					Annotations: map[string]string{
						batchv1alpha1.ReactiveJobGenerationAnnotation: "1",
						batchv1alpha1.ReactiveJobLegacyHashAnnotation: hashes[legacyEncoding],
					},
				},
				Spec: *rj.Spec.JobTemplate.Spec.DeepCopy(),
			}
			Expect(k8sClient.Create(ctx, upstream)).To(Succeed())
			finishJob(upstream, true)
			stop = startReactiveJobController(ns)
			Eventually(func() string { return get(rj).Status.CurrentJobName }).Should(Equal(upstream.Name))
			Eventually(func() batchv1alpha1.ReactiveJobState { return get(rj).Status.State }).Should(Equal(batchv1alpha1.ReactiveJobStateReady))

			// TTL removes the adopted Job; then a change that leaves jobTemplate alone.
			Expect(k8sClient.Delete(ctx, upstream, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
			Eventually(func() []string { return uids(rj) }).Should(BeEmpty())
			update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.ConcurrencyPolicy = batchv1alpha1.ForbidConcurrent })
			Eventually(func() int64 { g := get(rj); return g.Status.ObservedGeneration - g.Generation }).Should(BeZero())
			Consistently(func() []string { return uids(rj) }).WithTimeout(2 * time.Second).Should(BeEmpty())
			Expect(get(rj).Status.RunCount).To(BeZero())
			Expect(eventReasons(ns, name)).NotTo(ContainElement(EventJobCreated))
			stop()
			stop = func() {}
		}
	})

	It("a transient error on a new generation does not carry Ready=True over to it", func() {
		rj := readmeReactiveJob(ns, "transient")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		finishJob(currentJob(rj), true)
		Eventually(readyCondition).WithArguments(rj).Should(PointTo(HaveField("Status", metav1.ConditionTrue)))
		stop()

		// A labelled Job without a controller is to be adopted, and the patch
		// that adopts it fails: a transient error on the new generation.
		orphan := currentJob(rj).DeepCopy()
		orphan.ObjectMeta = metav1.ObjectMeta{Name: "transient-orphan", Namespace: ns,
			Labels: orphan.Labels, Annotations: orphan.Annotations}
		orphan.Spec.Selector, orphan.Spec.Template.Labels, orphan.Spec.ManualSelector = nil, nil, nil
		delete(orphan.Spec.Template.Labels, "batch.kubernetes.io/controller-uid")
		Expect(k8sClient.Create(ctx, orphan)).To(Succeed())
		user := "rj-transient-" + ns
		bindRole(user, user, func(r *rbacv1.ClusterRole) {
			for i := range r.Rules {
				if slices.Contains(r.Rules[i].Resources, "jobs") {
					r.Rules[i].Verbs = slices.DeleteFunc(r.Rules[i].Verbs, func(v string) bool { return v == "patch" })
				}
			}
		})
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Spec.JobTemplate.Annotations["digest"] = "transient" })
		stop = startReactiveJobControllerAs(ns, userConfig(user))
		Eventually(func(g Gomega) {
			got := get(rj)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReconciling)).To(
				PointTo(HaveField("Reason", batchv1alpha1.ReactiveJobReasonRetryingAfterError)))
		}).Should(Succeed())
		got := get(rj)
		Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReady)).To(PointTo(HaveField("Status", metav1.ConditionUnknown)))
		Expect(kstatusOf(got)).To(Equal(kstatus.InProgressStatus))
	})

	It("RJ-26: an idle, finished ReactiveJob is not written again", func() {
		rj := readmeReactiveJob(ns, "idle")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		finishJob(currentJob(rj), true)
		Eventually(func() batchv1alpha1.ReactiveJobState { return get(rj).Status.State }).Should(Equal(batchv1alpha1.ReactiveJobStateReady))
		// A label change is delivered to the controller's cache but must not cause a write.
		update(rj, func(o *batchv1alpha1.ReactiveJob) { o.Labels = map[string]string{"team": "a"} })
		rv := get(rj).ResourceVersion
		Consistently(func() string { return get(rj).ResourceVersion }).WithTimeout(2 * time.Second).Should(Equal(rv))
	})
})

var _ = Describe("ReactiveJob status functions", func() {
	DescribeTable("summaryForJob",
		func(job *batchv1.Job, state batchv1alpha1.ReactiveJobState, ready metav1.ConditionStatus, reconciling, stalled string) {
			s := summaryForJob(job)
			Expect(s.state).To(Equal(state))
			Expect(s.summary.Ready).To(Equal(ready))
			Expect(s.summary.ReadyReason).To(Equal(string(state)))
			if reconciling == "" {
				Expect(s.summary.Reconciling).To(BeNil())
			} else {
				Expect(s.summary.Reconciling).To(PointTo(HaveField("Reason", reconciling)))
			}
			if stalled == "" {
				Expect(s.summary.Stalled).To(BeNil())
			} else {
				Expect(s.summary.Stalled).To(PointTo(HaveField("Reason", stalled)))
			}
		},
		Entry("pending", &batchv1.Job{}, batchv1alpha1.ReactiveJobStateProcessing, metav1.ConditionUnknown, "JobActive", ""),
		Entry("only FailureTarget", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue}}}},
			batchv1alpha1.ReactiveJobStateProcessing, metav1.ConditionUnknown, "JobActive", ""),
		Entry("suspended", &batchv1.Job{Spec: batchv1.JobSpec{Suspend: new(true)}},
			batchv1alpha1.ReactiveJobStateProcessing, metav1.ConditionUnknown, "JobSuspended", ""),
		Entry("complete", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
			batchv1alpha1.ReactiveJobStateReady, metav1.ConditionTrue, "", ""),
		Entry("failed", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}}},
			batchv1alpha1.ReactiveJobStateError, metav1.ConditionFalse, "", "JobFailed"),
	)

	It("RJ-1 selects the named Job, else the highest generation, newest, greatest name", func() {
		mk := func(name, gen string, age time.Duration) *batchv1.Job {
			return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name,
				CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age)),
				Annotations:       map[string]string{batchv1alpha1.ReactiveJobGenerationAnnotation: gen}}}
		}
		jobs := []*batchv1.Job{mk("a", "2", time.Hour), mk("b", "3", 2*time.Hour), mk("c", "3", time.Hour), mk("d", "3", time.Hour)}
		Expect(selectCurrentJob("a", jobs).Name).To(Equal("a"))
		Expect(selectCurrentJob("gone", jobs).Name).To(Equal("d"))
		Expect(selectCurrentJob("", nil)).To(BeNil())
	})
})

// countOtherSeries counts the runs series of ReactiveJobs outside namespace.
func countOtherSeries(namespace string) int {
	n := 0
	ch := make(chan prometheus.Metric, 1024)
	reactiveJobKind.Runs.Collect(ch)
	close(ch)
	for m := range ch {
		var pb dto.Metric
		Expect(m.Write(&pb)).To(Succeed())
		for _, l := range pb.GetLabel() {
			if l.GetName() == "namespace" && l.GetValue() != namespace {
				n++
			}
		}
	}
	return n
}
