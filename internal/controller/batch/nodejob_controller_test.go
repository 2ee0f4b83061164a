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
	"context"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/status"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// nodeTestLabel marks the nodes of one spec; Nodes are cluster-scoped, so every NodeJob of a spec selects on it.
const nodeTestLabel = "jobkeeper.test/namespace"

// startNodeJobControllers runs a manager with the NodeJob and NodeJobRun controllers, as the manager user, whose
// caches see only namespace (and the cluster-scoped Nodes); the returned function stops it, as a crash or a
// failover would.
func startNodeJobControllers(namespace string, clk *clocktesting.FakeClock) (stop func()) {
	return startNodeJobControllersWith(namespace, clk, nil)
}

// startNodeJobControllersWith is startNodeJobControllers with a change to the run reconciler's settings.
func startNodeJobControllersWith(namespace string, clk *clocktesting.FakeClock, mutate func(*NodeJobRunReconciler)) (stop func()) {
	return startNodeJobControllersFor(namespace, clk, nil, mutate)
}

// startNodeJobControllersFor is startNodeJobControllers with changes to both reconcilers' settings.
func startNodeJobControllersFor(namespace string, clk *clocktesting.FakeClock, mutateJobs func(*NodeJobReconciler),
	mutateRuns func(*NodeJobRunReconciler)) (stop func()) {
	mctx, cancel := context.WithCancel(ctx)
	done, err := utils.StartManager(mctx, userConfig(managerUser), scheme.Scheme, namespace, func(mgr ctrl.Manager) error {
		jobs := &NodeJobReconciler{
			Client: mgr.GetClient(),
			Scheme: mgr.GetScheme(),
			Clock:  clk,
		}
		if mutateJobs != nil {
			mutateJobs(jobs)
		}
		if err := jobs.SetupWithManager(mgr); err != nil {
			return err
		}
		runs := &NodeJobRunReconciler{
			Client:     mgr.GetClient(),
			Scheme:     mgr.GetScheme(),
			Clock:      clk,
			Namespaces: []string{namespace},
			Reports:    storeOf(namespace),
		}
		if mutateRuns != nil {
			mutateRuns(runs)
		}
		return runs.SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	return func() {
		cancel()
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(BeNil()))
	}
}

// stores holds the report store of each spec's namespace; it outlives a manager, as a volume would.
var stores sync.Map

// storeOf returns the report store of a namespace, created on first use.
func storeOf(namespace string) *reports.FileStore {
	if s, ok := stores.Load(namespace); ok {
		return s.(*reports.FileStore)
	}
	s, err := reports.NewFileStore(GinkgoT().TempDir())
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	actual, _ := stores.LoadOrStore(namespace, s)
	return actual.(*reports.FileStore)
}

// nodeRecords returns the state of every candidate node of a run, in name order, from the report store.
func nodeRecords(namespace, run string) []reports.NodeRecord {
	cur := &batchv1alpha1.NodeJobRun{}
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: run}, cur)).To(Succeed())
	loc := reports.LocationOf(cur)
	sel, err := storeOf(namespace).Selection(loc)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	recs, err := storeOf(namespace).Nodes(loc)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	nodes, _ := mergeNodes(sel, recs)
	return nodes
}

// testNode describes a Node that a spec creates.
type testNode struct {
	name          string
	ready         bool
	unschedulable bool
	matching      bool
	taints        []corev1.Taint
}

// createNodes creates Nodes labelled for the spec's namespace (unless not matching) with a Ready condition, and
// deletes them when the spec ends.
func createNodes(namespace string, nodes ...testNode) {
	for _, tn := range nodes {
		lbl := map[string]string{"kubernetes.io/hostname": tn.name}
		if tn.matching {
			lbl[nodeTestLabel] = namespace
		}
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: tn.name, Labels: lbl},
			Spec:       corev1.NodeSpec{Unschedulable: tn.unschedulable, Taints: tn.taints},
		}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, n))).To(Succeed()) })
		cond := corev1.ConditionTrue
		if !tn.ready {
			cond = corev1.ConditionFalse
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: cond, Reason: "Test",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		Expect(k8sClient.Status().Update(ctx, n)).To(Succeed())
		if tn.ready {
			// The API server taints new nodes not-ready; the node lifecycle controller, absent here, would lift it.
			Eventually(func() error {
				cur := &corev1.Node{}
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(n), cur); err != nil {
					return err
				}
				cur.Spec.Taints = tn.taints
				return k8sClient.Update(ctx, cur)
			}).Should(Succeed())
		}
	}
}

// readyNodes returns n Ready, matching test nodes named <namespace>-<i>.
func readyNodes(namespace string, n int) []testNode {
	out := make([]testNode, 0, n)
	for i := range n {
		out = append(out, testNode{name: namespace + "-" + string(rune('a'+i)), ready: true, matching: true})
	}
	return out
}

// newNodeJob returns a NodeJob selecting the spec's nodes.
func newNodeJob(namespace, name string) *batchv1alpha1.NodeJob {
	return &batchv1alpha1.NodeJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: batchv1alpha1.NodeJobSpec{NodeJobRunTemplate: batchv1alpha1.NodeJobRunTemplate{
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{nodeTestLabel: namespace}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "check"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox",
					Env: []corev1.EnvVar{{Name: "OWN", Value: "1"}}}}},
			},
		}},
	}
}

