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
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/runs"
	"github.com/jobkeeper/jobkeeper/internal/status"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

var _ = Describe("QuarksJob runs under GitOps, restarts and stale caches", func() {
	var (
		ns   string
		stop func()
	)

	BeforeEach(func() {
		ns = newNamespace("qjr-")
		stop = startQuarksJobController(ns)
		DeferCleanup(func() { stop() })
	})

	get := func(qj *quarksv1alpha1.QuarksJob) *quarksv1alpha1.QuarksJob {
		out := &quarksv1alpha1.QuarksJob{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(qj), out)).To(Succeed())
		return out
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
	succeed := func(qj *quarksv1alpha1.QuarksJob, job *batchv1.Job) {
		finishJob(job, true)
		EventuallyWithOffset(1, func(g Gomega) {
			got := get(qj)
			g.Expect(got.Status.LastRun.Name).To(Equal(job.Name))
			g.Expect(got.Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
		}).Should(Succeed())
	}
	// manifest is the QuarksJob as a GitOps tool holds it in Git.
	manifest := func(name string, strategy quarksv1alpha1.Strategy, annotations map[string]any) *unstructured.Unstructured {
		meta := map[string]any{"name": name, "namespace": ns}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": quarksv1alpha1.GroupVersion.String(), "kind": "QuarksJob", "metadata": meta,
			"spec": map[string]any{
				"trigger": map[string]any{"strategy": string(strategy)},
				"template": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
					"restartPolicy": "Never",
					"containers":    []any{map[string]any{"name": "main", "image": "busybox", "command": []any{"true"}}},
				}}}},
			},
		}}
	}
	// sync applies the manifest the way Flux and Argo CD do on every sync:
	// server-side apply with forced ownership.
	sync := func(u *unstructured.Unstructured) {
		//nolint:staticcheck // client.Apply as a patch type is what a GitOps tool's apply is.
		ExpectWithOffset(1, k8sClient.Patch(ctx, u.DeepCopy(), client.Apply, client.FieldOwner("gitops"), client.ForceOwnership)).To(Succeed())
	}
	jobUIDs := func(qj *quarksv1alpha1.QuarksJob) []string {
		var list batchv1.JobList
		ExpectWithOffset(1, k8sClient.List(ctx, &list, client.InNamespace(ns),
			client.MatchingLabels{quarksv1alpha1.QuarksJobNameLabel: qj.Name})).To(Succeed())
		var out []string
		for _, j := range list.Items {
			out = append(out, string(j.UID))
		}
		return out
	}

	It("a once re-applied by a GitOps tool after the write-back to done runs nothing, and is not fought", func() {
		u := manifest("gitops-once", quarksv1alpha1.StrategyOnce, nil)
		sync(u)
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "gitops-once", Namespace: ns}}
		succeed(qj, runJob(qj, 1))
		Eventually(func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }).Should(Equal(quarksv1alpha1.StrategyDone))

		for range 3 {
			sync(u)
			Eventually(func(g Gomega) {
				got := get(qj)
				g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			}).Should(Succeed())
		}
		Consistently(func() int64 { return get(qj).Status.RunCount }).WithTimeout(2 * time.Second).Should(Equal(int64(1)))
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyOnce), "the manager leaves the field manager's once alone")
		Expect(eventReasons(ns, qj.Name)).To(ContainElement(EventTriggerMerged))
		Expect(kstatusOf(get(qj))).To(Equal(kstatus.CurrentStatus))

		By("a changed template in Git with once runs again")
		containers := u.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
		containers[0].(map[string]any)["command"] = []any{"echo", "v2"}
		sync(u)
		runJob(qj, 2)
		Consistently(func() int64 { return get(qj).Status.RunCount }).WithTimeout(time.Second).Should(Equal(int64(2)))
	})

	It("an errand's run-request token runs once per new value, also when a value comes back (a, b, a)", func() {
		u := manifest("gitops-errand", quarksv1alpha1.StrategyManual, nil)
		sync(u)
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "gitops-errand", Namespace: ns}}
		Eventually(func() int64 { return get(qj).Status.ObservedGeneration }).Should(Equal(int64(1)))
		seen := map[string]bool{}
		for i, token := range []string{"a", "b", "a"} {
			u.SetAnnotations(map[string]string{quarksv1alpha1.RunRequestAnnotation: token})
			for range 2 { // every request synced twice: the second sync asks for nothing
				sync(u)
			}
			job := runJob(qj, int64(i+1))
			seen[string(job.UID)] = true
			Expect(get(qj).Status.LastRun.Trigger).To(Equal(quarksv1alpha1.RunTriggerRequest))
			succeed(qj, job)
			Expect(get(qj).Status.LastHandledRunRequest).To(Equal(token))
		}
		Expect(seen).To(HaveLen(3))
		Consistently(func() int64 { return get(qj).Status.RunCount }).WithTimeout(2 * time.Second).Should(Equal(int64(3)))
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyManual))
		Expect(eventReasons(ns, qj.Name)).To(ContainElement(EventRunRequested))
	})

	It("a succeeded Job whose deletion was cut by a restart is deleted after the restart", func() {
		qj := manifest("cut", quarksv1alpha1.StrategyOnce, nil)
		sync(qj)
		typed := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "cut", Namespace: ns}}
		first := runJob(typed, 1)
		stop()

		// The run succeeded and was recorded; the deletion never happened.
		finishJob(first, true)
		got := get(typed)
		patch := client.MergeFrom(got.DeepCopy())
		now := metav1.Now()
		got.Status.LastRun.Result, got.Status.LastRun.CompletionTime, got.Status.Completed = quarksv1alpha1.RunResultSucceeded, &now, true
		Expect(k8sClient.Status().Patch(ctx, got, patch)).To(Succeed())

		stop = startQuarksJobController(ns)
		Eventually(func() bool {
			j := &batchv1.Job{}
			err := k8sClient.Get(ctx, client.ObjectKeyFromObject(first), j)
			return apierrors.IsNotFound(err) || err == nil && j.DeletionTimestamp != nil
		}).Should(BeTrue())
		Expect(get(typed).Status.RunCount).To(Equal(int64(1)))
	})

	It("a Job the API server rejects as invalid stalls the QuarksJob with the API server's message", func() {
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "invalid", Namespace: ns}}
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		qj.Spec.Template.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 70000}}}}}
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		Eventually(func(g Gomega) {
			got := get(qj)
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled)).To(PointTo(And(
				HaveField("Reason", quarksv1alpha1.ReasonInvalidJobTemplate),
				HaveField("Message", ContainSubstring("containerPort")))))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.FailedStatus))
		}).Should(Succeed())
		Expect(eventReasons(ns, qj.Name)).To(ContainElement(EventCreateJobError))
		Expect(get(qj).Status.RunCount).To(BeZero())
	})

	It("a refused Job creation says so in Reconciling and is retried until it succeeds", func() {
		stop()
		user := "qj-refused-" + ns
		role, err := utils.BindGeneratedRole(ctx, k8sClient, user, user, func(r *rbacv1.ClusterRole) {
			for i := range r.Rules {
				if slices.Contains(r.Rules[i].Resources, "jobs") {
					r.Rules[i].Verbs = slices.DeleteFunc(r.Rules[i].Verbs, func(v string) bool { return v == "create" })
				}
			}
		})
		Expect(err).NotTo(HaveOccurred())
		stop = startQuarksJobControllerAs(ns, user)
		qj := manifest("refused", quarksv1alpha1.StrategyOnce, nil)
		sync(qj)
		typed := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "refused", Namespace: ns}}
		Eventually(func(g Gomega) {
			got := get(typed)
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReconciling)).To(PointTo(And(
				HaveField("Reason", quarksv1alpha1.ReasonJobCreationForbidden), HaveField("Message", ContainSubstring("forbidden")))))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.InProgressStatus))
		}).Should(Succeed())
		Expect(eventReasons(ns, "refused")).To(ContainElement(EventCreateJobError))

		Expect(k8sClient.Delete(ctx, role)).To(Succeed())
		_, err = utils.BindGeneratedRole(ctx, k8sClient, user+"-full", user, nil)
		Expect(err).NotTo(HaveOccurred())
		runJob(typed, 1)
		Eventually(func() *metav1.Condition {
			return meta.FindStatusCondition(get(typed).Status.Conditions, status.TypeReconciling)
		}).Should(PointTo(HaveField("Reason", quarksv1alpha1.ReasonRunActive)))
	})

	It("ReferencesResolved turns True when the missing reference appears, also when no run is due any more", func() {
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "refs", Namespace: ns}}
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		qj.Spec.Template.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox", EnvFrom: []corev1.EnvFromSource{{
				ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "later"}}}}}}}
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		Eventually(func() *metav1.Condition {
			return meta.FindStatusCondition(get(qj).Status.Conditions, quarksv1alpha1.ConditionReferencesResolved)
		}).Should(PointTo(HaveField("Status", metav1.ConditionFalse)))
		Eventually(func() error {
			cur := get(qj)
			cur.Spec.Trigger.Strategy = quarksv1alpha1.StrategyManual
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: ns}})).To(Succeed())
		Eventually(func() *metav1.Condition {
			return meta.FindStatusCondition(get(qj).Status.Conditions, quarksv1alpha1.ConditionReferencesResolved)
		}).Should(PointTo(HaveField("Status", metav1.ConditionTrue)))
		Expect(get(qj).Status.RunCount).To(BeZero())
	})

	It("a plain Secret named like a series member (tls-v2), without versioned-secret labels, is used as it is", func() {
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls-v2", Namespace: ns},
			Data: map[string][]byte{"tls.crt": []byte("x")}})).To(Succeed())
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns}}
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		qj.Spec.Template.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Volumes: []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: "tls-v2"}}}},
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		job := runJob(qj, 1)
		Expect(job.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.Secret.SecretName", "tls-v2")))
		Expect(meta.FindStatusCondition(get(qj).Status.Conditions, quarksv1alpha1.ConditionReferencesResolved)).To(
			PointTo(HaveField("Status", metav1.ConditionTrue)))
	})

	It("keeps a succeeded run's Job until the run's success is recorded", func() {
		stop()
		stop = func() {}
		qj := manifest("unrecorded", quarksv1alpha1.StrategyManual, nil)
		sync(qj)
		typed := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "unrecorded", Namespace: ns}}
		r, rc := newStaleQuarksJobReconciler()
		reconcile := func() error {
			rc.Serve(get(typed))
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(typed)})
			return err
		}
		cur := get(typed)
		cur.Spec.Trigger.Strategy = quarksv1alpha1.StrategyNow
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())
		Expect(reconcile()).To(Succeed())
		job := runJob(typed, 1)
		finishJob(job, true)

		By("a reconcile whose status write does not happen (a manager stopped before it)")
		writer := r.Client
		r.Client = failingStatus{writer}
		Expect(reconcile()).NotTo(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(job), &batchv1.Job{})).To(Succeed(),
			"the Job of a run whose success is not recorded is still there")
		Expect(get(typed).Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultRunning))

		By("the next reconcile records the success, then deletes the Job")
		r.Client = writer
		r.expectations = runs.NewExpectations() // a new manager
		Expect(reconcile()).To(Succeed())
		Expect(get(typed).Status.LastRun).To(PointTo(MatchFields(IgnoreExtras, Fields{
			"Name": Equal(job.Name), "Result": Equal(quarksv1alpha1.RunResultSucceeded),
		})))
		Eventually(func() bool {
			j := &batchv1.Job{}
			err := k8sClient.Get(ctx, client.ObjectKeyFromObject(job), j)
			return apierrors.IsNotFound(err) || (err == nil && j.DeletionTimestamp != nil)
		}).Should(BeTrue())
	})

	It("a reconcile that reads a copy older than its own last run record never finishes that run again", func() {
		stop()
		stop = func() {}
		qj := manifest("stale", quarksv1alpha1.StrategyManual, nil)
		sync(qj)
		typed := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "stale", Namespace: ns}}
		r, rc := newStaleQuarksJobReconciler()
		reconcile := func() {
			GinkgoHelper()
			rc.Serve(get(typed))
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(typed)})
			Expect(err).NotTo(HaveOccurred())
		}
		setNow := func() {
			GinkgoHelper()
			cur := get(typed)
			cur.Spec.Trigger.Strategy = quarksv1alpha1.StrategyNow
			Expect(k8sClient.Update(ctx, cur)).To(Succeed())
		}

		setNow()
		reconcile()
		first := runJob(typed, 1)
		running := get(typed) // run 1 running: what a lagging cache may still hold later
		finishJob(first, true)
		reconcile()
		Expect(get(typed).Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
		setNow()
		reconcile()
		second := runJob(typed, 2)

		rc.Serve(running)
		_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(typed)})
		Expect(err).NotTo(HaveOccurred())
		got := get(typed)
		Expect(got.Status.LastRun).To(PointTo(MatchFields(IgnoreExtras, Fields{
			"Name": Equal(second.Name), "Result": Equal(quarksv1alpha1.RunResultRunning), "Reason": BeEmpty(),
		})))
		Expect(got.Status.RunCount).To(Equal(int64(2)))
		Expect(jobUIDs(typed)).To(ContainElement(string(second.UID)))
	})
})

