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
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	"github.com/prometheus/client_golang/prometheus/testutil"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

var _ = Describe("QuarksJob controller", func() {
	var (
		ns   string
		stop func()
	)

	BeforeEach(func() {
		ns = newNamespace("qj-")
		stop = startQuarksJobController(ns)
		DeferCleanup(func() { stop() })
	})

	// apply creates the objects of an upstream example manifest in ns and
	// returns the QuarksJob of it.
	apply := func(file string) *quarksv1alpha1.QuarksJob {
		data, err := os.ReadFile(filepath.Join(utils.RepoRoot(), "..", "shared", "examples", "quarks", file))
		if os.IsNotExist(err) {
			Skip("the upstream examples are not beside the repository")
		}
		Expect(err).NotTo(HaveOccurred())
		var qj *quarksv1alpha1.QuarksJob
		for _, doc := range splitYAML(data) {
			var meta metav1.TypeMeta
			Expect(yaml.Unmarshal(doc, &meta)).To(Succeed())
			var obj client.Object
			switch meta.Kind {
			case "QuarksJob":
				qj = &quarksv1alpha1.QuarksJob{}
				obj = qj
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "Secret":
				obj = &corev1.Secret{}
			default:
				Fail("unexpected kind " + meta.Kind)
			}
			Expect(yaml.UnmarshalStrict(doc, obj)).To(Succeed())
			obj.SetNamespace(ns)
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())
		}
		return qj
	}
	get := func(qj *quarksv1alpha1.QuarksJob) *quarksv1alpha1.QuarksJob {
		out := &quarksv1alpha1.QuarksJob{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(qj), out)).To(Succeed())
		return out
	}
	jobsOf := func(qj *quarksv1alpha1.QuarksJob) []batchv1.Job {
		var list batchv1.JobList
		ExpectWithOffset(1, k8sClient.List(ctx, &list, client.InNamespace(ns),
			client.MatchingLabels{quarksv1alpha1.QuarksJobNameLabel: qj.Name})).To(Succeed())
		return list.Items
	}
	// runJob waits for the Job of run n and returns it.
	runJob := func(qj *quarksv1alpha1.QuarksJob, n int64) *batchv1.Job {
		job := &batchv1.Job{}
		EventuallyWithOffset(1, func(g Gomega) {
			got := get(qj)
			g.Expect(got.Status.RunCount).To(BeNumerically(">=", n))
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: runJobName(got, n)}, job)).To(Succeed())
		}).Should(Succeed())
		return job
	}
	setStrategy := func(qj *quarksv1alpha1.QuarksJob, s quarksv1alpha1.Strategy) {
		EventuallyWithOffset(1, func() error {
			cur := get(qj)
			cur.Spec.Trigger.Strategy = s
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
	}
	condition := func(qj *quarksv1alpha1.QuarksJob, t string) *metav1.Condition {
		return meta.FindStatusCondition(get(qj).Status.Conditions, t)
	}

	It("QJ-1, QJ-17, QJ-S1: a one-off runs once, becomes done, and its succeeded Job is deleted", func() {
		qj := apply("qjob_auto-errand.yaml")
		job := runJob(qj, 1)
		Expect(job.Name).To(MatchRegexp(`^` + qj.Name + `-[0-9a-f]{16}$`))
		Eventually(func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }).Should(Equal(quarksv1alpha1.StrategyDone))
		got := get(qj)
		Expect(got.Status.LastRun).To(PointTo(MatchFields(IgnoreExtras, Fields{
			"Result": Equal(quarksv1alpha1.RunResultRunning), "Trigger": Equal(quarksv1alpha1.RunTriggerOnce),
		})))
		Expect(got.Status.Completed).To(BeFalse())
		Expect(got.Status.LastReconcile).NotTo(BeNil())
		Expect(kstatusOf(got)).To(Equal(kstatus.InProgressStatus))
		Expect(eventReasons(ns, qj.Name)).To(ContainElement(EventCreateJob))

		finishJob(job, true)
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(job), &batchv1.Job{}))
		}).Should(BeTrue())
		Eventually(func(g Gomega) {
			got := get(qj)
			g.Expect(got.Status.Completed).To(BeTrue())
			g.Expect(got.Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReady)).To(PointTo(And(
				HaveField("Status", metav1.ConditionTrue), HaveField("Reason", quarksv1alpha1.ReasonSucceeded))))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.CurrentStatus))
		}).Should(Succeed())
		Expect(eventReasons(ns, qj.Name)).To(ContainElements(EventRunSucceeded, EventDeletingJob))
		By("QJ-31: the run is counted and no run is active")
		Expect(testutil.ToFloat64(quarksJobMetrics.Runs.WithLabelValues(ns, qj.Name, "succeeded"))).To(Equal(1.0))
		Expect(testutil.ToFloat64(quarksJobMetrics.Active.WithLabelValues(ns, qj.Name))).To(Equal(0.0))
		Consistently(func() []batchv1.Job { return jobsOf(qj) }).WithTimeout(time.Second).Should(BeEmpty())
	})

	It("QJ-2, QJ-3, QJ-S2: an errand runs only when set to now, and is reset to manual", func() {
		qj := apply("qjob_errand.yaml")
		Eventually(func() *metav1.Condition { return condition(qj, status.TypeReady) }).Should(PointTo(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", quarksv1alpha1.ReasonIdle))))
		Expect(kstatusOf(get(qj))).To(Equal(kstatus.CurrentStatus))
		Consistently(func() []batchv1.Job { return jobsOf(qj) }).WithTimeout(time.Second).Should(BeEmpty())

		setStrategy(qj, quarksv1alpha1.StrategyNow)
		runJob(qj, 1)
		Eventually(func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }).Should(Equal(quarksv1alpha1.StrategyManual))
		Consistently(func() []batchv1.Job { return jobsOf(qj) }).WithTimeout(time.Second).Should(HaveLen(1))
	})

	It("QJ-6, QJ-S7: triggers during a run give exactly one follow-up run, never two at once", func() {
		qj := apply("qjob_errand.yaml")
		setStrategy(qj, quarksv1alpha1.StrategyNow)
		first := runJob(qj, 1)
		Eventually(func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }).Should(Equal(quarksv1alpha1.StrategyManual))

		setStrategy(qj, quarksv1alpha1.StrategyNow)
		Eventually(func() *metav1.Condition { return condition(qj, status.TypeReconciling) }).Should(
			PointTo(HaveField("Reason", quarksv1alpha1.ReasonRunQueued)))
		Consistently(func() []batchv1.Job { return jobsOf(qj) }).WithTimeout(time.Second).Should(HaveLen(1))
		Expect(eventReasons(ns, qj.Name)).To(ContainElement(EventRunQueued))

		finishJob(first, true)
		second := runJob(qj, 2)
		Expect(second.Name).NotTo(Equal(first.Name))
		Eventually(func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }).Should(Equal(quarksv1alpha1.StrategyManual))
		Consistently(func() int64 { return get(qj).Status.RunCount }).WithTimeout(time.Second).Should(Equal(int64(2)))
	})

	It("QJ-9, QJ-10, QJ-A9: the Job carries the template metadata, the run labels and the output volumes", func() {
		qj := apply("qjob_output.yaml")
		job := runJob(qj, 1)
		Expect(job.Labels).To(HaveKeyWithValue(quarksv1alpha1.QuarksJobNameLabel, "myfoo"))
		Expect(job.Labels).To(HaveKeyWithValue(quarksv1alpha1.RunNumberLabel, "1"))
		Expect(job.Annotations).To(HaveKey(quarksv1alpha1.OutputSpecAnnotation))
		Expect(job.Spec.BackoffLimit).To(PointTo(Equal(int32(2))))
		Expect(job.Spec.Template.Labels).To(HaveKeyWithValue(quarksv1alpha1.RunNumberLabel, "1"))
		Expect(job.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("Name", "output-jsonout")))
		Expect(job.Spec.Template.Spec.Containers[0].VolumeMounts).To(ContainElement(And(
			HaveField("Name", "output-jsonout"), HaveField("MountPath", "/mnt/quarks"))))
		ref := metav1.GetControllerOf(job)
		Expect(ref).To(PointTo(And(HaveField("Kind", "QuarksJob"), HaveField("UID", get(qj).UID))))
	})

	It("QJ-4, QJ-F9, QJ-S3: a data change re-runs exactly once; a label change does not", func() {
		qj := apply("qjob_auto-errand-updating.yaml")
		finishJob(runJob(qj, 1), true)
		Eventually(func() quarksv1alpha1.RunResult { return get(qj).Status.LastRun.Result }).Should(Equal(quarksv1alpha1.RunResultSucceeded))

		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "config1"}, cm)).To(Succeed())
		cm.Labels = map[string]string{"relabelled": "yes"}
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Consistently(func() int64 { return get(qj).Status.RunCount }).WithTimeout(2 * time.Second).Should(Equal(int64(1)))

		cm.Data["keyA"] = "changed"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		job := runJob(qj, 2)
		Expect(get(qj).Status.LastRun.Trigger).To(Equal(quarksv1alpha1.RunTriggerConfigChange))
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
		finishJob(job, true)
		Consistently(func() int64 { return get(qj).Status.RunCount }).WithTimeout(2 * time.Second).Should(Equal(int64(2)))
	})

	It("QJ-13: a change made while the operator was down is found on restart", func() {
		qj := apply("qjob_auto-errand-updating.yaml")
		finishJob(runJob(qj, 1), true)
		Eventually(func() quarksv1alpha1.RunResult { return get(qj).Status.LastRun.Result }).Should(Equal(quarksv1alpha1.RunResultSucceeded))
		stop()
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "secret1"}, secret)).To(Succeed())
		secret.Data["keyB"] = []byte("changed while down")
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		stop = startQuarksJobController(ns)
		runJob(qj, 2)
	})

	It("QJ-5: with manual, a data change runs nothing", func() {
		qj := apply("qjob_auto-errand-updating.yaml")
		finishJob(runJob(qj, 1), true)
		Eventually(func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }).Should(Equal(quarksv1alpha1.StrategyDone))
		setStrategy(qj, quarksv1alpha1.StrategyManual)
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "config1"}, cm)).To(Succeed())
		cm.Data["keyA"] = "changed"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Consistently(func() int64 { return get(qj).Status.RunCount }).WithTimeout(2 * time.Second).Should(Equal(int64(1)))
	})

	It("QJ-14, QJ-X19: a missing ConfigMap blocks the run until it is created", func() {
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "blocked", Namespace: ns}}
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		qj.Spec.Template.Spec.Template.Spec = corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox", EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "later"}}}}}},
		}
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		Eventually(func(g Gomega) {
			got := get(qj)
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, quarksv1alpha1.ConditionReferencesResolved)).To(PointTo(And(
				HaveField("Status", metav1.ConditionFalse), HaveField("Message", ContainSubstring("ConfigMap later")))))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReconciling)).To(
				PointTo(HaveField("Reason", quarksv1alpha1.ReasonWaitingForReferences)))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.InProgressStatus))
		}).Should(Succeed())
		Expect(jobsOf(qj)).To(BeEmpty())
		Expect(eventReasons(ns, "blocked")).To(ContainElement(EventReferencesMissing))

		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: ns}})).To(Succeed())
		runJob(qj, 1)
		Expect(condition(qj, quarksv1alpha1.ConditionReferencesResolved)).To(PointTo(HaveField("Status", metav1.ConditionTrue)))
	})

	It("QJ-16, QJ-F8: a versioned reference resolves to the newest member of exactly that series", func() {
		for _, s := range []struct {
			name, version string
		}{{"data-v1", "1"}, {"data-v2", "2"}, {"mydata-v9", "9"}, {"data-v7", "3"}} {
			Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns,
				Labels: map[string]string{quarksv1alpha1.SecretKindLabel: quarksv1alpha1.SecretKindVersioned,
					quarksv1alpha1.SecretVersionLabel: s.version}}})).To(Succeed())
		}
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "versioned", Namespace: ns}}
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		qj.Spec.Template.Spec.Template.Spec = corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: "data-v1"}}}},
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}},
		}
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		job := runJob(qj, 1)
		Expect(job.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.Secret.SecretName", "data-v2")))
		Expect(get(qj).Spec.Template.Spec.Template.Spec.Volumes[0].Secret.SecretName).To(Equal("data-v1"))
	})

	It("QJ-18, QJ-S10: a failed Job is kept and stalls the QuarksJob; now clears it with a new run", func() {
		qj := apply("qjob_errand.yaml")
		setStrategy(qj, quarksv1alpha1.StrategyNow)
		job := runJob(qj, 1)
		finishJob(job, false)
		Eventually(func(g Gomega) {
			got := get(qj)
			g.Expect(got.Status.LastRun).To(PointTo(MatchFields(IgnoreExtras, Fields{
				"Result": Equal(quarksv1alpha1.RunResultFailed), "Reason": Equal("BackoffLimitExceeded"),
			})))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled)).To(
				PointTo(HaveField("Reason", quarksv1alpha1.ReasonRunFailed)))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.FailedStatus))
		}).Should(Succeed())
		Expect(eventReasons(ns, qj.Name)).To(ContainElement(EventRunFailed))
		Consistently(func() []batchv1.Job { return jobsOf(qj) }).WithTimeout(time.Second).Should(HaveLen(1))

		setStrategy(qj, quarksv1alpha1.StrategyNow)
		runJob(qj, 2)
		Eventually(func() *metav1.Condition { return condition(qj, status.TypeStalled) }).Should(BeNil())
		Expect(kstatusOf(get(qj))).To(Equal(kstatus.InProgressStatus))
	})

	It("QJ-18: a run whose Job is deleted before it finished fails with JobDeleted and is not run again", func() {
		qj := apply("qjob_auto-errand.yaml")
		job := runJob(qj, 1)
		Expect(k8sClient.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		Eventually(func() *quarksv1alpha1.RunStatus { return get(qj).Status.LastRun }).Should(PointTo(MatchFields(IgnoreExtras, Fields{
			"Result": Equal(quarksv1alpha1.RunResultFailed), "Reason": Equal(quarksv1alpha1.RunReasonJobDeleted),
		})))
		Consistently(func() []batchv1.Job { return jobsOf(qj) }).WithTimeout(time.Second).Should(BeEmpty())
	})

	It("QJ-7, QJ-S8: a restart between Job creation and the status write adopts the Job and finishes the write-back", func() {
		stop()
		qj := apply("qjob_auto-errand.yaml")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(qj), qj)).To(Succeed())
		crashed, err := buildRunJob(qj, 1, nil, SidecarConfig{})
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, crashed)).To(Succeed())

		stop = startQuarksJobController(ns)
		Expect(runJob(qj, 1).Name).To(Equal(crashed.Name))
		Eventually(func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }).Should(Equal(quarksv1alpha1.StrategyDone))
		Consistently(func() []batchv1.Job { return jobsOf(qj) }).WithTimeout(time.Second).Should(HaveLen(1))
	})

	It("QJ-27: with a monitored ID, only labelled namespaces are served, and labelling one later starts its runs", func() {
		stop()
		stop = startQuarksJobControllerWith(ns, func(r *QuarksJobReconciler) { r.MonitoredID = "m1" })
		qj := apply("qjob_auto-errand.yaml")
		Consistently(func() []batchv1.Job { return jobsOf(qj) }).WithTimeout(2 * time.Second).Should(BeEmpty())
		Expect(get(qj).Status.ObservedGeneration).To(Equal(int64(-1)))

		n := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, n)).To(Succeed())
		n.Labels[quarksv1alpha1.MonitoredLabel] = "m1"
		Expect(k8sClient.Update(ctx, n)).To(Succeed())
		runJob(qj, 1)
	})

	It("QJ-29: an idle QuarksJob is not written again", func() {
		qj := apply("qjob_errand.yaml")
		Eventually(func() int64 { return get(qj).Status.ObservedGeneration }).Should(Equal(int64(1)))
		rv := get(qj).ResourceVersion
		Consistently(func() string { return get(qj).ResourceVersion }).WithTimeout(2 * time.Second).Should(Equal(rv))
	})
})

// splitYAML splits a multi-document YAML file.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytesSplit(data) {
		if len(d) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}
