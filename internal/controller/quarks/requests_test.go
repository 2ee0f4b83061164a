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
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/apimetrics"
	"github.com/jobkeeper/jobkeeper/internal/runs"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// requestCounter counts the requests a manager's clients send, by verb and
// resource; watches and lists (the informers') are left out.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *requestCounter) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if verb, resource := apimetrics.Classify(req.Method, req.URL); verb != "watch" && verb != "list" {
			c.mu.Lock()
			c.counts[verb+" "+resource]++
			c.mu.Unlock()
		}
		return next.RoundTrip(req)
	})
}

// reset forgets what was counted.
func (c *requestCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[string]int{}
}

// get returns the count of one "verb resource".
func (c *requestCounter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key]
}

// total returns the number of requests counted.
func (c *requestCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

func (c *requestCounter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.counts)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c.counts[k]))
	}
	return strings.Join(parts, ", ")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// startCountedQuarksJobController is startQuarksJobController with every
// request of the manager's clients counted by counter.
func startCountedQuarksJobController(namespace string, counter *requestCounter, workers int) (stop func()) {
	cfg, err := utils.UserConfig(testEnv, managerUser)
	Expect(err).NotTo(HaveOccurred())
	counter.reset()
	cfg.Wrap(counter.wrap)
	mctx, cancel := context.WithCancel(ctx)
	done, err := utils.StartManager(mctx, cfg, scheme.Scheme, namespace, func(mgr ctrl.Manager) error {
		return (&QuarksJobReconciler{
			Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Namespaces: []string{namespace}, HashKey: testHashKey,
			MaxConcurrentReconciles: workers,
		}).SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	return func() {
		cancel()
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(BeNil()))
	}
}

var _ = Describe("QuarksJob API requests per run", func() {
	const n = 20

	var (
		ns      string
		counter *requestCounter
	)

	BeforeEach(func() {
		ns = newNamespace("qjq-")
		counter = &requestCounter{}
		stop := startCountedQuarksJobController(ns, counter, 4)
		DeferCleanup(func() { stop() })
	})

	get := func(name string) *quarksv1alpha1.QuarksJob {
		out := &quarksv1alpha1.QuarksJob{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, out)).To(Succeed())
		return out
	}
	// create makes n QuarksJobs of strategy once that re-run when the
	// ConfigMap cm changes, as the config fan-out benchmark does.
	create := func(cm string) []string {
		var names []string
		for i := range n {
			qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fan-%02d", i), Namespace: ns}}
			qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
			qj.Spec.UpdateOnConfigChange = true
			qj.Spec.Template.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
					ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}}},
				Containers: []corev1.Container{{Name: "main", Image: "busybox",
					VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}}}}}
			Expect(k8sClient.Create(ctx, qj)).To(Succeed())
			names = append(names, qj.Name)
		}
		return names
	}
	// waitRun waits until every QuarksJob records run r as running and its Job exists.
	waitRun := func(names []string, r int64) {
		for _, name := range names {
			EventuallyWithOffset(1, func(g Gomega) {
				got := get(name)
				g.Expect(got.Status.RunCount).To(Equal(r))
				g.Expect(got.Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultRunning))
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: runJobName(got, r)}, &batchv1.Job{})).To(Succeed())
			}).Should(Succeed())
		}
	}

	It("a changed ConfigMap that n QuarksJobs reference is read from the API server about once, not once per QuarksJob", func() {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: ns}, Data: map[string]string{"version": "0"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		names := create(cm.Name)
		waitRun(names, 1)
		for _, name := range names {
			Eventually(func() quarksv1alpha1.Strategy { return get(name).Spec.Trigger.Strategy }).Should(Equal(quarksv1alpha1.StrategyDone))
		}
		time.Sleep(time.Second) // the reconciles that follow the writes
		GinkgoWriter.Printf("first runs started, %d QuarksJobs: %s\n", n, counter)
		AddReportEntry("requests per first run", fmt.Sprintf("%.2f (%s)", float64(counter.total())/n, counter))
		Expect(counter.get("get quarksjobs")).To(BeNumerically("<", n/2),
			"the QuarksJob is read only until an own write proves the cache fresh: %s", counter)
		Expect(counter.get("patch quarksjobs/status")).To(BeNumerically("<=", n+n/4),
			"the status is written once per run start; the write-back's generation is recorded with the run's end: %s", counter)

		counter.reset()
		for _, name := range names {
			got := get(name)
			finishJob(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: got.Status.LastRun.Name}}, true)
		}
		for _, name := range names {
			Eventually(func(g Gomega) {
				got := get(name)
				g.Expect(got.Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
				g.Expect(got.Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
				g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
				g.Expect(kstatusOf(got)).To(Equal(kstatus.CurrentStatus))
			}).Should(Succeed())
		}
		time.Sleep(time.Second) // the succeeded Jobs' deletions and their events settle
		GinkgoWriter.Printf("first runs finished: %s\n", counter)
		Expect(counter.get("delete jobs")).To(Equal(n), "each succeeded Job is deleted once: %s", counter)

		counter.reset()
		cm.Data["version"] = "1"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		waitRun(names, 2)
		time.Sleep(time.Second) // the reconciles that follow the status writes
		GinkgoWriter.Printf("config fan-out, %d QuarksJobs: %s\n", n, counter)
		AddReportEntry("requests per config-change run", fmt.Sprintf("%.2f (%s)", float64(counter.total())/n, counter))
		Expect(counter.get("get configmaps")).To(BeNumerically("<=", 2), "the ConfigMap is read once, not per QuarksJob: %s", counter)
		Expect(counter.get("get quarksjobs")).To(BeNumerically("<", n/2),
			"the QuarksJob is read only until an own write proves the cache fresh: %s", counter)
		Expect(counter.get("create jobs")).To(Equal(n), "%s", counter)
	})
})

