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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/apimetrics"
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
	const n = 12

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
			got := get(name)
			finishJob(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: got.Status.LastRun.Name}}, true)
		}
		for _, name := range names {
			Eventually(func(g Gomega) {
				got := get(name)
				g.Expect(got.Status.LastRun.Result).To(Equal(quarksv1alpha1.RunResultSucceeded))
				g.Expect(got.Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
			}).Should(Succeed())
		}
		time.Sleep(time.Second) // the succeeded Jobs' deletions and their events settle
		GinkgoWriter.Printf("first runs (create, run, finish): %s\n", counter)

		counter.reset()
		cm.Data["version"] = "1"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		waitRun(names, 2)
		time.Sleep(time.Second) // the reconciles that follow the status writes
		GinkgoWriter.Printf("config fan-out, %d QuarksJobs: %s\n", n, counter)
		AddReportEntry("requests per config-change run", fmt.Sprintf("%.2f (%s)", float64(counter.total())/n, counter))
		Expect(counter.get("get configmaps")).To(BeNumerically("<=", 2), "the ConfigMap is read once, not per QuarksJob: %s", counter)
		Expect(counter.get("create jobs")).To(Equal(n), "%s", counter)
	})
})
