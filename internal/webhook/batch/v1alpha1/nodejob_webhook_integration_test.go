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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var _ = Describe("NodeJob webhooks called by the API server", func() {
	var ns string

	BeforeEach(func() {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "nj-webhook-"}}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		ns = n.Name
	})

	newNodeJob := func(name string) *batchv1alpha1.NodeJob {
		nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		nj.Spec.Schedule = "0 * * * *"
		nj.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}
		return nj
	}

	It("admits a valid NodeJob", func() {
		Expect(k8sClient.Create(ctx, newNodeJob("valid"))).To(Succeed())
	})

	It("NJ-X1 denies an unparsable schedule at spec.schedule", func() {
		nj := newNodeJob("bad-cron")
		nj.Spec.Schedule = "61 * * * *"
		err := k8sClient.Create(ctx, nj)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.schedule: Invalid value"))
	})

	It("NJ-X9 denies a reserved env name with the path of the variable", func() {
		nj := newNodeJob("reserved-env")
		nj.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "NODE_NAME", Value: "x"}}
		err := k8sClient.Create(ctx, nj)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.template.spec.containers[0].env[1].name"))
		Expect(err.Error()).To(ContainSubstring("reserved"))
	})

	It("NJ-X10 denies a reserved gauge suffix", func() {
		nj := newNodeJob("reserved-gauge")
		nj.Spec.Metrics.Gauges = map[string]batchv1alpha1.NodeJobGauge{"bad name": {Help: "x"}}
		err := k8sClient.Create(ctx, nj)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.metrics.gauges[bad name]"))
	})
})
