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
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// warnings collects the admission warnings the API server returns.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

var _ = Describe("QuarksJob webhooks called by the API server", func() {
	var (
		ns     string
		warned *warnings
		c      client.Client
	)

	BeforeEach(func() {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "qj-webhook-"}}
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		ns = n.Name

		warned = &warnings{}
		wcfg := rest.CopyConfig(cfg)
		wcfg.WarningHandler = warned
		var err error
		c, err = client.New(wcfg, client.Options{Scheme: scheme.Scheme})
		Expect(err).NotTo(HaveOccurred())
	})

	readExample := func(name string) *quarksv1alpha1.QuarksJob {
		path := filepath.Join(utils.RepoRoot(), "..", "shared", "examples", "quarks", name)
		data, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			Skip("the upstream examples are not beside the repository")
		}
		Expect(err).NotTo(HaveOccurred())
		var qj quarksv1alpha1.QuarksJob
		Expect(yaml.UnmarshalStrict(data, &qj)).To(Succeed())
		qj.Namespace = ns
		return &qj
	}

	It("admits the upstream output example and warns about the misplaced backoffLimit", func() {
		qj := readExample("qjob_output.yaml")
		Expect(c.Create(ctx, qj)).To(Succeed())
		Expect(warned.msgs).To(ContainElement(
			"spec.template.backoffLimit is misplaced; use spec.template.spec.backoffLimit"))
	})

	It("QJ-X5 denies an outputMap entry that names no container", func() {
		qj := readExample("qjob_output.yaml")
		qj.Spec.Output.OutputMap["nope"] = qj.Spec.Output.OutputMap["jsonout"]
		err := c.Create(ctx, qj)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.output.outputMap[nope]"))
		Expect(err.Error()).To(ContainSubstring("container not found in template"))
	})

	DescribeTable("denies bad output entries with the field path of the item (QJ-32)",
		func(change func(qj *quarksv1alpha1.QuarksJob), want ...string) {
			qj := readExample("qjob_output.yaml")
			change(qj)
			err := c.Create(ctx, qj)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
			for _, w := range want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
		},
		Entry("QJ-X7, QJ-F22 a file key with a parent path", func(qj *quarksv1alpha1.QuarksJob) {
			qj.Spec.Output.OutputMap["jsonout"]["../x"] = quarksv1alpha1.SecretOptions{Name: "x"}
		}, "spec.output.outputMap[jsonout][../x]", "must be a file name without path separators"),
		Entry("QJ-X7 a file key with a sub directory", func(qj *quarksv1alpha1.QuarksJob) {
			qj.Spec.Output.OutputMap["jsonout"]["a/b.json"] = quarksv1alpha1.SecretOptions{Name: "x"}
		}, "spec.output.outputMap[jsonout][a/b.json]", "must be a file name without path separators"),
		// The schema (minLength) rejects an empty name before the webhook runs; the API server writes map keys with dots.
		Entry("QJ-X8 an entry without a name", func(qj *quarksv1alpha1.QuarksJob) {
			qj.Spec.Output.OutputMap["jsonout"]["other.json"] = quarksv1alpha1.SecretOptions{}
		}, "spec.output.outputMap.jsonout.other.json.name"),
		Entry("QJ-X8 a name that sanitises to nothing", func(qj *quarksv1alpha1.QuarksJob) {
			qj.Spec.Output.OutputMap["jsonout"]["other.json"] = quarksv1alpha1.SecretOptions{Name: "._!"}
		}, "spec.output.outputMap[jsonout][other.json].name"),
		Entry("QJ-X10 a secret label key that is not a label key", func(qj *quarksv1alpha1.QuarksJob) {
			qj.Spec.Output.SecretLabels = map[string]string{"bad key!": "v"}
		}, "spec.output.secretLabels[bad key!]"),
		Entry("QJ-X9 a user mount under /mnt/quarks", func(qj *quarksv1alpha1.QuarksJob) {
			c := &qj.Spec.Template.Spec.Template.Spec.Containers[0]
			qj.Spec.Template.Spec.Template.Spec.Volumes = append(qj.Spec.Template.Spec.Template.Spec.Volumes,
				corev1.Volume{Name: "mine", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "mine", MountPath: "/mnt/quarks/x"})
		}, "spec.template.spec.template.spec.containers[0].volumeMounts[0].mountPath", "reserved by the operator"),
	)

	It("QJ-A8 warns about pointless values but admits them", func() {
		qj := readExample("qjob_output.yaml")
		qj.Spec.Output.OutputType = "yaml"
		qj.Spec.UpdateOnConfigChange = true
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyManual
		if qj.Spec.Template.Spec.Template.Labels == nil {
			qj.Spec.Template.Spec.Template.Labels = map[string]string{}
		}
		qj.Spec.Template.Spec.Template.Labels["delete"] = "pod"
		Expect(c.Create(ctx, qj)).To(Succeed())
		Expect(warned.msgs).To(ContainElements(ContainSubstring("spec.output.outputType"),
			ContainSubstring("delete"), ContainSubstring("spec.updateOnConfigChange")))
	})

	It("QJ-X9 denies a container named like the operator's sidecar", func() {
		qj := readExample("qjob_output.yaml")
		qj.Spec.Template.Spec.Template.Spec.Containers[0].Name = quarksv1alpha1.OutputPersistContainerName
		err := c.Create(ctx, qj)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
		Expect(err.Error()).To(ContainSubstring("reserved by the operator"))
	})

	// The operator writes the strategy back (once to done, now to manual) after every run it starts: those writes
	// change nothing the webhooks look at, so the API server does not call them; any other spec change still does.
	It("is not called for a change of spec.trigger alone, and is for any other spec change", func() {
		qj := readExample("qjob_output.yaml")
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
		calls := webhookCalls()
		Expect(c.Create(ctx, qj)).To(Succeed())
		Expect(webhookCalls()-calls).To(Equal(2.0), "the mutating and the validating webhook admit the create")

		calls = webhookCalls()
		patch := client.MergeFrom(qj.DeepCopy())
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyDone
		Expect(c.Patch(ctx, qj, patch)).To(Succeed())
		Expect(qj.Spec.Trigger.Strategy).To(Equal(quarksv1alpha1.StrategyDone))
		Expect(webhookCalls()-calls).To(BeZero(), "a write-back of the strategy")

		calls = webhookCalls()
		patch = client.MergeFrom(qj.DeepCopy())
		qj.Spec.UpdateOnConfigChange = !qj.Spec.UpdateOnConfigChange
		Expect(c.Patch(ctx, qj, patch)).To(Succeed())
		Expect(webhookCalls()-calls).To(Equal(2.0), "a change of updateOnConfigChange")

		calls = webhookCalls()
		patch = client.MergeFrom(qj.DeepCopy())
		qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyNow
		qj.Spec.Template.Spec.Template.Spec.Containers[0].Name = quarksv1alpha1.OutputPersistContainerName
		err := c.Patch(ctx, qj, patch)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "a change of the strategy and of the template: %v", err)
		Expect(err.Error()).To(ContainSubstring("reserved by the operator"))
		Expect(webhookCalls() - calls).To(Equal(2.0))
	})
})

// webhookCalls is how many requests the QuarksJob webhooks of this process have served.
func webhookCalls() float64 {
	GinkgoHelper()
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	var n float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_webhook_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "webhook" && strings.Contains(l.GetValue(), "quarksjob") {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}