// setPodPhase sets the phase a kubelet would report; envtest runs no kubelet.
func setPodPhase(pod *corev1.Pod, phase corev1.PodPhase) {
	EventuallyWithOffset(1, func() error {
		cur := &corev1.Pod{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), cur); err != nil {
			return err
		}
		cur.Status.Phase = phase
		if phase == corev1.PodFailed {
			cur.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", Image: "busybox",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}}
		}
		return k8sClient.Status().Update(ctx, cur)
	}).Should(Succeed())
}

// podsOf lists the pods of a run.
func podsOf(namespace, run string) []corev1.Pod {
	var list corev1.PodList
	ExpectWithOffset(1, k8sClient.List(ctx, &list, client.InNamespace(namespace),
		client.MatchingLabels{batchv1alpha1.NodeJobRunNameLabel: run})).To(Succeed())
	return list.Items
}

// runsOf lists the runs of a NodeJob.
func runsOf(namespace, nodeJob string) []batchv1alpha1.NodeJobRun {
	var list batchv1alpha1.NodeJobRunList
	ExpectWithOffset(1, k8sClient.List(ctx, &list, client.InNamespace(namespace),
		client.MatchingLabels{batchv1alpha1.NodeJobNameLabel: nodeJob})).To(Succeed())
	return list.Items
}

// annotateRun changes a run's metadata, so that its controller reconciles it after the fake clock moved.
func annotateRun(namespace, name string) {
	EventuallyWithOffset(1, func() error {
		run := &batchv1alpha1.NodeJobRun{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, run); err != nil {
			return err
		}
		if run.Annotations == nil {
			run.Annotations = map[string]string{}
		}
		run.Annotations["test/poke"] = time.Now().Format(time.RFC3339Nano)
		return k8sClient.Update(ctx, run)
	}).Should(Succeed())
}

