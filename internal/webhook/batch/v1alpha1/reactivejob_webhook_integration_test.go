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
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var _ = Describe("ReactiveJob webhooks called by the API server", func() {
	var ns string

	BeforeEach(func() {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rj-webhook-"}}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		ns = n.Name
	})

	newReactiveJob := func(name string) *batchv1alpha1.ReactiveJob {
		return &batchv1alpha1.ReactiveJob{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: batchv1alpha1.ReactiveJobSpec{JobTemplate: batchv1.JobTemplateSpec{
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "alpine", Command: []string{"sleep", "10"}}},
				}}},
			}},
		}
	}

	It("RJ-X6 denies a template the Job API rejects, with the dry-run message at spec.jobTemplate", func() {
		rj := newReactiveJob("no-image")
		rj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image = ""
		err := k8sClient.Create(ctx, rj)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.jobTemplate: Invalid value"))
		Expect(err.Error()).To(ContainSubstring("job template is invalid; dry-run output was:"))
		Expect(err.Error()).To(ContainSubstring("spec.template.spec.containers[0].image: Required value"))
	})

	It("RJ-X8 and RJ-S12 accept names of 60 and 61 characters", func() {
		for _, n := range []int{60, 61} {
			Expect(k8sClient.Create(ctx, newReactiveJob(strings.Repeat("a", n)))).To(Succeed())
		}
	})

	It("RJ-23 validates a spec change on update but not a label change", func() {
		rj := newReactiveJob("update")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())

		rj.Labels = map[string]string{"team": "a"}
		Expect(k8sClient.Update(ctx, rj)).To(Succeed())

		rj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image = ""
		err := k8sClient.Update(ctx, rj)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring("job template is invalid"))
	})
})
