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
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Chaos: the manager pod is deleted at random moments while QuarksJobs and
// ReactiveJobs start, rerun and finish, and kubectl apply is retried while
// the webhooks are away, as a pipeline does. Every run must happen exactly
// once: Jobs are counted by UID from a watch that sees every Job ever
// created, runs by counters that never reset.
var _ = Describe("Chaos on the local cluster", Ordered, func() {
	const (
		objects   = 50
		deletions = 20
	)
	var ns string

	BeforeAll(func() {
		ns = newNamespace("e2e-chaos-")
	})

	AfterAll(func() {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(ns)
		}
		_, _ = kubectl("delete", "namespace", ns, "--wait=false")
	})

	It("runs every run exactly once while the manager pod is deleted 20 times", func() {
		// Every Job of the namespace ever created, by UID, from a watch.
		watchCtx, stopWatch := context.WithCancel(context.Background())
		defer stopWatch()
		seen := map[string]string{} // Job UID -> owner label
		var mu sync.Mutex
		watch := exec.CommandContext(watchCtx, kubectlBin, "--kubeconfig", kubeconfig, "-n", ns, "get", "jobs", "--watch",
			"--output-watch-events", "-o", `jsonpath={.object.metadata.uid} {.object.metadata.labels.quarks\.cloudfoundry\.org/qjob-name}{.object.metadata.labels.batch\.cs\.sap\.com/controller-name}{"\n"}`)
		out, err := watch.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(watch.Start()).To(Succeed())
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 2 {
					mu.Lock()
					seen[f[0]] = f[1]
					mu.Unlock()
				}
			}
		}()

		// The manager pod is deleted at random moments, 20 times in all.
		chaosDone := make(chan int)
		go func() {
			defer GinkgoRecover()
			n := 0
			for n < deletions {
				time.Sleep(time.Duration(2000+rand.IntN(6000)) * time.Millisecond)
				if _, err := kubectl("-n", operatorNamespace, "delete", "pod", "-l", "control-plane=controller-manager",
					"--wait=false"); err == nil {
					n++
				}
			}
			chaosDone <- n
		}()

		// apply retries while the webhooks are away, as a pipeline does.
		apply := func(manifest string) {
			GinkgoHelper()
			Eventually(func() error {
				_, err := kubectlIn(manifest, "-n", ns, "apply", "--server-side", "--force-conflicts", "--field-manager=pipeline", "-f", "-")
				return err
			}).WithTimeout(5 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		}
		manifests := func(token string) string {
			var b strings.Builder
			for i := range objects {
				annotations := ""
				if token != "" {
					annotations = fmt.Sprintf("\n  annotations:\n    quarks.cloudfoundry.org/run-request: %q", token)
				}
				fmt.Fprintf(&b, `---
apiVersion: quarks.cloudfoundry.org/v1alpha1
kind: QuarksJob
metadata:
  name: q%d%s
spec:
  trigger:
    strategy: once
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
            command: ["sh", "-c", "sleep 1"]
`, i, annotations)
				if token != "" {
					annotations = fmt.Sprintf("\n  annotations:\n    batch.cs.sap.com/rerun: %q", token)
				}
				fmt.Fprintf(&b, `---
apiVersion: batch.cs.sap.com/v1alpha1
kind: ReactiveJob
metadata:
  name: r%d%s
spec:
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "sleep 1"]
`, i, annotations)
			}
			return b.String()
		}
		field := func(resource, name, path string) string {
			out, _ := kubectl("-n", ns, "get", resource, name, "-o", "jsonpath="+path)
			return out
		}
		// settled waits until every object ran runs times and its last run succeeded.
		settled := func(runs string) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				out, err := kubectl("-n", ns, "get", "quarksjobs", "-o",
					`jsonpath={range .items[*]}{.metadata.name}={.status.runCount}/{.status.lastRun.result} {end}`)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(strings.Fields(out)).To(HaveLen(objects))
				for _, f := range strings.Fields(out) {
					g.Expect(f).To(HaveSuffix("="+runs+"/Succeeded"), "QuarksJobs: %s", out)
				}
				out, err = kubectl("-n", ns, "get", "reactivejobs", "-o",
					`jsonpath={range .items[*]}{.metadata.name}={.status.runCount}/{.status.state} {end}`)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(strings.Fields(out)).To(HaveLen(objects))
				for _, f := range strings.Fields(out) {
					g.Expect(f).To(HaveSuffix("="+runs+"/Ready"), "ReactiveJobs: %s", out)
				}
			}).WithTimeout(15 * time.Minute).WithPolling(5 * time.Second).Should(Succeed())
		}

		By("creating 50 QuarksJobs and 50 ReactiveJobs")
		apply(manifests(""))
		settled("1")
		By("requesting one more run of each")
		apply(manifests("chaos-1"))
		settled("2")

		var n int
		Eventually(chaosDone).WithTimeout(5 * time.Minute).Should(Receive(&n))
		Expect(n).To(Equal(deletions))
		settled("2")

		// Leave the operator as the other scenarios expect it: Ready, and reached by admission calls.
		_, err = kubectl("-n", operatorNamespace, "rollout", "status", "deployment/"+operatorDeployment, "--timeout=180s")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error {
			_, err := kubectlIn(reactiveJob("probe", "busybox"), "-n", ns, "create", "--dry-run=server", "-f", "-")
			return err
		}).WithTimeout(2 * time.Minute).Should(Succeed())

		By("counting every Job ever created, by UID")
		time.Sleep(2 * time.Second)
		mu.Lock()
		perOwner := map[string]int{}
		for _, owner := range seen {
			perOwner[owner]++
		}
		mu.Unlock()
		for i := range objects {
			for _, name := range []string{"q" + strconv.Itoa(i), "r" + strconv.Itoa(i)} {
				Expect(perOwner[name]).To(Equal(2), "Jobs of %s seen by UID", name)
			}
		}
		Expect(field("reactivejob", "r0", "{.status.lastHandledRerun}")).To(Equal("chaos-1"))
		Expect(field("quarksjob", "q0", "{.status.lastHandledRunRequest}")).To(Equal("chaos-1"))

		By("no QuarksJob Job is left behind: succeeded Jobs are deleted")
		Eventually(func() (string, error) {
			return kubectl("-n", ns, "get", "jobs", "-l", "quarks.cloudfoundry.org/qjob-name", "-o", "name")
		}).WithTimeout(2 * time.Minute).Should(BeEmpty())
	})
})
