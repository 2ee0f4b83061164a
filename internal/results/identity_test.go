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

package results_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/results/nodejob"
)

// The test server listens on 127.0.0.1, so every request of these specs comes from that address.
const testSourceIP = "127.0.0.1"

var _ = Describe("NodeJob callerIdentity PodIP", Serial, func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace("results-ip-")
	})

	byIP := func(identity batchv1alpha1.NodeJobCallerIdentity) func(*batchv1alpha1.NodeJobRun) {
		return func(r *batchv1alpha1.NodeJobRun) { r.Spec.CallerIdentity = identity }
	}
	// withAddress labels pod as the run's pod (the run pod cache holds only those) and gives it the test's source
	// address, as the kubelet would; DeferCleanup deletes it so that later specs see no second pod with it.
	withAddress := func(pod *corev1.Pod, run *batchv1alpha1.NodeJobRun, mutate func(*corev1.Pod)) *corev1.Pod {
		GinkgoHelper()
		patch := client.MergeFrom(pod.DeepCopy())
		pod.Labels = map[string]string{batchv1alpha1.NodeJobRunNameLabel: run.Name}
		Expect(k8sClient.Patch(ctx, pod, patch)).To(Succeed())
		pod.Status.Phase = corev1.PodRunning
		pod.Status.PodIP = testSourceIP
		pod.Status.PodIPs = []corev1.PodIP{{IP: testSourceIP}}
		if mutate != nil {
			mutate(pod)
		}
		Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod))).To(Succeed()) })
		return pod
	}

	It("takes a request without a token from the address of a run's pod as that pod's, and only then", func() {
		run := createRun(ns, "nj-29000000", executionID, []string{"node-a", "node-b"}, byIP(batchv1alpha1.NodeJobCallerIdentityPodIP))
		pod := withAddress(createNodePod(run, "node-a"), run, nil)
		path := reportPath("node-a", executionID, "result")
		Eventually(func() answer { return post(path, "", exampleResult) }).Should(haveCode(200))
		Expect(njSink.seriesOf(pod)).To(HaveLen(2))

		By("the same pod may not report for another node: the usual checks follow")
		Expect(post(reportPath("node-b", executionID, "result"), "", exampleResult)).To(haveCode(403, "Forbidden"))

		By("a second running pod with the same address makes the address ambiguous")
		other := withAddress(createNodePod(run, "node-b"), run, nil)
		Eventually(func() answer { return post(path, "", exampleResult) }).Should(haveCode(401, "Unauthenticated"))

		By("the pod of node-b ended; the address is node-a's again")
		other.Status.Phase = corev1.PodSucceeded
		Expect(k8sClient.Status().Update(ctx, other)).To(Succeed())
		Eventually(func() answer { return post(path, "", exampleResult) }).Should(haveCode(200))
	})

	It("waits for the cache to learn the address of a pod whose first request comes before its IP is reported", func() {
		run := createRun(ns, "nj-29000000", executionID, []string{"node-a"}, byIP(batchv1alpha1.NodeJobCallerIdentityPodIP))
		pod := createNodePod(run, "node-a")
		patch := client.MergeFrom(pod.DeepCopy())
		pod.Labels = map[string]string{batchv1alpha1.NodeJobRunNameLabel: run.Name}
		Expect(k8sClient.Patch(ctx, pod, patch)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod))).To(Succeed()) })
		reported := make(chan error, 1)
		go func() {
			// The kubelet reports the IP a moment after the container started.
			time.Sleep(300 * time.Millisecond)
			pod.Status.Phase = corev1.PodRunning
			pod.Status.PodIP = testSourceIP
			pod.Status.PodIPs = []corev1.PodIP{{IP: testSourceIP}}
			reported <- k8sClient.Status().Update(ctx, pod)
		}()
		Expect(post(reportPath("node-a", executionID, "result"), "", exampleResult)).To(haveCode(200))
		Expect(<-reported).To(Succeed())
		Expect(njSink.seriesOf(pod)).To(HaveLen(2))
	})

	It("needs a token for runs with callerIdentity Token, for host-network pods and for pods it did not record", func() {
		path := reportPath("node-a", executionID, "result")

		By("a run with the default identity")
		run := createRun(ns, "nj-29000000", executionID, []string{"node-a"}, nil)
		Expect(run.Spec.CallerIdentity).To(Equal(batchv1alpha1.NodeJobCallerIdentityToken), "the CRD default")
		pod := withAddress(createNodePod(run, "node-a"), run, nil)
		Consistently(func() answer { return post(path, "", exampleResult) }, "2s").Should(haveCode(401, "Unauthenticated"))
		Expect(njSink.seriesOf(pod)).To(BeEmpty())
		Expect(post(path, tokenFor(pod, ns, audience), exampleResult)).To(haveCode(200), "its token still works")
		Expect(k8sClient.Delete(ctx, pod)).To(Succeed())

		By("a pod on the host network")
		ipRun := createRun(ns, "nj-29000060", executionID2, []string{"node-a"}, byIP(batchv1alpha1.NodeJobCallerIdentityPodIP))
		hostPod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: nodejob.PodName(ipRun.Name, "node-a"), Namespace: ns,
				Annotations: map[string]string{batchv1alpha1.NodeJobNodeNameAnnotation: "node-a"},
				OwnerReferences: []metav1.OwnerReference{
					*metav1.NewControllerRef(ipRun, batchv1alpha1.GroupVersion.WithKind("NodeJobRun"))}},
			Spec: corev1.PodSpec{HostNetwork: true, ServiceAccountName: jobSA, RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
		}
		Expect(k8sClient.Create(ctx, hostPod)).To(Succeed())
		recordPod(ipRun, "node-a", hostPod)
		withAddress(hostPod, ipRun, nil)
		hostPath := reportPath("node-a", executionID2, "result")
		Consistently(func() answer { return post(hostPath, "", exampleResult) }, "2s").Should(haveCode(401, "Unauthenticated"))
		Expect(njSink.seriesOf(hostPod)).To(BeEmpty())
		Expect(k8sClient.Delete(ctx, hostPod)).To(Succeed())

		By("a pod named, annotated and controlled like the run's pod, which the operator did not create")
		fakeRun := createRun(ns, "nj-29000120", "202601010200", []string{"node-a"}, byIP(batchv1alpha1.NodeJobCallerIdentityPodIP))
		fake := withAddress(createUnrecordedNodePod(fakeRun, "node-a"), fakeRun, nil)
		Eventually(func() answer { return post(reportPath("node-a", "202601010200", "result"), "", exampleResult) }).
			Should(haveCode(403, "Forbidden"))
		Expect(njSink.seriesOf(fake)).To(BeEmpty())
	})
})
