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
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

var _ = Describe("QuarksJob on the local cluster", func() {
	var ns string

	BeforeEach(func() {
		ns = fmt.Sprintf("e2e-qj-%d", time.Now().UnixNano()%1_000_000_000)
		_, err := kubectl("create", "namespace", ns)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error {
			_, err := kubectl("-n", ns, "get", "serviceaccount", "default")
			return err
		}).Should(Succeed())
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(ns)
		}
		_, _ = kubectl("delete", "namespace", ns, "--wait=false")
	})

	It("QJ-S4: the upstream output example writes Secret foo-json through the sidecar and the results API", func() {
		path := filepath.Join(utils.RepoRoot(), "..", "shared", "examples", "quarks", "qjob_output.yaml")
		manifest, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			Skip("the upstream examples are not beside the repository")
		}
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectlIn(string(manifest), "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())

		Eventually(func(g Gomega) {
			foo, err := kubectl("-n", ns, "get", "secret", "foo-json", "-o", "jsonpath={.data.foo}")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(foo).To(Equal("MQ==")) // "1"
		}).WithTimeout(4 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		bar, err := kubectl("-n", ns, "get", "secret", "foo-json", "-o", "jsonpath={.data.bar}")
		Expect(err).NotTo(HaveOccurred())
		Expect(bar).To(Equal("YmF6")) // "baz"
		labels, err := kubectl("-n", ns, "get", "secret", "foo-json", "-o", "jsonpath={.metadata.labels}")
		Expect(err).NotTo(HaveOccurred())
		Expect(labels).To(ContainSubstring(`"key":"value"`))
		Expect(labels).To(ContainSubstring(`"quarks.cloudfoundry.org/container-name":"jsonout"`))

		Eventually(func(g Gomega) {
			out, err := kubectl("-n", ns, "get", "quarksjob", "myfoo",
				"-o", "jsonpath={.status.lastRun.result}/{.status.completed}/{.spec.trigger.strategy}")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(Equal("Succeeded/true/done"))
		}).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		secrets, err := kubectl("-n", ns, "get", "quarksjob", "myfoo", "-o", "jsonpath={.status.lastRun.outputSecrets}")
		Expect(err).NotTo(HaveOccurred())
		Expect(secrets).To(ContainSubstring("foo-json"))
	})
})
