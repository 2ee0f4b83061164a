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
	"context"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	quarkscontroller "github.com/jobkeeper/jobkeeper/internal/controller/quarks"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
	}
}

func newQuarksJob(ns, name string, strategy quarksv1alpha1.Strategy) *quarksv1alpha1.QuarksJob {
	qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	qj.Spec.Trigger.Strategy = strategy
	qj.Spec.Template.Spec.Template.Spec = podSpec()
	Expect(k8sClient.Create(ctx, qj)).To(Succeed())
	return qj
}

func get[T client.Object](obj T) T {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	return obj
}

// startQuarksJobController runs the operator's QuarksJob controller for one namespace until the spec ends.
func startQuarksJobController(ns string) {
	mctx, stop := context.WithCancel(ctx)
	done, err := utils.StartManager(mctx, testEnv.Config, testScheme, ns, func(mgr ctrl.Manager) error {
		r := &quarkscontroller.QuarksJobReconciler{
			Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Namespaces: []string{ns},
			HashKey: quarkscontroller.HashKey{ID: "ktest", Key: []byte("0123456789abcdef0123456789abcdef")},
		}
		return r.SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		stop()
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(BeNil()))
	})
}

// finishJob sets the status a Job controller would set; envtest runs none.
func finishJob(job *batchv1.Job, succeeded bool) {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
	Expect(utils.FinishJob(ctx, k8sClient, job, succeeded, metav1.Now())).To(Succeed())
}

// onlyJob waits until the QuarksJob has exactly one Job and returns it.
func onlyJob(ns, name string) *batchv1.Job {
	GinkgoHelper()
	var list batchv1.JobList
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.List(ctx, &list, client.InNamespace(ns),
			client.MatchingLabels{quarksv1alpha1.QuarksJobNameLabel: name})).To(Succeed())
		g.Expect(list.Items).To(HaveLen(1))
	}).Should(Succeed())
	return &list.Items[0]
}

// runAsync runs the plugin in the background; the channel yields its result.
func runAsync(args ...string) <-chan pluginResult {
	ch := make(chan pluginResult, 1)
	go func() {
		defer GinkgoRecover()
		ch <- kubectlJobkeeper(args...)
	}()
	return ch
}

var _ = Describe("run qjob, against the QuarksJob controller", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		startQuarksJobController(ns)
	})

	It("runs an errand, waits for it by watching and reports success", func() {
		qj := newQuarksJob(ns, "errand", quarksv1alpha1.StrategyManual)
		Eventually(func() int64 { return get(qj).Status.ObservedGeneration }).Should(Equal(int64(1)))

		done := runAsync("-n", ns, "run", "qjob", "errand", "--wait", "--timeout", "60s")
		job := onlyJob(ns, "errand")
		Consistently(done).WithTimeout(500*time.Millisecond).ShouldNot(Receive(), "the run has not finished")
		finishJob(job, true)

		var res pluginResult
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(&res))
		Expect(res.err).NotTo(HaveOccurred())
		Expect(res.stdout).To(ContainSubstring("strategy set to now"))
		Expect(res.stdout).To(MatchRegexp(`quarksjob.quarks.cloudfoundry.org/errand: run 1 \(job %s\) succeeded`, job.Name))
		Expect(res.stderr).To(ContainSubstring("run 1 started: job " + job.Name))
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyManual), "written back by the operator")
	})

	It("reports a failed run with its reason and exits non-zero", func() {
		newQuarksJob(ns, "failing", quarksv1alpha1.StrategyManual)
		done := runAsync("-n", ns, "run", "qjob/failing", "--wait")
		finishJob(onlyJob(ns, "failing"), false)

		var res pluginResult
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(&res))
		Expect(res.err).To(MatchError(errRunFailed))
		Expect(res.stdout).To(MatchRegexp(`run 1 \(job failing-[0-9a-f]{16}\) failed in \S+: BackoffLimitExceeded: Job has reached the specified backoff limit`))

		By("why names the Stalled reason and the operator's Warning event")
		why := kubectlJobkeeper("-n", ns, "why", "qjob", "failing")
		Expect(why.err).NotTo(HaveOccurred())
		out := squeeze(why.stdout)
		Expect(out).To(ContainSubstring("Status: Failed"))
		Expect(out).To(ContainSubstring("Why: it is stalled (RunFailed)"))
		Expect(out).To(MatchRegexp(`Stalled True RunFailed \S+ BackoffLimitExceeded: Job has reached the specified backoff limit`))
		Expect(out).To(ContainSubstring("Reconciling - (absent)"))
		Eventually(func() string { return kubectlJobkeeper("-n", ns, "why", "qjob", "failing").stdout }).
			Should(MatchRegexp(`RunFailed\s+1\s+run 1 \(job failing-`), "the events.k8s.io Warning event")
	})

	It("refuses to rerun a one-off that has run unless forced, then runs it again through a run request", func() {
		qj := newQuarksJob(ns, "one-off", quarksv1alpha1.StrategyOnce)
		finishJob(onlyJob(ns, "one-off"), true)
		Eventually(func(g Gomega) {
			get(qj)
			g.Expect(qj.Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
			g.Expect(qj.Status.Completed).To(BeTrue())
		}).Should(Succeed())

		res := kubectlJobkeeper("-n", ns, "run", "qjob", "one-off")
		Expect(res.err).To(MatchError(ContainSubstring("use --force")))
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone), "nothing changed")

		done := runAsync("-n", ns, "run", "qjob", "one-off", "--force", "--wait", "--timeout", "60s")
		var job *batchv1.Job
		Eventually(func(g Gomega) {
			var list batchv1.JobList
			g.Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			g.Expect(list.Items).To(HaveLen(1))
			g.Expect(list.Items[0].Labels).To(HaveKeyWithValue(quarksv1alpha1.RunNumberLabel, "2"))
			job = &list.Items[0]
		}).Should(Succeed())
		finishJob(job, true)
		var out pluginResult
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(&out))
		Expect(out.err).NotTo(HaveOccurred())
		Expect(out.stdout).To(ContainSubstring("run requested (" + quarksv1alpha1.RunRequestAnnotation + "="))
		Expect(out.stdout).To(ContainSubstring("run 2 (job " + job.Name + ") succeeded"))
		Eventually(func() quarksv1alpha1.Strategy { return get(qj).Spec.Trigger.Strategy }).
			Should(Equal(quarksv1alpha1.StrategyDone), "a one-off again")
	})
})

