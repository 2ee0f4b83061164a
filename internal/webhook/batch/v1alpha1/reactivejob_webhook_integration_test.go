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
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/test/utils"
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

var _ = Describe("ReactiveJob admission rules", func() {
	var ns string

	BeforeEach(func() {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rj-admission-"}}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		ns = n.Name
	})

	newReactiveJob := func(name string) *batchv1alpha1.ReactiveJob {
		return &batchv1alpha1.ReactiveJob{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: batchv1alpha1.ReactiveJobSpec{JobTemplate: batchv1.JobTemplateSpec{
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "alpine"}},
				}}},
			}},
		}
	}

	// clientAs returns a client for a user allowed the given rules in ns.
	clientAs := func(user string, rules ...rbacv1.PolicyRule) client.Client {
		Expect(k8sClient.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns}, Rules: rules})).To(Succeed())
		Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		})).To(Succeed())
		u, err := testEnv.AddUser(envtest.User{Name: user}, nil)
		Expect(err).NotTo(HaveOccurred())
		c, err := client.New(u.Config(), client.Options{Scheme: scheme.Scheme})
		Expect(err).NotTo(HaveOccurred())
		return c
	}
	reactiveJobRule := rbacv1.PolicyRule{APIGroups: []string{"batch.cs.sap.com"}, Resources: []string{"reactivejobs"},
		Verbs: []string{"create", "get", "update"}}

	It("RJ-A8 denies users who may not create Jobs themselves, with 403 at spec.jobTemplate", func() {
		dev := clientAs("dev", reactiveJobRule)
		err := dev.Create(ctx, newReactiveJob("borrowed"))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.jobTemplate"))
		Expect(err.Error()).To(ContainSubstring(`may not create jobs.batch`))

		ops := clientAs("ops", reactiveJobRule,
			rbacv1.PolicyRule{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create"}})
		Expect(ops.Create(ctx, newReactiveJob("own"))).To(Succeed())
	})

	// installOffline installs, for this spec's namespace only, a copy of the
	// generated webhook named generated (in a configuration of kind) that points
	// nowhere, and waits until a spec change is refused by it.
	installOffline := func(kind, generated string, rj *batchv1alpha1.ReactiveJob) {
		GinkgoHelper()
		data, err := os.ReadFile(filepath.Join(utils.RepoRoot(), "config", "webhook", "manifests.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var offline map[string]any
		for doc := range strings.SplitSeq(string(data), "\n---") {
			var cfg unstructured.Unstructured
			Expect(yaml.Unmarshal([]byte(doc), &cfg.Object)).To(Succeed())
			if cfg.GetKind() != kind {
				continue
			}
			webhooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
			for _, w := range webhooks {
				if w.(map[string]any)["name"] == generated {
					offline = w.(map[string]any)
				}
			}
		}
		Expect(offline).NotTo(BeNil())
		Expect(offline["matchConditions"]).NotTo(BeEmpty())
		name := "offline-" + strings.ToLower(kind) + ".jobkeeper.test"
		offline["name"] = name
		offline["clientConfig"] = map[string]any{"url": "https://127.0.0.1:1/offline"}
		offline["namespaceSelector"] = map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}}
		whc := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": admissionregistrationv1.SchemeGroupVersion.String(), "kind": kind,
			"metadata": map[string]any{"name": "offline-" + strings.ToLower(kind) + "-" + ns},
			"webhooks": []any{offline},
		}}
		Expect(k8sClient.Create(ctx, whc)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, whc)).To(Succeed()) })

		// A spec change still needs the webhook: the trigger that shows it is installed.
		Eventually(func(g Gomega) {
			cur := &batchv1alpha1.ReactiveJob{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rj), cur)).To(Succeed())
			cur.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image = "busybox"
			err := k8sClient.Update(ctx, cur)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring(name))
		}).Should(Succeed())
	}

	It("RJ-21: a ReactiveJob is created with the operator's finalizer, and server-side applies that do not name it keep it", func() {
		manifest := func(image string) *unstructured.Unstructured {
			u := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal([]byte(`apiVersion: batch.cs.sap.com/v1alpha1
kind: ReactiveJob
metadata:
  name: applied
  namespace: `+ns+`
spec:
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: `+image+`
`), &u.Object)).To(Succeed())
			return u
		}
		apply := func(image string) []string {
			GinkgoHelper()
			Expect(k8sClient.Patch(ctx, manifest(image), client.Apply, client.FieldOwner("gitops"), client.ForceOwnership)).To(Succeed())
			cur := &batchv1alpha1.ReactiveJob{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "applied"}, cur)).To(Succeed())
			return cur.Finalizers
		}
		// No controller runs in this suite: the finalizer can only come from the webhook.
		Expect(apply("alpine")).To(ConsistOf(batchv1alpha1.ReactiveJobFinalizer))
		Expect(apply("alpine")).To(ConsistOf(batchv1alpha1.ReactiveJobFinalizer), "a re-apply of the same manifest")
		Expect(apply("busybox")).To(ConsistOf(batchv1alpha1.ReactiveJobFinalizer), "an apply that changes the spec")
	})

	It("RJ-X14 lets label-only updates through the matchConditions when the webhook is unreachable", func() {
		rj := newReactiveJob("offline")
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		installOffline("ValidatingWebhookConfiguration", "vreactivejob-v1alpha1.kb.io", rj)

		cur := &batchv1alpha1.ReactiveJob{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rj), cur)).To(Succeed())
		cur.Labels = map[string]string{"only": "labels"}
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())
	})

	It("RJ-X14 lets label-only updates and finalizer removal through the mutating webhook's matchConditions when it is unreachable", func() {
		rj := newReactiveJob("offline-mutating")
		rj.Finalizers = []string{"example.com/hold"}
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		installOffline("MutatingWebhookConfiguration", "mreactivejob-v1alpha1.kb.io", rj)

		cur := &batchv1alpha1.ReactiveJob{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rj), cur)).To(Succeed())
		cur.Labels = map[string]string{"only": "labels"}
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())
		cur.Finalizers = nil
		Expect(k8sClient.Update(ctx, cur)).To(Succeed())
	})
})