// quarksJobReads counts the reads of QuarksJobs through a reader.
type quarksJobReads struct {
	client.Reader
	mu sync.Mutex
	n  int
}

func (q *quarksJobReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok && m.Kind == "QuarksJob" {
		q.mu.Lock()
		q.n++
		q.mu.Unlock()
	}
	return q.Reader.Get(ctx, key, obj, opts...)
}

func (q *quarksJobReads) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

var _ = Describe("QuarksJob run starts from a cache proven fresh", func() {
	var ns string

	BeforeEach(func() {
		ns = newNamespace("qjf-")
	})

	get := func(qj *quarksv1alpha1.QuarksJob) *quarksv1alpha1.QuarksJob {
		out := &quarksv1alpha1.QuarksJob{}
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(qj), out)).To(Succeed())
		return out
	}

	It("QJ-5: a data change made after a change to manual runs nothing from a stale copy, though earlier own writes proved the cache fresh", func() {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config", Namespace: ns}, Data: map[string]string{"v": "0"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "stale-manual", Namespace: ns}}
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		qj.Spec.UpdateOnConfigChange = true
		qj.Spec.Template.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox", EnvFrom: []corev1.EnvFromSource{{
				ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}}}}}}}
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())

		r, rc := newStaleQuarksJobReconciler()
		reads := &quarksJobReads{Reader: k8sClient}
		r.apiReader = reads
		r.refMemo = newRefMemo(refMemoBudget)
		r.freshness = newCacheFreshness()
		// reconcile reconciles from copy; then the cache catches up with what
		// the API server has, and delivers it, as the informer would.
		reconcile := func(copy *quarksv1alpha1.QuarksJob) ctrl.Result {
			GinkgoHelper()
			rc.Serve(copy)
			res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(qj)})
			Expect(err).NotTo(HaveOccurred())
			r.freshness.observed(ns, get(qj).ResourceVersion)
			return res
		}

		By("run 1 starts and succeeds; the manager's own writes prove the cache fresh")
		reconcile(get(qj))
		Expect(get(qj).Status.RunCount).To(Equal(int64(1)))
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: get(qj).Status.LastRun.Name}}
		finishJob(job, true)
		reconcile(get(qj))
		done := get(qj)
		Expect(done.Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
		Expect(done.Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
		Expect(r.freshness.covers(ns, time.Time{})).To(BeTrue())

		By("manual, then a data change; the cache still holds the copy with done")
		manual := done.DeepCopy()
		manual.Spec.Trigger.Strategy = quarksv1alpha1.StrategyManual
		Expect(k8sClient.Update(ctx, manual)).To(Succeed())
		cm.Data["v"] = "1"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		before := reads.count()
		rc.Serve(done)
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(qj)})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(Equal(staleCacheRetry), "the stale copy is found out and the reconcile repeated")
		Expect(reads.count()).To(Equal(before+1), "the QuarksJob is read from the API server: no own write proves the cache fresh after the data was read")
		Expect(get(qj).Status.RunCount).To(Equal(int64(1)))
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: runJobName(done, 2)}, &batchv1.Job{}))).To(
			BeTrue(), "run 2 has no Job")

		By("the repeated reconcile reads the current copy and runs nothing")
		reconcile(get(qj))
		Expect(get(qj).Status.RunCount).To(Equal(int64(1)))

		By("done again: the run starts, and its own status write proves the cache fresh for the next data change")
		cur := get(qj)
		cur.Spec.Trigger.Strategy = quarksv1alpha1.StrategyDone
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())
		reconcile(get(qj))
		Expect(get(qj).Status.RunCount).To(Equal(int64(2)))
		finishJob(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: get(qj).Status.LastRun.Name}}, true)
		reconcile(get(qj))
		Expect(get(qj).Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
		cm.Data["v"] = "2"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		reconcile(get(qj)) // reads the changed data: no proof after it yet
		Expect(get(qj).Status.RunCount).To(Equal(int64(3)))
		before = reads.count()
		finishJob(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: get(qj).Status.LastRun.Name}}, true)
		reconcile(get(qj))
		Expect(get(qj).Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
		cur = get(qj)
		cur.Annotations = map[string]string{quarksv1alpha1.RunRequestAnnotation: "again"}
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())
		reconcile(get(qj))
		Expect(get(qj).Status.RunCount).To(Equal(int64(4)))
		Expect(reads.count()).To(Equal(before), "a run from data read before a delivered own write needs no read of the QuarksJob")
	})

	It("a copy from before the manager's own strategy write-back is held back without reading the QuarksJob", func() {
		qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "held", Namespace: ns}}
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		qj.Spec.Template.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}
		Expect(k8sClient.Create(ctx, qj)).To(Succeed())
		r, rc := newStaleQuarksJobReconciler()
		reads := &quarksJobReads{Reader: k8sClient}
		r.apiReader = reads
		r.writeBacks = runs.NewExpectations()

		rc.Serve(get(qj))
		_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(qj)})
		Expect(err).NotTo(HaveOccurred())
		written := get(qj)
		Expect(written.Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
		Expect(written.Status.RunCount).To(Equal(int64(1)))

		By("the cache shows the status write but not yet the write-back")
		stale := written.DeepCopy()
		stale.Generation--
		stale.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		before := reads.count()
		rc.Serve(stale)
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(qj)})
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(Equal(ctrl.Result{}), "the write-back's own event brings the next reconcile")
		Expect(reads.count()).To(Equal(before))
		Expect(get(qj).ResourceVersion).To(Equal(written.ResourceVersion), "nothing is written from the older copy")

		By("the write-back arrives")
		rc.Serve(written)
		_, err = r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(qj)})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.writeBacks.Pending(written.UID)).To(BeFalse())
		Expect(get(qj).Status.RunCount).To(Equal(int64(1)))
	})
})