var _ = Describe("run qjob without a controller", func() {
	It("sets now, leaves a due run alone and gives up waiting at the timeout", func() {
		ns := newNamespace()
		qj := newQuarksJob(ns, "errand", quarksv1alpha1.StrategyManual)
		res := kubectlJobkeeper("-n", ns, "run", "quarksjob", "errand")
		Expect(res.err).NotTo(HaveOccurred())
		Expect(get(qj).Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyNow))
		gen := qj.Generation

		res = kubectlJobkeeper("-n", ns, "run", "qjob", "errand", "--wait", "--timeout", "1s")
		Expect(res.stdout).To(ContainSubstring("a run is already due (strategy now)"))
		Expect(res.err).To(MatchError(ContainSubstring("timed out after 1s")))
		Expect(get(qj).Generation).To(Equal(gen), "nothing patched")

		Expect(kubectlJobkeeper("-n", ns, "run", "qjob", "missing").err).To(MatchError(ContainSubstring("not found")))
	})
})

var _ = Describe("rerun rjob and trigger njob", func() {
	It("sets a fresh rerun annotation on a ReactiveJob every time", func() {
		ns := newNamespace()
		rj := &batchv1alpha1.ReactiveJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "migrate"}}
		rj.Spec.JobTemplate.Spec.Template.Spec = podSpec()
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())

		res := kubectlJobkeeper("-n", ns, "rerun", "rjob", "migrate")
		Expect(res.err).NotTo(HaveOccurred())
		first := get(rj).Annotations[batchv1alpha1.ReactiveJobRerunAnnotation]
		Expect(first).NotTo(BeEmpty())
		Expect(res.stdout).To(ContainSubstring(batchv1alpha1.ReactiveJobRerunAnnotation + "=" + first))

		Expect(kubectlJobkeeper("-n", ns, "rerun", "reactivejobs", "migrate").err).NotTo(HaveOccurred())
		Expect(get(rj).Annotations[batchv1alpha1.ReactiveJobRerunAnnotation]).NotTo(Equal(first))

		res = kubectlJobkeeper("-n", ns, "rerun", "qjob", "migrate")
		Expect(res.err).To(MatchError(ContainSubstring("kubectl jobkeeper run qjob NAME")))
	})

	It("sets a fresh run request on a NodeJob and prints the token", func() {
		ns := newNamespace()
		nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "node-check"}}
		nj.Spec.Template.Spec = podSpec()
		nj.Spec.Suspend = true
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())

		res := kubectlJobkeeper("-n", ns, "trigger", "njob", "node-check")
		Expect(res.err).NotTo(HaveOccurred())
		token := get(nj).Annotations[batchv1alpha1.NodeJobRunRequestAnnotation]
		Expect(token).NotTo(BeEmpty())
		Expect(res.stdout).To(Equal("nodejob.batch.cs.sap.com/node-check: run requested with token " + token + "\n"))
		Expect(res.stderr).To(ContainSubstring("suspended"))

		res = kubectlJobkeeper("-n", ns, "trigger", "njob", "node-check", "-q")
		Expect(res.err).NotTo(HaveOccurred())
		Expect(res.stdout).To(Equal(get(nj).Annotations[batchv1alpha1.NodeJobRunRequestAnnotation] + "\n"))
		Expect(res.stdout).NotTo(Equal(token + "\n"))
	})
})

