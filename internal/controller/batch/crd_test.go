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
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var _ = Describe("batch.cs.sap.com CRDs", func() {
	DescribeTable("are installed, established and structural",
		func(name, explain string) {
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, &crd)).To(Succeed())
			Expect(crd.Spec.Versions).To(HaveLen(1))
			Expect(crd.Spec.Versions[0].Subresources.Status).NotTo(BeNil())
			Expect(crd.Status.Conditions).To(ContainElement(And(
				HaveField("Type", apiextensionsv1.Established), HaveField("Status", apiextensionsv1.ConditionTrue))))
			Expect(crd.Status.Conditions).NotTo(ContainElement(
				HaveField("Type", apiextensionsv1.NonStructuralSchema)))

			// kubectl explain reads the published OpenAPI schema, which only
			// structural CRDs have.
			Eventually(func(g Gomega) {
				out, err := kubectl("explain", explain)
				g.Expect(err).NotTo(HaveOccurred(), out)
				g.Expect(out).To(ContainSubstring("FIELDS:"))
			}).Should(Succeed())
		},
		Entry("ReactiveJob", "reactivejobs.batch.cs.sap.com", "reactivejob.spec"),
		Entry("NodeJob", "nodejobs.batch.cs.sap.com", "nodejob.spec"),
		Entry("NodeJobRun", "nodejobruns.batch.cs.sap.com", "nodejobrun.spec"),
	)

	Context("a ReactiveJob", func() {
		var ns string
		BeforeEach(func() {
			n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "crd-"}}
			Expect(k8sClient.Create(ctx, n)).To(Succeed())
			ns = n.Name
		})

		newReactiveJob := func(name string) *batchv1alpha1.ReactiveJob {
			return &batchv1alpha1.ReactiveJob{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: batchv1alpha1.ReactiveJobSpec{JobTemplate: batchv1.JobTemplateSpec{
					Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyNever,
						Containers:    []corev1.Container{{Name: "main", Image: "alpine", Command: []string{"true"}}},
					}}},
				}},
			}
		}

		It("gets the schema defaults and an unobserved status", func() {
			rj := newReactiveJob("defaults")
			Expect(k8sClient.Create(ctx, rj)).To(Succeed())
			Expect(rj.Spec.ConcurrencyPolicy).To(Equal(batchv1alpha1.AllowConcurrent))
			Expect(rj.Status.ObservedGeneration).To(Equal(int64(-1)))
		})

		DescribeTable("with an invalid field is rejected by the API server with its field path",
			func(mutate func(*batchv1alpha1.ReactiveJob), want ...string) {
				rj := newReactiveJob("invalid")
				mutate(rj)
				err := k8sClient.Create(ctx, rj)
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
				for _, w := range want {
					Expect(err.Error()).To(ContainSubstring(w))
				}
			},
			Entry("RJ-X1 template name", func(rj *batchv1alpha1.ReactiveJob) { rj.Spec.JobTemplate.Name = "x" },
				"spec.jobTemplate.metadata.name: Forbidden: must not be specified"),
			Entry("RJ-X2 template namespace", func(rj *batchv1alpha1.ReactiveJob) { rj.Spec.JobTemplate.Namespace = "y" },
				"spec.jobTemplate.metadata.namespace: Forbidden: must not be specified"),
			Entry("RJ-X5 restartPolicy Always", func(rj *batchv1alpha1.ReactiveJob) {
				rj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			}, "spec.jobTemplate.spec.template.spec.restartPolicy", `"Never", "OnFailure"`),
			Entry("RJ-X7 name of 64 characters", func(rj *batchv1alpha1.ReactiveJob) { rj.Name = strings.Repeat("a", 64) },
				"metadata.name", "Too long: may not be more than 63 characters (used as a label value)"),
			Entry("RJ-X9 unknown concurrencyPolicy", func(rj *batchv1alpha1.ReactiveJob) { rj.Spec.ConcurrencyPolicy = "Sometimes" },
				"spec.concurrencyPolicy", `supported values: "Allow", "Forbid", "Replace"`),
			Entry("RJ-X9 negative failedJobsHistoryLimit", func(rj *batchv1alpha1.ReactiveJob) {
				rj.Spec.FailedJobsHistoryLimit = new(int32(-1))
			}, "spec.failedJobsHistoryLimit"),
		)

		It("RJ-X3 reports generateName in the template as unknown under strict field validation", func() {
			rj := newReactiveJob("generate")
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(rj)
			Expect(err).NotTo(HaveOccurred())
			Expect(unstructured.SetNestedField(u, "z", "spec", "jobTemplate", "metadata", "generateName")).To(Succeed())
			obj := &unstructured.Unstructured{Object: u}
			obj.SetAPIVersion("batch.cs.sap.com/v1alpha1")
			obj.SetKind("ReactiveJob")
			err = k8sClient.Create(ctx, obj, client.FieldValidation(metav1.FieldValidationStrict))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(`unknown field "spec.jobTemplate.metadata.generateName"`))

			By("without strict validation the field is pruned and has no effect")
			obj = &unstructured.Unstructured{Object: u}
			obj.SetAPIVersion("batch.cs.sap.com/v1alpha1")
			obj.SetKind("ReactiveJob")
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())
			_, found, err := unstructured.NestedString(obj.Object, "spec", "jobTemplate", "metadata", "generateName")
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(BeFalse())
		})

		It("accepts a template change that the Job schema's own transition rules would refuse on a Job", func() {
			// jobTemplate.spec.scheduling.disruptionMode is immutable on a Job; in a
			// template, changing it is what asks for a new Job.
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": batchv1alpha1.GroupVersion.String(), "kind": "ReactiveJob",
				"metadata": map[string]any{"name": "immutable", "namespace": ns},
				"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{
					"scheduling": map[string]any{"disruptionMode": map[string]any{"all": map[string]any{}}},
					"template": map[string]any{"spec": map[string]any{
						"restartPolicy": "Never",
						"containers":    []any{map[string]any{"name": "main", "image": "alpine"}},
					}},
				}}},
			}}
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			Expect(unstructured.SetNestedMap(u.Object, map[string]any{"single": map[string]any{}},
				"spec", "jobTemplate", "spec", "scheduling", "disruptionMode")).To(Succeed())
			Expect(k8sClient.Update(ctx, u)).To(Succeed())
		})

		It("RJ-X4 rejects a ReactiveJob without a jobTemplate", func() {
			u := map[string]any{
				"apiVersion": "batch.cs.sap.com/v1alpha1", "kind": "ReactiveJob",
				"metadata": map[string]any{"name": "nospec", "namespace": ns},
				"spec":     map[string]any{},
			}
			err := k8sClient.Create(ctx, &unstructured.Unstructured{Object: u})
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
			Expect(err.Error()).To(ContainSubstring("spec.jobTemplate: Required value"))
		})
	})
})
