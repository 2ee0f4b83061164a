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
	"github.com/jobkeeper/jobkeeper/internal/quarksoutput"
	resultsquarksjob "github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

var _ = Describe("QuarksJob output wait", func() {
	var (
		ns     string
		waiter *quarksoutput.Waiter
	)

	BeforeEach(func() {
		ns = newNamespace("qjwait-")
		userCfg, err := utils.UserConfig(testEnv, managerUser)
		Expect(err).NotTo(HaveOccurred())
		mctx, cancel := context.WithCancel(ctx)
		done, err := utils.StartManager(mctx, userCfg, scheme.Scheme, ns, func(mgr ctrl.Manager) error {
			waiter, err = quarksoutput.NewWaiter(mgr, []string{ns})
			return err
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			cancel()
			Eventually(done).WithTimeout(30 * time.Second).Should(Receive(BeNil()))
		})
	})

	target := func() *resultsquarksjob.Target {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: ns,
				Labels: map[string]string{quarksv1alpha1.QuarksJobNameLabel: "qj"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{
				{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox"},
				{Name: quarksv1alpha1.OutputPersistContainerName, Image: "jobkeeper"},
			}},
		}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: ns, Annotations: map[string]string{
			quarksv1alpha1.OutputSpecAnnotation: `{"outputMap":{"b":{"y.json":{"name":"y"},"x.json":{"name":"x"}}}}`,
		}}}
		return &resultsquarksjob.Target{Pod: pod, Job: job}
	}
	terminate := func(pod *corev1.Pod, codes map[string]int32) {
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		pod.Status.ContainerStatuses = nil
		for _, c := range pod.Spec.Containers {
			st := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image}
			if code, ok := codes[c.Name]; ok {
				st.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Exited"}
			} else {
				st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
			}
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, st)
		}
		Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
	}

	It("QJ-20, QJ-F15: answers once every user container ended, woken by the pod watch", func() {
		t := target()
		terminate(t.Pod, map[string]int32{"a": 0})

		By("holding while container b runs, then answering nothing")
		start := time.Now()
		resp, err := waiter.Wait(ctx, t, time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp).To(BeNil())
		Expect(time.Since(start)).To(BeNumerically(">=", 900*time.Millisecond))

		By("answering as soon as container b ends")
		type result struct {
			resp *wire.WaitResponse
			err  error
		}
		got := make(chan result, 1)
		go func() {
			defer GinkgoRecover()
			r, err := waiter.Wait(ctx, t, 30*time.Second)
			got <- result{r, err}
		}()
		time.Sleep(200 * time.Millisecond)
		terminate(t.Pod, map[string]int32{"a": 0, "b": 3})
		// Woken by the watch, the answer comes long before the request's own 30 s; on a machine busy with other
		// test packages the watch event can take seconds, so the wait allows 25.
		var r result
		Eventually(got).WithTimeout(25 * time.Second).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.resp).To(Equal(&wire.WaitResponse{
			Containers: map[string]wire.ContainerState{"a": {ExitCode: 0}, "b": {ExitCode: 3}},
			Files:      []wire.WaitFile{{Container: "b", File: "x.json"}, {Container: "b", File: "y.json"}},
		}))
	})
})