var _ = Describe("runs", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("lists the NodeJobRuns of a NodeJob with their phase, nodes and results", func() {
		nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "node-check"}}
		nj.Spec.Template.Spec = podSpec()
		nj.Spec.Schedule = "@hourly"
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		other := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"}}
		other.Spec.Template.Spec = podSpec()
		Expect(k8sClient.Create(ctx, other)).To(Succeed())

		start := metav1.NewTime(time.Date(2026, 7, 26, 10, 0, 0, 0, time.UTC))
		newRun := func(owner *batchv1alpha1.NodeJob, name, execution string, phase batchv1alpha1.NodeJobRunPhase, ok, failed int32) {
			run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
				batchv1alpha1.NodeJobNameLabel: owner.Name, batchv1alpha1.NodeJobUIDLabel: string(owner.UID)}}}
			run.Spec.NodeJobName = owner.Name
			run.Spec.ExecutionID = execution
			run.Spec.ScheduledTime = start
			run.Spec.Trigger = batchv1alpha1.NodeJobRunTriggerSchedule
			run.Spec.Template.Spec = podSpec()
			Expect(k8sClient.Create(ctx, run)).To(Succeed())
			end := metav1.NewTime(start.Add(time.Minute))
			run.Status = batchv1alpha1.NodeJobRunStatus{Phase: phase, Desired: ok + failed, Succeeded: ok, Failed: failed,
				Reported: ok, StartTime: &start, CompletionTime: &end}
			Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())
		}
		newRun(nj, "node-check-29000001", "202607261001", batchv1alpha1.NodeJobRunPhaseFailed, 2, 1)
		newRun(nj, "node-check-29000000", "202607261000", batchv1alpha1.NodeJobRunPhaseSucceeded, 3, 0)
		newRun(other, "other-29000000", "202607261000", batchv1alpha1.NodeJobRunPhaseSucceeded, 1, 0)

		res := kubectlJobkeeper("-n", ns, "runs", "njob", "node-check")
		Expect(res.err).NotTo(HaveOccurred())
		out := squeeze(res.stdout)
		Expect(out).To(ContainSubstring("Schedule: @hourly"))
		Expect(out).To(ContainSubstring(
			"node-check-29000000 202607261000 Schedule Succeeded 3 3 0 0 3 2026-07-26T10:00:00Z 2026-07-26T10:01:00Z\n" +
				"node-check-29000001 202607261001 Schedule Failed 3 2 1 0 2 2026-07-26T10:00:00Z 2026-07-26T10:01:00Z"))
		Expect(out).NotTo(ContainSubstring("other-"))

		res = kubectlJobkeeper("-n", ns, "runs", "nodejob/node-check", "-o", "json")
		Expect(res.err).NotTo(HaveOccurred())
		var report runsReport
		Expect(json.Unmarshal([]byte(res.stdout), &report)).To(Succeed())
		Expect(report.NodeJobRuns).To(HaveLen(2))
		Expect(report.NodeJobRuns[1].Failed).To(Equal(int32(1)))
	})

	It("lists the Jobs, status and history of a ReactiveJob", func() {
		rj := &batchv1alpha1.ReactiveJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "migrate"}}
		rj.Spec.JobTemplate.Spec.Template.Spec = podSpec()
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		for i, name := range []string{"migrate-bcdfg", "migrate-hjklm"} {
			job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
				Labels:      map[string]string{batchv1alpha1.ReactiveJobControllerUIDLabel: string(rj.UID)},
				Annotations: map[string]string{batchv1alpha1.ReactiveJobGenerationAnnotation: "1"}}}
			if i == 1 {
				job.Annotations[batchv1alpha1.ReactiveJobRerunAnnotation] = "tok-1"
			}
			job.Spec.Template.Spec = podSpec()
			job.Spec.Suspend = new(i == 0)
			Expect(k8sClient.Create(ctx, job)).To(Succeed())
			time.Sleep(1100 * time.Millisecond) // distinct creation timestamps order the list
		}
		rj.Status.State = batchv1alpha1.ReactiveJobStateProcessing
		rj.Status.CurrentJobName = "migrate-hjklm"
		rj.Status.ObservedGeneration = 1
		Expect(k8sClient.Status().Update(ctx, rj)).To(Succeed())
		createEvent(ns, rj, corev1.EventTypeNormal, "RerunRequested", "rerun tok-1 requested")

		res := kubectlJobkeeper("-n", ns, "runs", "rjob", "migrate")
		Expect(res.err).NotTo(HaveOccurred())
		out := squeeze(res.stdout)
		Expect(out).To(ContainSubstring("State: Processing"))
		Expect(out).To(ContainSubstring("migrate-bcdfg 1 Suspended"))
		Expect(out).To(MatchRegexp(`\* migrate-hjklm 1 Running 0 0 0 - - tok-1`))
		Expect(out).To(MatchRegexp(`Normal RerunRequested 1 rerun tok-1 requested`))
	})

	It("lists the Jobs, last run and output Secrets of a QuarksJob without reading Secret data", func() {
		qj := newQuarksJob(ns, "output", quarksv1alpha1.StrategyManual)
		owned := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "output-0000000000000002",
			Labels: map[string]string{quarksv1alpha1.QuarksJobNameLabel: "output", quarksv1alpha1.RunNumberLabel: "2"}}}
		owned.Spec.Template.Spec = podSpec()
		Expect(ctrl.SetControllerReference(qj, owned, testScheme)).To(Succeed())
		Expect(k8sClient.Create(ctx, owned)).To(Succeed())
		foreign := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "foreign",
			Labels: map[string]string{quarksv1alpha1.QuarksJobNameLabel: "output"}}}
		foreign.Spec.Template.Spec = podSpec()
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())

		secret := func(name, version string) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
				quarksv1alpha1.QuarksJobNameLabel: "output", quarksv1alpha1.ContainerNameLabel: "main"}},
				StringData: map[string]string{"password": "very-secret-value"}}
			if version != "" {
				s.Labels[quarksv1alpha1.SecretKindLabel] = quarksv1alpha1.SecretKindVersioned
				s.Labels[quarksv1alpha1.SecretVersionLabel] = version
			}
			Expect(k8sClient.Create(ctx, s)).To(Succeed())
		}
		secret("creds-v10", "10")
		secret("creds-v9", "9")
		secret("foo-json", "")

		now := metav1.Now()
		qj.Status.RunCount = 2
		qj.Status.ObservedGeneration = 1
		qj.Status.LastRun = &quarksv1alpha1.RunStatus{Name: "output-0000000000000002", Result: quarksv1alpha1.RunResultSucceeded,
			Trigger: quarksv1alpha1.RunTriggerNow, Generation: 1, StartTime: &now, CompletionTime: &now,
			OutputSecrets: []string{"creds-v10", "foo-json", "gone"}}
		Expect(k8sClient.Status().Update(ctx, qj)).To(Succeed())

		res := kubectlJobkeeper("-n", ns, "runs", "qjobs", "output")
		Expect(res.err).NotTo(HaveOccurred())
		out := squeeze(res.stdout)
		Expect(out).To(ContainSubstring("Result: Succeeded"))
		Expect(out).To(ContainSubstring("Output secrets: creds-v10, foo-json, gone"))
		Expect(out).To(MatchRegexp(`\* output-0000000000000002 2 Running`))
		Expect(out).NotTo(ContainSubstring("foreign"))
		Expect(out).To(MatchRegexp(`creds-v9 main 9 - \S+\ncreds-v10 main 10 yes \S+\nfoo-json main - yes \S+\ngone - - yes \(deleted since\) -`))
		Expect(res.stdout).NotTo(ContainSubstring("very-secret-value"))
		Expect(res.stdout).NotTo(ContainSubstring("dmVyeS1zZWNyZXQtdmFsdWU"))

		res = kubectlJobkeeper("-n", ns, "runs", "qjob", "output", "-o", "yaml")
		Expect(res.err).NotTo(HaveOccurred())
		Expect(res.stdout).To(ContainSubstring("name: creds-v10"))
		Expect(res.stdout).NotTo(ContainSubstring("very-secret-value"))
	})

	It("rejects kinds without runs and unknown output formats", func() {
		Expect(kubectlJobkeeper("-n", ns, "runs", "njrun", "x").err).To(MatchError(ContainSubstring("not supported")))
		Expect(kubectlJobkeeper("-n", ns, "runs", "njob", "x", "-o", "wide").err).To(MatchError(ContainSubstring("unknown output format")))
		Expect(kubectlJobkeeper("-n", ns, "runs", "njob", "x").err).To(MatchError(ContainSubstring("not found")))
	})
})

