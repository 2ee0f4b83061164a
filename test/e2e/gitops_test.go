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
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

// The GitOps loop: Flux's kustomize-controller and Argo CD apply the same
// manifests again and again with server-side apply and forced ownership.
// After the first runs finished, five more syncs, 10 s apart, must run nothing:
// exactly the runs the first apply asked for. Runs are counted by counters
// that never reset (status.runCount) and Jobs by UID.
var _ = Describe("GitOps loop on the local cluster", Ordered, func() {
	const syncs, interval = 5, 10 * time.Second
	var ns string

	BeforeAll(func() {
		ns = newNamespace("e2e-gitops-")
	})

	AfterAll(func() {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(ns)
		}
		_, _ = kubectl("delete", "namespace", ns, "--wait=false")
	})

	It("re-applied manifests run exactly what the first apply asked for", func() {
		var manifests []string
		for _, file := range []string{"qjob_auto-errand.yaml", "qjob_auto-errand-deletes-pod.yaml",
			"qjob_auto-errand-updating.yaml", "qjob_output.yaml", "qjob_errand.yaml"} {
			data, err := os.ReadFile(filepath.Join(utils.RepoRoot(), "..", "shared", "examples", "quarks", file))
			if os.IsNotExist(err) {
				Skip("the upstream examples are not beside the repository")
			}
			Expect(err).NotTo(HaveOccurred())
			manifests = append(manifests, string(data))
		}
		manifests = append(manifests, `apiVersion: quarks.cloudfoundry.org/v1alpha1
kind: QuarksJob
metadata:
  name: errand-from-git
  annotations:
    quarks.cloudfoundry.org/run-request: "2026-12-06-1"
spec:
  trigger:
    strategy: manual
  template:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "echo errand"]
`, `apiVersion: batch.cs.sap.com/v1alpha1
kind: ReactiveJob
metadata:
  name: test
  annotations:
    batch.cs.sap.com/rerun: "a"
spec:
  jobTemplate:
    metadata:
      annotations:
        digest: abc123
    spec:
      backoffLimit: 2
      template:
        spec:
          containers:
          - name: main
            image: busybox
            command: ["sleep", "2"]
          restartPolicy: Never
`)
		bundle := strings.Join(manifests, "\n---\n")
		sync := func() {
			GinkgoHelper()
			Eventually(func() error {
				_, err := kubectlIn(bundle, "-n", ns, "apply", "--server-side", "--force-conflicts", "--field-manager=gitops", "-f", "-")
				return err
			}).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		}
		field := func(resource, name, path string) string {
			out, _ := kubectl("-n", ns, "get", resource, name, "-o", "jsonpath="+path)
			return out
		}
		jobUIDs := map[string]bool{}
		collectJobs := func() {
			out, err := kubectl("-n", ns, "get", "jobs", "-l", "batch.cs.sap.com/controller-name=test",
				"-o", "jsonpath={.items[*].metadata.uid}")
			if err == nil {
				for _, uid := range strings.Fields(out) {
					jobUIDs[uid] = true
				}
			}
		}
		// What the first apply asks for: one run of each once, one run of the
		// errand's request token, one rerun of the ReactiveJob; the plain errand none.
		wantRuns := map[string]int{"one-time-sleep": 1, "deletes-pod-1": 1, "auto-errand-sleep-again": 1,
			"myfoo": 1, "manual-sleep": 0, "errand-from-git": 1}

		sync()
		for name, want := range wantRuns {
			if want == 0 {
				continue
			}
			Eventually(func() string { collectJobs(); return field("quarksjob", name, "{.status.lastRun.result}") }).
				WithTimeout(4*time.Minute).WithPolling(2*time.Second).Should(Equal("Succeeded"), name)
		}
		Eventually(func() string { collectJobs(); return field("reactivejob", "test", "{.status.state}") }).
			WithTimeout(4 * time.Minute).WithPolling(2 * time.Second).Should(Equal("Ready"))

		for i := range syncs {
			By(fmt.Sprintf("sync %d of %d", i+1, syncs))
			sync()
			deadline := time.Now().Add(interval)
			for time.Now().Before(deadline) {
				collectJobs()
				time.Sleep(time.Second)
			}
		}

		for name, want := range wantRuns {
			n, _ := strconv.Atoi(field("quarksjob", name, "{.status.runCount}"))
			Expect(n).To(Equal(want), "runs of QuarksJob %s", name)
		}
		Expect(field("quarksjob", "errand-from-git", "{.status.lastHandledRunRequest}")).To(Equal("2026-12-06-1"))
		Expect(field("reactivejob", "test", "{.status.runCount}")).To(Equal("1"))
		Expect(field("reactivejob", "test", "{.status.lastHandledRerun}")).To(Equal("a"))
		// The ReactiveJob keeps its Jobs: one run, one Job UID ever seen.
		Expect(jobUIDs).To(HaveLen(1), "Jobs of the ReactiveJob seen by UID")
		// Every QuarksJob run succeeded, so none of their Jobs is left behind.
		Eventually(func() (string, error) {
			return kubectl("-n", ns, "get", "jobs", "-l", "quarks.cloudfoundry.org/qjob-name", "-o", "name")
		}).WithTimeout(time.Minute).Should(BeEmpty())
	})
})
