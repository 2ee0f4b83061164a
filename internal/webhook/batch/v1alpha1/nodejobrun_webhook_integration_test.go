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
	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var _ = Describe("NodeJobRun webhook called by the API server (NJ-38)", func() {
	var (
		ns string
		nj *batchv1alpha1.NodeJob
	)

	BeforeEach(func() {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "njrun-webhook-"}}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		ns = n.Name
		nj = &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Name: "nj", Namespace: ns}}
		nj.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
	})

	// newRun returns a run of the NodeJob as the controller creates it.
	newRun := func(name string) *batchv1alpha1.NodeJobRun {
		run := &batchv1alpha1.NodeJobRun{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, OwnerReferences: []metav1.OwnerReference{
				*metav1.NewControllerRef(nj, batchv1alpha1.GroupVersion.WithKind("NodeJob")),
			}},
			Spec: batchv1alpha1.NodeJobRunSpec{
				NodeJobName:        nj.Name,
				ExecutionID:        "202601010000",
				ScheduledTime:      metav1.Now(),
				Trigger:            batchv1alpha1.NodeJobRunTriggerSchedule,
				NodeJobRunTemplate: nj.Spec.NodeJobRunTemplate,
			},
		}
		run.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		return run
	}
	denied := func(run *batchv1alpha1.NodeJobRun, fieldPath, detail string) {
		GinkgoHelper()
		err := k8sClient.Create(ctx, run)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring(fieldPath))
		Expect(err.Error()).To(ContainSubstring(detail))
	}

	It("admits a run controlled by its NodeJob", func() {
		Expect(k8sClient.Create(ctx, newRun("nj-1"))).To(Succeed())
	})

	It("denies a run without a controller ownerReference", func() {
		run := newRun("nj-2")
		run.OwnerReferences = nil
		denied(run, "metadata.ownerReferences", "Required value")

		run = newRun("nj-3")
		run.OwnerReferences[0].Controller = nil
		denied(run, "metadata.ownerReferences", "Required value")
	})

	It("denies a controller of another kind", func() {
		run := newRun("nj-4")
		run.OwnerReferences[0].Kind = "ReactiveJob"
		denied(run, "metadata.ownerReferences[0]", "must be a NodeJob")
		run = newRun("nj-5")
		run.OwnerReferences[0].APIVersion = "batch/v1"
		denied(run, "metadata.ownerReferences[0]", "must be a NodeJob")
	})

	It("denies a spec.nodeJobName other than the controller's name", func() {
		run := newRun("nj-6")
		run.Spec.NodeJobName = "other"
		denied(run, "spec.nodeJobName", `controlling NodeJob "nj"`)
	})

	It("denies a controller that does not exist or has another UID", func() {
		run := newRun("nj-7")
		run.OwnerReferences[0].Name = "missing"
		run.Spec.NodeJobName = "missing"
		denied(run, "metadata.ownerReferences[0].name", "Not found")

		run = newRun("nj-8")
		run.OwnerReferences[0].UID = types.UID("00000000-0000-0000-0000-000000000000")
		denied(run, "metadata.ownerReferences[0].uid", "is not the UID of NodeJob")
	})

	It("denies a controller in another namespace", func() {
		other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "njrun-webhook-"}}
		Expect(k8sClient.Create(ctx, other)).To(Succeed())
		run := newRun("nj-9")
		run.Namespace = other.Name
		denied(run, "metadata.ownerReferences[0].name", "Not found")
	})

	It("lets a run's metadata change later, e.g. when it is orphaned", func() {
		run := newRun("nj-10")
		Expect(k8sClient.Create(ctx, run)).To(Succeed())
		run.OwnerReferences = nil
		Expect(k8sClient.Update(ctx, run)).To(Succeed())
	})
})