var _ = Describe("why", func() {
	It("explains a Stalled NodeJobRun with its Warning events only", func() {
		ns := newNamespace()
		run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "node-check-m0a1b2c3d"}}
		run.Spec.NodeJobName = "node-check"
		run.Spec.ExecutionID = "202607261000-0a1b2c3d"
		run.Spec.ScheduledTime = metav1.Now()
		run.Spec.Trigger = batchv1alpha1.NodeJobRunTriggerManual
		run.Spec.Template.Spec = podSpec()
		Expect(k8sClient.Create(ctx, run)).To(Succeed())

		res := kubectlJobkeeper("-n", ns, "why", "njrun", run.Name)
		Expect(res.err).NotTo(HaveOccurred())
		Expect(squeeze(res.stdout)).To(ContainSubstring("Status: InProgress"))
		Expect(res.stdout).To(ContainSubstring("the operator has not yet observed generation 1"))

		now := metav1.Now()
		run.Status = batchv1alpha1.NodeJobRunStatus{ObservedGeneration: 1, Phase: batchv1alpha1.NodeJobRunPhaseFailed,
			Reason: "FailFast", Desired: 2, Failed: 1, Skipped: 1,
			FailedNodes: []batchv1alpha1.NodeJobRunNode{{Name: "node-a", Phase: batchv1alpha1.NodeJobRunNodePhaseFailed,
				Reason: "PodFailed", Message: "exit code 3"}},
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: metav1.ConditionFalse, Reason: "RunFailed", Message: "node node-a failed", LastTransitionTime: now},
				{Type: "Stalled", Status: metav1.ConditionTrue, Reason: "RunFailed", Message: "node node-a failed", LastTransitionTime: now},
			}}
		Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())
		createEvent(ns, run, corev1.EventTypeWarning, "NodeFailed", "pod on node-a failed")
		createEvent(ns, run, corev1.EventTypeNormal, "RunStarted", "started")
		other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unrelated", UID: "not-the-run"}}
		createEvent(ns, other, corev1.EventTypeWarning, "Unrelated", "about something else")

		res = kubectlJobkeeper("-n", ns, "why", "nodejobruns.batch.cs.sap.com", run.Name)
		Expect(res.err).NotTo(HaveOccurred())
		out := squeeze(res.stdout)
		Expect(out).To(ContainSubstring("Status: Failed"))
		Expect(out).To(ContainSubstring("Why: it is stalled (RunFailed): node node-a failed"))
		Expect(out).To(ContainSubstring("Generation: 1, observed 1"))
		Expect(out).To(ContainSubstring("Failed node: node-a, PodFailed, exit code 3"))
		Expect(out).To(MatchRegexp(`Stalled True RunFailed \S+ node node-a failed`))
		Expect(out).To(MatchRegexp(`NodeFailed 1 pod on node-a failed`))
		Expect(out).NotTo(ContainSubstring("RunStarted"))
		Expect(out).NotTo(ContainSubstring("Unrelated"))

		res = kubectlJobkeeper("-n", ns, "why", "njrun/"+run.Name, "-o", "json")
		Expect(res.err).NotTo(HaveOccurred())
		var report whyReport
		Expect(json.Unmarshal([]byte(res.stdout), &report)).To(Succeed())
		Expect(report.Status).To(Equal("Failed"))
		Expect(report.WarningEvents).To(HaveLen(1))
	})
})

// createEvent records an events.k8s.io/v1 Event regarding obj, as the operator's recorder does.
func createEvent(ns string, obj client.Object, typ, reason, note string) {
	GinkgoHelper()
	gvk, err := apiutilGVK(obj)
	Expect(err).NotTo(HaveOccurred())
	e := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: obj.GetName() + "-"},
		EventTime:  metav1.NowMicro(), ReportingController: "jobkeeper.test/plugin", ReportingInstance: "test",
		Action: "Test", Reason: reason, Note: note, Type: typ,
		Regarding: corev1.ObjectReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Namespace: ns,
			Name: obj.GetName(), UID: obj.GetUID()},
	}
	Expect(k8sClient.Create(ctx, e)).To(Succeed())
}

func apiutilGVK(obj client.Object) (schema.GroupVersionKind, error) {
	return apiutil.GVKForObject(obj, testScheme)
}
