//go:build e2e

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

package e2e

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// readmeReactiveJob is the upstream README example, unchanged but for the
// digest annotation.
func readmeReactiveJob(digest string) string {
	return fmt.Sprintf(`apiVersion: batch.cs.sap.com/v1alpha1
kind: ReactiveJob
metadata:
  name: test
spec:
  jobTemplate:
    metadata:
      annotations:
        digest: %s
    spec:
      ttlSecondsAfterFinished: 120
      template:
        spec:
          containers:
          - name: main
            image: alpine
            command: ["sleep","10"]
          restartPolicy: Never
`, digest)
}

// waitLikeFlux polls kstatus the way a Flux Kustomization with wait: true does:
// it stops at the first Current or Failed and returns that status.
func waitLikeFlux(ns, resource string, timeout time.Duration) status.Status {
	var last status.Status
	Eventually(func(g Gomega) {
		out, err := kubectl("-n", ns, "get", resource, "-o", "json")
		g.Expect(err).NotTo(HaveOccurred())
		u := &unstructured.Unstructured{}
		g.Expect(u.UnmarshalJSON([]byte(out))).To(Succeed())
		res, err := status.Compute(u)
		g.Expect(err).NotTo(HaveOccurred())
		last = res.Status
		g.Expect(last).To(BeElementOf(status.CurrentStatus, status.FailedStatus), res.Message)
	}).WithTimeout(timeout).WithPolling(time.Second).Should(Succeed())
	return last
}

var _ = Describe("ReactiveJob on the local cluster", func() {
	var ns string

	BeforeEach(func() {
		ns = newNamespace("e2e-rj-")
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(ns)
		}
		_, _ = kubectl("delete", "namespace", ns, "--wait=false")
	})

	jobNames := func() []string {
		out, err := kubectl("-n", ns, "get", "jobs", "-l", "batch.cs.sap.com/controller-name=test",
			"-o", "jsonpath={.items[*].metadata.name}")
		Expect(err).NotTo(HaveOccurred())
		return strings.Fields(out)
	}

	It("RJ-S1, RJ-S3, RJ-S8: runs the README example, reruns on a template change and on a rerun token", func() {
		_, err := kubectlIn(readmeReactiveJob("abc123"), "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "wait", "reactivejobs.batch.cs.sap.com/test", "--for=condition=Ready", "--timeout=180s")
		Expect(err).NotTo(HaveOccurred())
		Expect(waitLikeFlux(ns, "reactivejob/test", time.Minute)).To(Equal(status.CurrentStatus))
		Expect(jobNames()).To(HaveLen(1))
		first := jobNames()[0]
		Expect(first).To(MatchRegexp(`^test-[bcdfghjklmnpqrstvwxz2456789]{5}$`))
		logsOK, err := kubectl("-n", ns, "get", "job", first, "-o", "jsonpath={.status.succeeded}")
		Expect(err).NotTo(HaveOccurred())
		Expect(logsOK).To(Equal("1"))

		By("applying the same manifest again and adding a label: no new Job")
		_, err = kubectlIn(readmeReactiveJob("abc123"), "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "label", "reactivejob", "test", "team=a")
		Expect(err).NotTo(HaveOccurred())
		Consistently(jobNames).WithTimeout(5 * time.Second).WithPolling(time.Second).Should(HaveLen(1))

		By("changing the template: exactly one new Job")
		_, err = kubectlIn(readmeReactiveJob("def456"), "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		Eventually(jobNames).WithTimeout(time.Minute).Should(HaveLen(2))
		Expect(waitLikeFlux(ns, "reactivejob/test", 3*time.Minute)).To(Equal(status.CurrentStatus))
		Expect(jobNames()).To(HaveLen(2))

		By("setting a rerun token: one more Job; the same token again: none")
		_, err = kubectl("-n", ns, "annotate", "reactivejob", "test", "batch.cs.sap.com/rerun=a")
		Expect(err).NotTo(HaveOccurred())
		Eventually(jobNames).WithTimeout(time.Minute).Should(HaveLen(3))
		_, err = kubectl("-n", ns, "annotate", "--overwrite", "reactivejob", "test", "batch.cs.sap.com/rerun=a")
		Expect(err).NotTo(HaveOccurred())
		Consistently(jobNames).WithTimeout(5 * time.Second).WithPolling(time.Second).Should(HaveLen(3))
	})

	It("RJ-S2: a failing container makes kstatus Failed, so a Flux-style wait stops at once", func() {
		_, err := kubectlIn(`apiVersion: batch.cs.sap.com/v1alpha1
kind: ReactiveJob
metadata:
  name: test
spec:
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          containers:
          - name: main
            image: alpine
            command: ["sh", "-c", "exit 1"]
          restartPolicy: Never
`, "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		Expect(waitLikeFlux(ns, "reactivejob/test", 3*time.Minute)).To(Equal(status.FailedStatus))
		state, err := kubectl("-n", ns, "get", "reactivejob", "test", "-o", "jsonpath={.status.state}")
		Expect(err).NotTo(HaveOccurred())
		Expect(state).To(Equal("Error"))
		stalled, err := kubectl("-n", ns, "get", "reactivejob", "test",
			"-o", `jsonpath={.status.conditions[?(@.type=="Stalled")].reason}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(stalled).To(Equal("JobFailed"))
	})
})
