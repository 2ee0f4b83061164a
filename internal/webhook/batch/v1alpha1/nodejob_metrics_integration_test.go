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

package v1alpha1

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var _ = Describe("NodeJob metric families shared across NodeJobs (NJ-X12)", func() {
	var ns1, ns2, prefix string

	BeforeEach(func() {
		for _, ns := range []*string{&ns1, &ns2} {
			n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "nj-x12-"}}
			Expect(k8sClient.Create(ctx, n)).To(Succeed())
			*ns = n.Name
		}
		// Families are cluster-wide; every test has its own prefix.
		prefix = "x12_" + rand.String(6)
	})

	newNodeJob := func(ns, name, prefix string, gauges map[string]batchv1alpha1.NodeJobGauge) *batchv1alpha1.NodeJob {
		nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		nj.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}
		nj.Spec.Metrics.Prefix = prefix
		nj.Spec.Metrics.Gauges = gauges
		return nj
	}
	gauge := func(help string, labels ...string) map[string]batchv1alpha1.NodeJobGauge {
		return map[string]batchv1alpha1.NodeJobGauge{"load": {Help: help, Labels: labels}}
	}
	// denied creates nj until the webhook, whose cache may not have seen the NodeJobs created just before, denies
	// it; a NodeJob admitted on the way is deleted again.
	denied := func(nj *batchv1alpha1.NodeJob) error {
		GinkgoHelper()
		var last error
		Eventually(func() error {
			attempt := nj.DeepCopy()
			last = k8sClient.Create(ctx, attempt)
			if last == nil {
				Expect(k8sClient.Delete(ctx, attempt)).To(Succeed())
				Eventually(func() bool {
					return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(attempt), attempt))
				}).Should(BeTrue())
				return fmt.Errorf("admitted")
			}
			return nil
		}).Should(Succeed())
		Expect(apierrors.IsInvalid(last)).To(BeTrue(), "error: %v", last)
		return last
	}

	It("admits the same family with the same labels and help in another NodeJob", func() {
		Expect(k8sClient.Create(ctx, newNodeJob(ns1, "a", prefix, gauge("Load.", "b", "a")))).To(Succeed())
		Expect(k8sClient.Create(ctx, newNodeJob(ns2, "a", prefix, gauge("Load.", "a", "b")))).To(Succeed())
		Expect(k8sClient.Create(ctx, newNodeJob(ns1, "b", prefix, nil))).To(Succeed(), "the operator's own families are shared")
	})

	It("denies other help or other labels at spec.metrics.gauges[<suffix>]", func() {
		Expect(k8sClient.Create(ctx, newNodeJob(ns1, "a", prefix, gauge("Load.", "a")))).To(Succeed())

		err := denied(newNodeJob(ns2, "b", prefix, gauge("Other help.", "a")))
		Expect(err.Error()).To(ContainSubstring("spec.metrics.gauges[load]"))
		Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("metric %s_load is already declared with other labels or help by NodeJob %s/a", prefix, ns1)))

		err = denied(newNodeJob(ns1, "c", prefix, gauge("Load.", "a", "z")))
		Expect(err.Error()).To(ContainSubstring("spec.metrics.gauges[load]"))
	})

	It("denies a gauge named like another prefix's own family", func() {
		Expect(k8sClient.Create(ctx, newNodeJob(ns1, "a", prefix+"_x", nil))).To(Succeed())
		err := denied(newNodeJob(ns2, "b", prefix, map[string]batchv1alpha1.NodeJobGauge{"x_pods": {Help: "Pods."}}))
		Expect(err.Error()).To(ContainSubstring("spec.metrics.gauges[x_pods]"))
		Expect(err.Error()).To(ContainSubstring(prefix + "_x_pods"))
	})

	It("denies an update that changes a shared family, and admits other updates", func() {
		Expect(k8sClient.Create(ctx, newNodeJob(ns1, "a", prefix, gauge("Load.", "a")))).To(Succeed())
		b := newNodeJob(ns2, "b", prefix, gauge("Load.", "a"))
		Expect(k8sClient.Create(ctx, b)).To(Succeed())

		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			b.Spec.Metrics.Gauges["load"] = batchv1alpha1.NodeJobGauge{Help: "Changed.", Labels: []string{"a"}}
			err := k8sClient.Update(ctx, b)
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
			g.Expect(err.Error()).To(ContainSubstring("spec.metrics.gauges[load]"))
		}).Should(Succeed())

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(b), b)).To(Succeed())
		b.Spec.Schedule = "@hourly"
		Expect(k8sClient.Update(ctx, b)).To(Succeed())
	})
})