func nonTerminal(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

var _ = Describe("NodeJob controller", func() {
	var (
		ns   string
		clk  *clocktesting.FakeClock
		stop func()
	)

	BeforeEach(func() {
		ns = newNamespace("nj-")
		clk = clocktesting.NewFakeClock(time.Now())
		stop = startNodeJobControllers(ns, clk)
		DeferCleanup(func() { stop() })
	})

	getNJ := func(nj *batchv1alpha1.NodeJob) *batchv1alpha1.NodeJob {
		out := &batchv1alpha1.NodeJob{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(nj), out)).To(Succeed())
		return out
	}
	getRun := func(name string) *batchv1alpha1.NodeJobRun {
		out := &batchv1alpha1.NodeJobRun{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, out)).To(Succeed())
		return out
	}
	annotate := func(nj *batchv1alpha1.NodeJob, key, value string) {
		EventuallyWithOffset(1, func() error {
			cur := getNJ(nj)
			if cur.Annotations == nil {
				cur.Annotations = map[string]string{}
			}
			cur.Annotations[key] = value
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
	}
	// poke makes the controller reconcile the NodeJob after the fake clock moved.
	poke := func(nj *batchv1alpha1.NodeJob) {
		annotate(nj, "test/poke", clk.Now().Format(time.RFC3339Nano))
	}
	runPhase := func(name string) func() batchv1alpha1.NodeJobRunPhase {
		return func() batchv1alpha1.NodeJobRunPhase {
			out := &batchv1alpha1.NodeJobRun{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, out); err != nil {
				return ""
			}
			return out.Status.Phase
		}
	}
	waitPods := func(run string, n int) []corev1.Pod {
		var pods []corev1.Pod
		EventuallyWithOffset(1, func() []corev1.Pod {
			pods = podsOf(ns, run)
			return pods
		}).Should(HaveLen(n))
		return pods
	}

	It("NJ-1, NJ-10: a tick in the time zone creates the run <nodejob>-<unix minutes>, then waits for the next tick", func() {
		nj := newNodeJob(ns, "tick")
		// Minute 30 in Asia/Kolkata (UTC+05:30) is minute 0 in UTC.
		nj.Spec.Schedule = "30 * * * *"
		nj.Spec.TimeZone = new("Asia/Kolkata")
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		next := clk.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		Eventually(func(g Gomega) {
			got := getNJ(nj)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.NextScheduleTime).NotTo(BeNil())
			g.Expect(got.Status.NextScheduleTime.Time.Equal(next)).To(BeTrue())
		}).Should(Succeed())
		Expect(runsOf(ns, "tick")).To(BeEmpty())
		Expect(kstatusOf(getNJ(nj))).To(Equal(kstatus.CurrentStatus))

		clk.SetTime(next.Add(20 * time.Second))
		poke(nj)
		name := scheduledRunName("tick", next)
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		run := getRun(name)
		Expect(run.Spec.Trigger).To(Equal(batchv1alpha1.NodeJobRunTriggerSchedule))
		Expect(run.Spec.ExecutionID).To(Equal(next.Format("200601021504")))
		Expect(run.Annotations).To(HaveKeyWithValue(batchv1alpha1.NodeJobScheduledAtAnnotation, next.Format(time.RFC3339)))
		Expect(run.Labels).To(HaveKeyWithValue(batchv1alpha1.NodeJobNameLabel, "tick"))
		Expect(run.Labels).To(HaveKeyWithValue(batchv1alpha1.NodeJobExecutionIDLabel, run.Spec.ExecutionID))
		Expect(metav1.GetControllerOf(run).Name).To(Equal("tick"))
		Expect(run.Spec.Template.Spec.Containers[0].Image).To(Equal("busybox"))
		// No node matches: the run succeeds with a Warning (NJ-10).
		Expect(run.Status.Message).To(Equal("no node selected"))
		Eventually(func() []string { return eventReasons(ns, name) }).Should(ContainElement(EventNoNodesSelected))

		Eventually(func(g Gomega) {
			got := getNJ(nj)
			g.Expect(got.Status.LastScheduleTime).NotTo(BeNil())
			g.Expect(got.Status.LastScheduleTime.Time.Equal(next)).To(BeTrue())
			g.Expect(got.Status.NextScheduleTime.Time.Equal(next.Add(time.Hour))).To(BeTrue())
			g.Expect(got.Status.RunCount).To(Equal(int64(1)))
			g.Expect(got.Status.LastRun).NotTo(BeNil())
			g.Expect(got.Status.LastRun.Phase).To(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.CurrentStatus))
		}).Should(Succeed())
		Eventually(func() []string { return eventReasons(ns, "tick") }).Should(ContainElements(EventRunCreated, EventRunSucceeded))
		poke(nj)
		Consistently(func() []batchv1alpha1.NodeJobRun { return runsOf(ns, "tick") }).
			WithTimeout(time.Second).Should(HaveLen(1))
	})

	It("NJ-3, NJ-4, NJ-S10: runOnCreate gives one run, and each new run-request token exactly one more", func() {
		nj := newNodeJob(ns, "req")
		nj.Spec.RunOnCreate = true
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		created := getNJ(nj).CreationTimestamp.Time
		onCreate := scheduledRunName("req", created)
		Eventually(runPhase(onCreate)).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		Expect(getRun(onCreate).Spec.Trigger).To(Equal(batchv1alpha1.NodeJobRunTriggerOnCreate))

		annotate(nj, batchv1alpha1.NodeJobRunRequestAnnotation, "first")
		manual := manualRunName("req", "first", 1)
		Expect(manual).To(MatchRegexp(`^req-m[0-9a-f]{8}$`))
		Eventually(runPhase(manual)).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		run := getRun(manual)
		Expect(run.Spec.Trigger).To(Equal(batchv1alpha1.NodeJobRunTriggerManual))
		Expect(run.Spec.ExecutionID).To(MatchRegexp(`^[0-9]{12}-[0-9a-f]{8}$`))
		Eventually(func() string { return getNJ(nj).Status.LastHandledRunRequest }).Should(Equal("first"))

		// The same token again, and other changes, give no run.
		annotate(nj, batchv1alpha1.NodeJobRunRequestAnnotation, "first")
		poke(nj)
		Consistently(func() []batchv1alpha1.NodeJobRun { return runsOf(ns, "req") }).
			WithTimeout(time.Second).Should(HaveLen(2))
		Expect(getNJ(nj).Status.RunCount).To(Equal(int64(2)))
	})

	It("NJ-5, NJ-S6, NJ-S10: under Forbid a tick during an active run is skipped and a run request waits", func() {
		createNodes(ns, readyNodes(ns, 1)...)
		nj := newNodeJob(ns, "forbid")
		nj.Spec.RunOnCreate = true
		nj.Spec.Schedule = "0 * * * *"
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		first := scheduledRunName("forbid", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(first, 1)

		tick := clk.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		clk.SetTime(tick.Add(10 * time.Second))
		poke(nj)
		Eventually(func(g Gomega) {
			got := getNJ(nj)
			g.Expect(got.Status.LastScheduleTime).NotTo(BeNil())
			g.Expect(got.Status.LastScheduleTime.Time.Equal(tick)).To(BeTrue())
		}).Should(Succeed())
		Eventually(func() []string { return eventReasons(ns, "forbid") }).Should(ContainElement(EventRunSkipped))
		Expect(runsOf(ns, "forbid")).To(HaveLen(1))

		annotate(nj, batchv1alpha1.NodeJobRunRequestAnnotation, "later")
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(getNJ(nj).Status.Conditions, status.TypeReconciling)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(NodeJobReasonRunQueued))
		}).Should(Succeed())
		Expect(runsOf(ns, "forbid")).To(HaveLen(1))

		setPodPhase(&pods[0], corev1.PodSucceeded)
		manual := manualRunName("forbid", "later", 1)
		Eventually(func() []corev1.Pod { return podsOf(ns, manual) }).Should(HaveLen(1))
		Expect(getRun(first).Status.Phase).To(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		Eventually(func() []string { return eventReasons(ns, "forbid") }).Should(ContainElement(EventRunQueued))
	})

	It("NJ-5, NJ-S6: under Replace the active run ends Failed/Replaced, its pods go, and the new run starts", func() {
		createNodes(ns, readyNodes(ns, 2)...)
		nj := newNodeJob(ns, "replace")
		nj.Spec.RunOnCreate = true
		nj.Spec.Schedule = "0 * * * *"
		nj.Spec.ConcurrencyPolicy = batchv1alpha1.ReplaceConcurrent
		nj.Spec.Parallelism = new(intstr.FromInt32(1))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		first := scheduledRunName("replace", getNJ(nj).CreationTimestamp.Time)
		waitPods(first, 1)

		tick := clk.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		clk.SetTime(tick.Add(10 * time.Second))
		poke(nj)
		second := scheduledRunName("replace", tick)
		waitPods(second, 1)
		Eventually(func(g Gomega) {
			old := getRun(first)
			g.Expect(old.Status.Phase).To(Equal(batchv1alpha1.NodeJobRunPhaseFailed))
			g.Expect(old.Status.Reason).To(Equal(NodeReasonReplaced))
			g.Expect(old.Status.FailedNodes).To(HaveLen(1))
			g.Expect(old.Status.FailedNodes[0].Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseFailed))
			nodes := nodeRecords(ns, first)
			g.Expect(nodes).To(HaveLen(2))
			g.Expect(nodes[0].Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseFailed))
			g.Expect(nodes[1].Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseSkipped))
			g.Expect(nodes[1].Reason).To(Equal(NodeReasonReplaced))
			g.Expect(podsOf(ns, first)).To(BeEmpty())
			g.Expect(kstatusOf(old)).To(Equal(kstatus.FailedStatus))
		}).Should(Succeed())
		Eventually(func() []string { return eventReasons(ns, "replace") }).Should(ContainElement(EventRunReplaced))
	})

	It("NJ-7 to NJ-9, NJ-11, NJ-S1: the 8-node layout gives 5 pods bound by affinity and 2 skipped entries", func() {
		nodes := readyNodes(ns, 5)
		nodes = append(nodes,
			testNode{name: ns + "-unsched", ready: true, matching: true, unschedulable: true},
			testNode{name: ns + "-notready", ready: false, matching: true},
			testNode{name: ns + "-other", ready: true, matching: false})
		createNodes(ns, nodes...)
		nj := newNodeJob(ns, "layout")
		nj.Spec.RunOnCreate = true
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("layout", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(name, 5)

		// The pods are created in the reconcile that writes the run's start, just before its status write.
		Eventually(func() *metav1.Time { return getRun(name).Status.StartTime }).ShouldNot(BeNil())
		run := getRun(name)
		Expect(run.Status.Desired).To(Equal(int32(5)))
		Expect(run.Status.Skipped).To(Equal(int32(2)))
		Expect(run.Status.Selected).To(Equal(int32(7)))
		Expect(run.Status.FailedNodes).To(BeEmpty())
		records := nodeRecords(ns, name)
		Expect(records).To(HaveLen(7))
		reasons := map[string]string{}
		for _, n := range records {
			reasons[n.Name] = n.Reason
		}
		Expect(reasons).To(HaveKeyWithValue(ns+"-unsched", NodeReasonUnschedulable))
		Expect(reasons).To(HaveKeyWithValue(ns+"-notready", NodeReasonNotReady))
		Expect(reasons).NotTo(HaveKey(ns + "-other"))
		Eventually(func() []string { return eventReasons(ns, name) }).Should(ContainElement(EventNodeSkipped))

		for _, pod := range pods {
			node := pod.Annotations[batchv1alpha1.NodeJobNodeNameAnnotation]
			Expect(pod.Name).To(Equal(name + "-" + names.NodeHash(node)))
			Expect(pod.Spec.NodeName).To(BeEmpty())
			terms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			Expect(terms).To(HaveLen(1))
			Expect(terms[0].MatchFields).To(ConsistOf(corev1.NodeSelectorRequirement{
				Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}))
			Expect(metav1.GetControllerOf(&pod).UID).To(Equal(run.UID))
			Expect(pod.Finalizers).To(ConsistOf(batchv1alpha1.NodeJobTrackingFinalizer))
			Expect(pod.Labels).To(HaveKeyWithValue("app", "check"))
			Expect(pod.Labels).To(HaveKeyWithValue(batchv1alpha1.NodeJobNodeHashLabel, names.NodeHash(node)))
			Expect(pod.Spec.AutomountServiceAccountToken).To(HaveValue(BeFalse()))
			Expect(pod.Spec.RestartPolicy).To(Equal(corev1.RestartPolicyNever))
			c := pod.Spec.Containers[0]
			Expect(c.Env[0].Name).To(Equal("OWN"))
			Expect(c.Env).To(ContainElements(
				corev1.EnvVar{Name: "NODE_NAME", Value: node},
				corev1.EnvVar{Name: "EXECUTION_ID", Value: run.Spec.ExecutionID},
				corev1.EnvVar{Name: "NAMESPACE", Value: ns},
				corev1.EnvVar{Name: "CALLBACK_SERVICE_NAME", Value: "jobkeeper-results.jobkeeper-system.svc"},
				corev1.EnvVar{Name: "CALLBACK_SERVICE_RESULT_URL",
					Value: "https://jobkeeper-results.jobkeeper-system.svc:443/report/" + node + "/" + run.Spec.ExecutionID + "/result"},
			))
			Expect(c.VolumeMounts).To(ContainElement(corev1.VolumeMount{Name: "jobkeeper-results",
				MountPath: "/var/run/secrets/jobkeeper/results", ReadOnly: true}))
		}
		Expect(kstatusOf(getRun(name))).To(Equal(kstatus.InProgressStatus))
		for i := range pods {
			setPodPhase(&pods[i], corev1.PodSucceeded)
		}
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		Eventually(func(g Gomega) {
			for _, p := range podsOf(ns, name) {
				g.Expect(p.Finalizers).To(BeEmpty())
			}
		}).Should(Succeed())
		Expect(kstatusOf(getRun(name))).To(Equal(kstatus.CurrentStatus))
	})

	It("the reconcile that selects the nodes creates the first pods and writes the run's start with them", func() {
		createNodes(ns, readyNodes(ns, 2)...)
		stop() // a run reconciler that counts its reads of runs from the API server
		var runReads atomic.Int32
		stop = startNodeJobControllersWith(ns, clk, func(r *NodeJobRunReconciler) {
			r.apiReader = countingReader{Reader: k8sClient, count: func(obj client.Object) {
				if _, ok := obj.(*metav1.PartialObjectMetadata); ok {
					runReads.Add(1)
				}
			}}
		})
		wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme.Scheme})
		Expect(err).NotTo(HaveOccurred())
		w, err := wc.Watch(ctx, &batchv1alpha1.NodeJobRunList{}, client.InNamespace(ns))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(w.Stop)
		nj := newNodeJob(ns, "first")
		nj.Spec.RunOnCreate = true
		nj.Spec.Parallelism = new(intstr.FromInt32(1))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("first", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(name, 1)
		Expect(runReads.Load()).To(Equal(int32(1)), "the first pod was created by a later reconcile, or without the run's freshness read")
		// The start was written with the running pod: no version of the run shows a start without it.
		var started *batchv1alpha1.NodeJobRun
		Eventually(w.ResultChan()).Should(Receive(Satisfy(func(e watch.Event) bool {
			run, ok := e.Object.(*batchv1alpha1.NodeJobRun)
			if ok && run.Status.StartTime != nil {
				started = run
			}
			return started != nil
		})))
		Expect(started.Status.Active).To(Equal(int32(1)))
		setPodPhase(&pods[0], corev1.PodSucceeded)
		waitPods(name, 2)
	})

	It("NJ-11, NJ-S2, NJ-S9: parallelism 2 on 5 nodes keeps at most 2 pods running and ends all 5", func() {
		createNodes(ns, readyNodes(ns, 5)...)
		nj := newNodeJob(ns, "par")
		nj.Spec.RunOnCreate = true
		nj.Spec.Parallelism = new(intstr.FromInt32(2))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("par", getNJ(nj).CreationTimestamp.Time)
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseRunning))
		Expect(kstatusOf(getRun(name))).To(Equal(kstatus.InProgressStatus))
		for finished := 0; finished < 5; {
			var active []corev1.Pod
			Eventually(func() []corev1.Pod {
				active = nonTerminal(podsOf(ns, name))
				return active
			}).Should(HaveLen(min(2, 5-finished)))
			Consistently(func() []corev1.Pod { return nonTerminal(podsOf(ns, name)) }).
				WithTimeout(300 * time.Millisecond).Should(HaveLen(len(active)))
			setPodPhase(&active[0], corev1.PodSucceeded)
			finished++
		}
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		Expect(podsOf(ns, name)).To(HaveLen(5))
		run := getRun(name)
		Expect(run.Status.Succeeded).To(Equal(int32(5)))
		Expect(run.Status.ObservedGeneration).To(Equal(run.Generation))
		Expect(kstatusOf(run)).To(Equal(kstatus.CurrentStatus))
	})

	It("NJ-17, NJ-S8, NJ-S9: FailFast ends the run Failed at the first failed node and starts no later pods", func() {
		createNodes(ns, readyNodes(ns, 3)...)
		nj := newNodeJob(ns, "ff")
		nj.Spec.RunOnCreate = true
		nj.Spec.Parallelism = new(intstr.FromInt32(1))
		nj.Spec.FailurePolicy = batchv1alpha1.NodeJobFailurePolicyFailFast
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("ff", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(name, 1)
		Expect(kstatusOf(getRun(name))).To(Equal(kstatus.InProgressStatus))
		setPodPhase(&pods[0], corev1.PodFailed)

		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseFailed))
		run := getRun(name)
		Expect(run.Status.Reason).To(Equal(NodeReasonFailFast))
		Expect(run.Status.FailedNodes).To(HaveLen(1))
		Expect(run.Status.FailedNodes[0].Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseFailed))
		Expect(run.Status.FailedNodes[0].Reason).To(Equal(NodeReasonContainerFailed))
		records := nodeRecords(ns, name)
		Expect(records[0].Reason).To(Equal(NodeReasonContainerFailed))
		Expect(records[1].Reason).To(Equal(NodeReasonFailFast))
		Expect(records[2].Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseSkipped))
		Expect(kstatusOf(run)).To(Equal(kstatus.FailedStatus))
		Consistently(func() []corev1.Pod { return podsOf(ns, name) }).WithTimeout(time.Second).Should(HaveLen(1))
		Eventually(func(g Gomega) {
			got := getNJ(nj)
			g.Expect(kstatusOf(got)).To(Equal(kstatus.FailedStatus))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled).Reason).To(Equal(NodeJobReasonRunFailed))
		}).Should(Succeed())
		Eventually(func() []string { return eventReasons(ns, "ff") }).Should(ContainElement(EventRunFailed))
		Eventually(func() []string { return eventReasons(ns, name) }).Should(ContainElement(EventNodeFailed))
	})

	It("NJ-18, NJ-S8: Pause stops at Paused, and clearing spec.paused finishes the remaining nodes", func() {
		createNodes(ns, readyNodes(ns, 2)...)
		nj := newNodeJob(ns, "pause")
		nj.Spec.RunOnCreate = true
		nj.Spec.Parallelism = new(intstr.FromInt32(1))
		nj.Spec.FailurePolicy = batchv1alpha1.NodeJobFailurePolicyPause
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("pause", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(name, 1)
		setPodPhase(&pods[0], corev1.PodFailed)
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhasePaused))
		run := getRun(name)
		Expect(run.Spec.Paused).To(BeTrue())
		Expect(kstatusOf(run)).To(Equal(kstatus.FailedStatus))
		Consistently(func() []corev1.Pod { return podsOf(ns, name) }).WithTimeout(time.Second).Should(HaveLen(1))

		Eventually(func() error {
			cur := getRun(name)
			cur.Spec.Paused = false
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		pods = waitPods(name, 2)
		for i := range pods {
			if pods[i].Status.Phase != corev1.PodFailed {
				setPodPhase(&pods[i], corev1.PodSucceeded)
			}
		}
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseFailed))
		Expect(getRun(name).Status.Succeeded).To(Equal(int32(1)))
	})

	It("a run-request token used before (a, b, a, as a revert in Git) is a new request: three runs", func() {
		nj := newNodeJob(ns, "revert")
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		var uids []string
		for i, tok := range []string{"a", "b", "a"} {
			clk.Step(time.Minute)
			annotate(nj, batchv1alpha1.NodeJobRunRequestAnnotation, tok)
			name := manualRunName("revert", tok, int64(i+1))
			Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
			uids = append(uids, string(getRun(name).UID))
		}
		Expect(runsOf(ns, "revert")).To(HaveLen(3))
		Expect(uids[0]).NotTo(Equal(uids[2]))
		got := getNJ(nj)
		Expect(got.Status.RunRequestCount).To(Equal(int64(3)))
		Expect(got.Status.LastHandledRunRequest).To(Equal("a"))
	})

	It("NJ-22, NJ-S7: after 4 successful runs with a limit of 3, the oldest run is deleted", func() {
		nj := newNodeJob(ns, "hist")
		nj.Spec.SuccessfulRunsHistoryLimit = new(int32(3))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		tokens := []string{"t1", "t2", "t3", "t4"}
		for i, tok := range tokens {
			clk.Step(time.Minute)
			annotate(nj, batchv1alpha1.NodeJobRunRequestAnnotation, tok)
			Eventually(runPhase(manualRunName("hist", tok, int64(i+1)))).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		}
		Eventually(func() []string {
			var names []string
			for _, r := range runsOf(ns, "hist") {
				names = append(names, r.Name)
			}
			return names
		}).Should(ConsistOf(manualRunName("hist", "t2", 2), manualRunName("hist", "t3", 3), manualRunName("hist", "t4", 4)))
		Eventually(func() []string { return eventReasons(ns, "hist") }).Should(ContainElement(EventRunsPruned))
	})

	It("NJ-12, NJ-32, NJ-S5: a restart mid-run neither duplicates nor loses a node", func() {
		createNodes(ns, readyNodes(ns, 4)...)
		nj := newNodeJob(ns, "restart")
		nj.Spec.RunOnCreate = true
		nj.Spec.Parallelism = new(intstr.FromInt32(2))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("restart", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(name, 2)
		Eventually(func(g Gomega) {
			run := &batchv1alpha1.NodeJobRun{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, run)).To(Succeed())
			g.Expect(run.Status.Active).To(Equal(int32(2)))
		}).Should(Succeed())

		stop()
		// While the operator is down, one pod ends and a third pod appears as if created just before the crash.
		setPodPhase(&pods[0], corev1.PodSucceeded)
		run := getRun(name)
		var pending string
		for _, n := range nodeRecords(ns, name) {
			if n.Phase == batchv1alpha1.NodeJobRunNodePhasePending {
				pending = n.Name
				break
			}
		}
		Expect(pending).NotTo(BeEmpty())
		early := buildNodeJobPod(run, pending, resultsEndpoint{serviceName: DefaultResultsServiceName,
			serviceNamespace: DefaultResultsServiceNamespace, port: DefaultResultsServicePort, audience: DefaultResultsAudience})
		early.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(run, batchv1alpha1.GroupVersion.WithKind("NodeJobRun"))}
		Expect(k8sClient.Create(ctx, early)).To(Succeed())

		stop = startNodeJobControllers(ns, clk)
		// The early pod's creation was never recorded, so it is not trusted: it is replaced by a pod whose UID is
		// recorded. With parallelism 2 the fourth node waits.
		Eventually(func(g Gomega) {
			pods := podsOf(ns, name)
			g.Expect(pods).To(HaveLen(3))
			g.Expect(pods).NotTo(ContainElement(HaveField("UID", early.UID)))
		}).Should(Succeed())
		Expect(eventReasons(ns, name)).To(ContainElement(EventUntrustedPod))
		Consistently(func() []corev1.Pod { return podsOf(ns, name) }).WithTimeout(time.Second).Should(HaveLen(3))
		Eventually(func(g Gomega) {
			for _, p := range nonTerminal(podsOf(ns, name)) {
				setPodPhase(&p, corev1.PodSucceeded)
			}
			g.Expect(getRun(name).Status.Phase).To(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		}).Should(Succeed())
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		run = getRun(name)
		Expect(run.Status.Succeeded).To(Equal(int32(4)))
		Expect(podsOf(ns, name)).To(HaveLen(4))
	})

	It("NJ-S5: a run whose report directory was lost keeps its pods and finishes", func() {
		createNodes(ns, readyNodes(ns, 2)...)
		nj := newNodeJob(ns, "lost")
		nj.Spec.RunOnCreate = true
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("lost", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(name, 2)
		Eventually(func() int32 { return getRun(name).Status.Active }).Should(Equal(int32(2)))

		stop()
		// The manager comes back with an empty report volume.
		Expect(storeOf(ns).RemoveRun(reports.LocationOf(getRun(name)))).To(Succeed())
		stop = startNodeJobControllers(ns, clk)
		Eventually(func(g Gomega) {
			recs, err := storeOf(ns).Nodes(reports.LocationOf(getRun(name)))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(recs).To(HaveLen(2))
			g.Expect(recs).To(HaveEach(HaveField("Phase", batchv1alpha1.NodeJobRunNodePhaseRunning)))
		}).Should(Succeed())
		Expect(nodeRecords(ns, name)).To(ConsistOf(HaveField("PodUID", pods[0].UID), HaveField("PodUID", pods[1].UID)))
		for i := range pods {
			setPodPhase(&pods[i], corev1.PodSucceeded)
		}
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		Expect(podsOf(ns, name)).To(HaveLen(2))
	})

	It("NJ-12: two nodes whose names collide in FNV-32 get one pod each", func() {
		a, b, ok := fnv32Collision(ns + "-")
		Expect(ok).To(BeTrue())
		createNodes(ns, testNode{name: a, ready: true, matching: true}, testNode{name: b, ready: true, matching: true})
		nj := newNodeJob(ns, "collide")
		nj.Spec.RunOnCreate = true
		nj.Spec.Parallelism = new(intstr.FromInt32(2))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("collide", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(name, 2)
		Expect(pods[0].Name).NotTo(Equal(pods[1].Name))
		Expect([]string{pods[0].Annotations[batchv1alpha1.NodeJobNodeNameAnnotation],
			pods[1].Annotations[batchv1alpha1.NodeJobNodeNameAnnotation]}).To(ConsistOf(a, b))
		Eventually(func() int32 { return getRun(name).Status.Active }).Should(Equal(int32(2)))
	})

	It("NJ-6: a suspended NodeJob starts nothing, and requests wait until it is resumed", func() {
		nj := newNodeJob(ns, "susp")
		nj.Spec.Suspend = true
		nj.Spec.RunOnCreate = true
		nj.Spec.Schedule = "@hourly"
		nj.Annotations = map[string]string{batchv1alpha1.NodeJobRunRequestAnnotation: "wait"}
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getNJ(nj)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeReady).Reason).To(Equal(NodeJobReasonSuspended))
			g.Expect(got.Status.NextScheduleTime).To(BeNil())
		}).Should(Succeed())
		Consistently(func() []batchv1alpha1.NodeJobRun { return runsOf(ns, "susp") }).WithTimeout(time.Second).Should(BeEmpty())

		Eventually(func() error {
			cur := getNJ(nj)
			cur.Spec.Suspend = false
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		// Under Forbid the on-create run goes first; the request follows once it ended.
		Eventually(runPhase(manualRunName("susp", "wait", 1))).Should(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
		Expect(runsOf(ns, "susp")).To(HaveLen(2))
	})

	It("NJ-2: a tick later than startingDeadlineSeconds is recorded as missed and runs nothing", func() {
		nj := newNodeJob(ns, "late")
		nj.Spec.Schedule = "0 * * * *"
		nj.Spec.StartingDeadlineSeconds = new(int64(60))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		Eventually(func() *metav1.Time { return getNJ(nj).Status.NextScheduleTime }).ShouldNot(BeNil())
		tick := clk.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		clk.SetTime(tick.Add(5 * time.Minute))
		poke(nj)
		Eventually(func(g Gomega) {
			got := getNJ(nj)
			g.Expect(got.Status.LastScheduleTime).NotTo(BeNil())
			g.Expect(got.Status.LastScheduleTime.Time.Equal(tick)).To(BeTrue())
		}).Should(Succeed())
		Eventually(func() []string { return eventReasons(ns, "late") }).Should(ContainElement(EventMissedSchedule))
		Expect(runsOf(ns, "late")).To(BeEmpty())
	})

	It("NJ-X1, NJ-X3, NJ-34: without the webhook, an unparsable schedule or unknown time zone stalls with InvalidSpec", func() {
		nj := newNodeJob(ns, "bad")
		nj.Spec.Schedule = "61 * * * *"
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getNJ(nj)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, status.TypeStalled)).To(
				HaveField("Reason", NodeJobReasonInvalidSpec))
			g.Expect(kstatusOf(got)).To(Equal(kstatus.FailedStatus))
		}).Should(Succeed())
		Eventually(func() []string { return eventReasons(ns, "bad") }).Should(ContainElement(EventInvalidSchedule))

		// NJ-X3: a time zone the schema lets through but that does not exist.
		zone := newNodeJob(ns, "zone")
		zone.Spec.Schedule = "@daily"
		zone.Spec.TimeZone = new("Mars/Base")
		Expect(k8sClient.Create(ctx, zone)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(kstatusOf(getNJ(zone))).To(Equal(kstatus.FailedStatus))
			g.Expect(eventReasons(ns, "zone")).To(ContainElement(EventUnknownTimeZone))
		}).Should(Succeed())
	})

	It("NJ-19: when the run deadline passes, active pods go, unstarted nodes are skipped and the run fails", func() {
		createNodes(ns, readyNodes(ns, 2)...)
		nj := newNodeJob(ns, "deadline")
		nj.Spec.RunOnCreate = true
		nj.Spec.Parallelism = new(intstr.FromInt32(1))
		nj.Spec.ActiveDeadlineSeconds = new(int64(60))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("deadline", getNJ(nj).CreationTimestamp.Time)
		waitPods(name, 1)
		clk.Step(2 * time.Minute)
		annotateRun(ns, name)
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseFailed))
		run := getRun(name)
		Expect(run.Status.Reason).To(Equal(NodeReasonDeadlineExceeded))
		records := nodeRecords(ns, name)
		Expect(records).To(HaveEach(HaveField("Reason", NodeReasonDeadlineExceeded)))
		Expect(records[0].Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseFailed))
		Expect(records[1].Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseSkipped))
		Expect(run.Status.FailedNodes).To(HaveLen(1))
		Eventually(func() []corev1.Pod { return podsOf(ns, name) }).Should(BeEmpty())
		Eventually(func() []string { return eventReasons(ns, name) }).Should(ContainElement(EventDeadlineExceeded))
	})

	It("NJ-20: a pod older than podActiveDeadlineSeconds is deleted and its node fails", func() {
		createNodes(ns, readyNodes(ns, 1)...)
		nj := newNodeJob(ns, "poddl")
		nj.Spec.RunOnCreate = true
		nj.Spec.PodActiveDeadlineSeconds = new(int64(30))
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("poddl", getNJ(nj).CreationTimestamp.Time)
		pods := waitPods(name, 1)
		Expect(pods[0].Spec.ActiveDeadlineSeconds).To(HaveValue(Equal(int64(30))))
		clk.Step(time.Minute)
		annotateRun(ns, name)
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseFailed))
		Expect(getRun(name).Status.FailedNodes[0].Reason).To(Equal(NodeReasonDeadlineExceeded))
		Eventually(func() []corev1.Pod { return podsOf(ns, name) }).Should(BeEmpty())
	})

	It("NJ-15: a pod deleted by someone else fails its node with PodDeleted, a deleted node with NodeDeleted", func() {
		nodes := readyNodes(ns, 2)
		createNodes(ns, nodes...)
		nj := newNodeJob(ns, "gone")
		nj.Spec.RunOnCreate = true
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("gone", getNJ(nj).CreationTimestamp.Time)
		waitPods(name, 2)
		podA := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.NodeJobPodName(name, nodes[0].name)}}
		Expect(k8sClient.Delete(ctx, podA)).To(Succeed())
		Expect(k8sClient.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodes[1].name}})).To(Succeed())
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseFailed))
		run := getRun(name)
		Expect(run.Status.FailedNodes[0].Reason).To(Equal(NodeReasonPodDeleted))
		Expect(run.Status.FailedNodes[1].Reason).To(Equal(NodeReasonNodeDeleted))
		Expect(run.Status.Failed).To(Equal(int32(2)))
		Eventually(func() []corev1.Pod { return podsOf(ns, name) }).Should(BeEmpty())
	})

	It("NJ-13: a pod the API server refuses as invalid fails the run at once with the API server's message", func() {
		createNodes(ns, readyNodes(ns, 3)...)
		nj := newNodeJob(ns, "nocreate")
		nj.Spec.RunOnCreate = true
		nj.Spec.Parallelism = new(intstr.FromInt32(3))
		nj.Spec.Template.Spec.Containers[0].Name = "Not_A_DNS_Label"
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("nocreate", getNJ(nj).CreationTimestamp.Time)
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseFailed))
		run := getRun(name)
		Expect(run.Status.Reason).To(Equal(NodeJobRunReasonPodRejected))
		Expect(run.Status.Message).To(ContainSubstring("Not_A_DNS_Label"))
		stalled := meta.FindStatusCondition(run.Status.Conditions, "Stalled")
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Message).To(ContainSubstring("Not_A_DNS_Label"))
		Expect(run.Status.FailedNodes).To(HaveLen(1))
		Expect(run.Status.FailedNodes[0].Reason).To(Equal(NodeReasonPodCreateFailed))
		// One refusal, not one per attempt and node: the other nodes are skipped without a try.
		Expect(run.Status.Skipped).To(Equal(int32(2)))
		Eventually(func() []string { return eventReasons(ns, name) }).Should(ContainElement(EventPodCreateFailed))
		Consistently(func() int {
			n := 0
			for _, r := range eventReasons(ns, name) {
				if r == EventPodCreateFailed {
					n++
				}
			}
			return n
		}).WithTimeout(time.Second).Should(Equal(1))
	})

	It("NJ-10: more selected nodes than the limit fail the run with TooManyNodes and create no pod", func() {
		stop()
		stop = startNodeJobControllersWith(ns, clk, func(r *NodeJobRunReconciler) { r.MaxNodesPerRun = 1 })
		createNodes(ns, readyNodes(ns, 2)...)
		nj := newNodeJob(ns, "many")
		nj.Spec.RunOnCreate = true
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		name := scheduledRunName("many", getNJ(nj).CreationTimestamp.Time)
		Eventually(runPhase(name)).Should(Equal(batchv1alpha1.NodeJobRunPhaseFailed))
		Expect(getRun(name).Status.Reason).To(Equal(NodeJobRunReasonTooManyNodes))
		Consistently(func() []corev1.Pod { return podsOf(ns, name) }).WithTimeout(500 * time.Millisecond).Should(BeEmpty())
	})
})

// countingReader is a client.Reader that reports each Get before passing it on.
type countingReader struct {
	client.Reader
	count func(client.Object)
}

func (c countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.count(obj)
	return c.Reader.Get(ctx, key, obj, opts...)
}