// failingStatus is a client whose status writes fail, as when the manager is stopped before its status write.
type failingStatus struct{ client.Client }

func (f failingStatus) Status() client.SubResourceWriter {
	return failingStatusWriter{f.Client.Status()}
}

type failingStatusWriter struct{ client.SubResourceWriter }

func (failingStatusWriter) Patch(context.Context, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
	return errors.New("the status write did not happen")
}

// startQuarksJobControllerAs runs the QuarksJob controller as user.
func startQuarksJobControllerAs(namespace, user string) (stop func()) {
	cfg, err := utils.UserConfig(testEnv, user)
	Expect(err).NotTo(HaveOccurred())
	mctx, cancel := context.WithCancel(ctx)
	done, err := utils.StartManager(mctx, cfg, k8sClient.Scheme(), namespace, func(mgr ctrl.Manager) error {
		return (&QuarksJobReconciler{
			Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Namespaces: []string{namespace}, HashKey: testHashKey,
		}).SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	return func() {
		cancel()
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(BeNil()))
	}
}

// ownedJobs lists a QuarksJob's Jobs from the API server by their name label,
// standing in for the controller's indexed Job cache.
type ownedJobs struct{ client.Client }

func (o ownedJobs) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	lo := &client.ListOptions{}
	lo.ApplyOptions(opts)
	uid, _ := lo.FieldSelector.RequiresExactMatch(jobOwnerIndex)
	if err := o.Client.List(ctx, list, client.InNamespace(lo.Namespace), client.HasLabels{quarksv1alpha1.QuarksJobNameLabel}); err != nil {
		return err
	}
	jobs := list.(*batchv1.JobList)
	jobs.Items = slices.DeleteFunc(jobs.Items, func(j batchv1.Job) bool {
		ref := metav1.GetControllerOf(&j)
		return ref == nil || string(ref.UID) != uid || !strings.EqualFold(ref.Kind, quarksJobKind)
	})
	return nil
}

// newStaleQuarksJobReconciler returns a reconciler, outside any manager, whose
// reads of the QuarksJob return what its client is told to serve.
func newStaleQuarksJobReconciler() (*QuarksJobReconciler, *utils.StaleReads[*quarksv1alpha1.QuarksJob]) {
	c := utils.NewStaleReads(k8sClient, &quarksv1alpha1.QuarksJob{})
	return &QuarksJobReconciler{
		Client:       c,
		Scheme:       k8sClient.Scheme(),
		Recorder:     events.NewFakeRecorder(1000),
		Clock:        clock.RealClock{},
		HashKey:      testHashKey,
		apiReader:    k8sClient,
		jobs:         ownedJobs{k8sClient},
		expectations: runs.NewExpectations(),
	}, c
}
