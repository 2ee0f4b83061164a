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
	"maps"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

var _ = Describe("quarks.cloudfoundry.org CRD", func() {
	var ns string
	BeforeEach(func() {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "crd-"}}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		ns = n.Name
	})

	It("is installed, established and structural", func() {
		var crd apiextensionsv1.CustomResourceDefinition
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "quarksjobs.quarks.cloudfoundry.org"}, &crd)).To(Succeed())
		Expect(crd.Spec.Names.ShortNames).To(ConsistOf("qjob", "qjobs"))
		Expect(crd.Status.Conditions).To(ContainElement(And(
			HaveField("Type", apiextensionsv1.Established), HaveField("Status", apiextensionsv1.ConditionTrue))))
		Expect(crd.Status.Conditions).NotTo(ContainElement(HaveField("Type", apiextensionsv1.NonStructuralSchema)))

		Eventually(func(g Gomega) {
			out, err := kubectl("explain", "quarksjob.spec")
			g.Expect(err).NotTo(HaveOccurred(), out)
			g.Expect(out).To(ContainSubstring("FIELDS:"))
			g.Expect(out).To(ContainSubstring("updateOnConfigChange"))
		}).Should(Succeed())
	})

	It("accepts every upstream example manifest unchanged, with strict field validation", func() {
		dir := filepath.Join(utils.RepoRoot(), "..", "shared", "examples", "quarks")
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		if len(files) == 0 {
			Skip("the upstream examples are not beside the repository")
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			for doc := range strings.SplitSeq(string(data), "\n---") {
				var obj map[string]any
				Expect(yaml.Unmarshal([]byte(doc), &obj)).To(Succeed(), f)
				if obj == nil {
					continue
				}
				u := &unstructured.Unstructured{Object: obj}
				u.SetNamespace(ns)
				err := k8sClient.Create(ctx, u, client.FieldValidation(metav1.FieldValidationStrict), client.DryRunAll)
				Expect(err).NotTo(HaveOccurred(), "%s: %s", filepath.Base(f), u.GetName())
			}
		}
	})

	DescribeTable("rejects an invalid object with its field path",
		func(obj map[string]any, want ...string) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "quarks.cloudfoundry.org/v1alpha1", "kind": "QuarksJob",
				"metadata": map[string]any{"name": "invalid", "namespace": ns},
			}}
			maps.Copy(u.Object, obj)
			if name, ok := obj["name"].(string); ok {
				u.SetName(name)
				delete(u.Object, "name")
			}
			err := k8sClient.Create(ctx, u)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
			for _, w := range want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
		},
		Entry("QJ-X1 unknown strategy", map[string]any{"spec": map[string]any{
			"trigger": map[string]any{"strategy": "later"}, "template": validTemplate(),
		}}, "spec.trigger.strategy", `supported values: "manual", "now", "once", "done"`),
		Entry("QJ-X2 name of 64 characters", map[string]any{"name": strings.Repeat("q", 64), "spec": map[string]any{
			"template": validTemplate(),
		}}, "Too long: may not be more than 63 characters (used as a label value)"),
		Entry("QJ-X3 no template", map[string]any{"spec": map[string]any{}}, "spec.template: Required value"),
		Entry("QJ-X11 versionedSecretHistoryLimit 0", map[string]any{"spec": map[string]any{
			"template": validTemplate(),
			"output":   map[string]any{"outputMap": map[string]any{}, "versionedSecretHistoryLimit": int64(0)},
		}}, "spec.output.versionedSecretHistoryLimit"),
		Entry("QJ-X3 no containers", map[string]any{"spec": map[string]any{
			"template": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never", "containers": []any{}}}}},
		}}, "spec.template.spec.template.spec.containers", "at least one container"),
		Entry("QJ-X4 restartPolicy Always", map[string]any{"spec": map[string]any{
			"template": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Always", "containers": []any{map[string]any{"name": "main", "image": "busybox"}}}}}},
		}}, "spec.template.spec.template.spec.restartPolicy", `supported values: "Never", "OnFailure"`),
		Entry("QJ-X6 persistencemethod fanout", map[string]any{"spec": map[string]any{
			"template": validTemplate(),
			"output": map[string]any{"outputMap": map[string]any{"main": map[string]any{
				"out.json": map[string]any{"name": "out", "persistencemethod": "fanout"}}}},
		}}, "spec.output.outputMap.main.out.json.persistencemethod", `supported values: "", "one-to-one", "fan-out"`),
		Entry("QJ-X11 failedJobsHistoryLimit -1", map[string]any{"spec": map[string]any{
			"template": validTemplate(), "failedJobsHistoryLimit": int64(-1),
		}}, "spec.failedJobsHistoryLimit"),
	)

	It("defaults the trigger and the status", func() {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "quarks.cloudfoundry.org/v1alpha1", "kind": "QuarksJob",
			"metadata": map[string]any{"name": "defaults", "namespace": ns},
			"spec":     map[string]any{"template": validTemplate()},
		}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		var qj quarksv1alpha1.QuarksJob
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), &qj)).To(Succeed())
		By("QJ-F29: a missing trigger defaults to manual")
		Expect(string(qj.Spec.Trigger.Strategy)).To(Equal("manual"))
		Expect(qj.Status.ObservedGeneration).To(Equal(int64(-1)))
	})
})

func validTemplate() map[string]any {
	return map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"restartPolicy": "Never",
		"containers":    []any{map[string]any{"name": "main", "image": "busybox"}},
	}}}}
}
