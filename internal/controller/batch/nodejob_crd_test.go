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
	"maps"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var _ = Describe("NodeJob schema", func() {
	var ns string
	BeforeEach(func() {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "njob-crd-"}}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		ns = n.Name
	})

	podTemplate := func() map[string]any {
		return map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "main", "image": "busybox"}},
		}}
	}

	It("applies the defaults of §1.2 and an unobserved status", func() {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "batch.cs.sap.com/v1alpha1", "kind": "NodeJob",
			"metadata": map[string]any{"name": "defaults", "namespace": ns},
			"spec":     map[string]any{"template": podTemplate()},
		}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		var nj batchv1alpha1.NodeJob
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), &nj)).To(Succeed())
		Expect(nj.Spec.ConcurrencyPolicy).To(Equal(batchv1alpha1.ForbidConcurrent))
		Expect(nj.Spec.Parallelism).To(Equal(new(intstr.FromInt32(10))))
		Expect(nj.Spec.CallerIdentity).To(Equal(batchv1alpha1.NodeJobCallerIdentityToken))
		Expect(nj.Status.ObservedGeneration).To(Equal(int64(-1)))
	})

	DescribeTable("rejects invalid fields with their paths",
		func(name string, spec map[string]any, want ...string) {
			s := map[string]any{"template": podTemplate()}
			maps.Copy(s, spec)
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "batch.cs.sap.com/v1alpha1", "kind": "NodeJob",
				"metadata": map[string]any{"name": name, "namespace": ns},
				"spec":     s,
			}}
			err := k8sClient.Create(ctx, u)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
			for _, w := range want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
		},
		Entry("NJ-X4 parallelism 0", "p0", map[string]any{"parallelism": int64(0)}, "spec.parallelism"),
		Entry("NJ-X4 parallelism 150%", "p150", map[string]any{"parallelism": "150%"}, "spec.parallelism"),
		Entry("NJ-X5 successfulRunsHistoryLimit 0", "h0", map[string]any{"successfulRunsHistoryLimit": int64(0)},
			"spec.successfulRunsHistoryLimit"),
		Entry("NJ-X6 concurrencyPolicy Queue", "cq", map[string]any{"concurrencyPolicy": "Queue"}, "spec.concurrencyPolicy"),
		Entry("NJ-X6 failurePolicy Retry", "fr", map[string]any{"failurePolicy": "Retry"}, "spec.failurePolicy"),
		Entry("callerIdentity other than Token and PodIP", "ci", map[string]any{"callerIdentity": "SourceIP"},
			"spec.callerIdentity", "Unsupported value"),
		Entry("callerIdentity PodIP with host-network pods", "cih", map[string]any{"callerIdentity": "PodIP",
			"template": map[string]any{"spec": map[string]any{"hostNetwork": true,
				"containers": []any{map[string]any{"name": "main", "image": "busybox"}}}}},
			"spec.callerIdentity", "host network"),
		Entry("NJ-X13 name of 53 characters", strings.Repeat("n", 53), map[string]any{},
			"Too long: may not be more than 52 characters"),
	)
})
