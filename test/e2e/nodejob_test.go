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
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// reporterImage is the job program of these scenarios (test/e2e/reporter, built by hack/cluster/images.sh).
const reporterImage = "jobkeeper.internal/e2e/reporter:latest"

const e2eResult = `{"test":[{"value":1.0,"labels":{"label_a":"AAA","label_b":"BBB"}},{"value":2.554,"labels":{"label_a":"AAA2","label_b":"BBB2"}}]}`

// realNode returns the name of the cluster's real (not kwok-simulated) node.
func realNode() string {
	out, err := kubectl("get", "nodes", "-l", "!type", "-o", "jsonpath={.items[*].metadata.name}")
	Expect(err).NotTo(HaveOccurred())
	for name := range strings.FieldsSeq(out) {
		ann, err := kubectl("get", "node", name, "-o", `jsonpath={.metadata.annotations.kwok\.x-k8s\.io/node}`)
		Expect(err).NotTo(HaveOccurred())
		if ann == "" {
			return name
		}
	}
	Fail("no real node")
	return ""
}

// scrapeMetrics reads the manager's /metrics from a pod of namespace ns whose service account is bound to
// the metrics-reader role, as Prometheus would.
func scrapeMetrics(ns string) string {
	return scrapeMetricsAt(ns, "https://jobkeeper-controller-manager-metrics-service.jobkeeper-system.svc:8080/metrics")
}

// scrapeLeaderMetrics reads /metrics of the leading replica's pod, as Prometheus scrapes each pod: with more than
// one replica, the metrics Service may pick one that does not lead, and only the leader holds the NodeJob series.
func scrapeLeaderMetrics(ns string) string {
	GinkgoHelper()
	ip, err := kubectl("-n", operatorNamespace, "get", "pods", "-l", "control-plane=controller-manager,jobkeeper.io/leader=true",
		"-o", "jsonpath={.items[0].status.podIP}")
	Expect(err).NotTo(HaveOccurred())
	Expect(ip).NotTo(BeEmpty(), "no pod carries the leader label")
	return scrapeMetricsAt(ns, "https://"+ip+":8080/metrics")
}

// scrapeMetricsAt reads the metrics at url from a pod of namespace ns, as scrapeMetrics does.
func scrapeMetricsAt(ns, url string) string {
	name := fmt.Sprintf("scrape-%d", time.Now().UnixNano()%1_000_000)
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  serviceAccountName: scraper
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: scrape
    image: %s
    args: ["scrape:%s"]
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`, name, reporterImage, url)
	_, err := kubectlIn(manifest, "-n", ns, "apply", "-f", "-")
	Expect(err).NotTo(HaveOccurred())
	Eventually(func(g Gomega) string {
		phase, err := kubectl("-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}")
		g.Expect(err).NotTo(HaveOccurred())
		if phase == "Failed" {
			logs, _ := kubectl("-n", ns, "logs", name)
			StopTrying("the scrape of " + url + " failed: " + logs).Now()
		}
		return phase
	}).Should(Equal("Succeeded"))
	out, err := kubectl("-n", ns, "logs", name)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// reportsRoot is the directory on this host that holds the manager's report volume: the host path that the local
// cluster's provisioner made for the claim jobkeeper-reports.
func reportsRoot() string {
	GinkgoHelper()
	pv, err := kubectl("-n", operatorNamespace, "get", "pvc", "jobkeeper-reports", "-o", "jsonpath={.spec.volumeName}")
	Expect(err).NotTo(HaveOccurred())
	Expect(pv).NotTo(BeEmpty(), "the report claim is not bound")
	path, err := kubectl("get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}")
	Expect(err).NotTo(HaveOccurred())
	Expect(path).NotTo(BeEmpty())
	return path
}

var _ = Describe("NodeJob on the local cluster", func() {
	var ns string

	BeforeEach(func() {
		ns = fmt.Sprintf("e2e-nj-%d", time.Now().UnixNano()%1_000_000_000)
		_, err := kubectl("create", "namespace", ns)
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "create", "serviceaccount", "scraper")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("create", "clusterrolebinding", ns+"-scraper", "--clusterrole=jobkeeper-metrics-reader",
			"--serviceaccount="+ns+":scraper")
		Expect(err).NotTo(HaveOccurred())
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(ns)
		}
		_, _ = kubectl("delete", "clusterrolebinding", ns+"-scraper", "--wait=false")
		_, _ = kubectl("delete", "namespace", ns, "--wait=false")
	})

	It("NJ-S3, NJ-S4, NJ-X25: a real pod posts a result, a file and an event; another node's route is forbidden", func() {
		node := realNode()
		manifest := fmt.Sprintf(`apiVersion: batch.cs.sap.com/v1alpha1
kind: NodeJob
metadata:
  name: check
spec:
  runOnCreate: true
  savePodLogs: true
  nodeSelector:
    matchLabels:
      kubernetes.io/hostname: %s
  metrics:
    prefix: e2e
    gauges:
      test:
        help: a test gauge
        labels: [label_a, label_b]
  template:
    spec:
      containers:
      - name: main
        image: %s
        args:
        - 'result:%s'
        - 'file:test.txt:file content'
        - 'event:{"reason":"TestReason","message":"test message with %%s","args":["arg"]}'
        - 'result-for:another-node:403:%s'
`, node, reporterImage, e2eResult, e2eResult)
		_, err := kubectlIn(manifest, "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())

		var run string
		Eventually(func() (string, error) {
			out, err := kubectl("-n", ns, "get", "nodejobruns", "-o", "jsonpath={.items[*].metadata.name}")
			run = strings.TrimSpace(out)
			return run, err
		}).ShouldNot(BeEmpty())
		Eventually(func() (string, error) {
			return kubectl("-n", ns, "get", "nodejobrun", run, "-o", "jsonpath={.status.phase}")
		}).Should(Equal("Succeeded"))
		out, err := kubectl("-n", ns, "get", "nodejobrun", run, "-o", `jsonpath={.status.reported} {.status.succeeded}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("1 1"))
		_, err = kubectl("-n", ns, "wait", "nodejob/check", "--for=condition=Ready", "--timeout=60s")
		Expect(err).NotTo(HaveOccurred())

		By("the Event regarding the pod")
		Eventually(func() (string, error) {
			return kubectl("-n", ns, "get", "events.events.k8s.io", "--field-selector", "reason=TestReason",
				"-o", "jsonpath={.items[*].note}")
		}).Should(Equal("test message with arg"))

		By("the series on the manager's /metrics")
		execID, err := kubectl("-n", ns, "get", "nodejobrun", run, "-o", "jsonpath={.spec.executionID}")
		Expect(err).NotTo(HaveOccurred())
		metrics := scrapeMetrics(ns)
		Expect(metrics).To(ContainSubstring(fmt.Sprintf(
			`e2e_test{executionID="%s",label_a="AAA",label_b="BBB",namespace="%s",node="%s",nodejob="check"} 1`,
			execID, ns, node)))
		Expect(metrics).To(ContainSubstring(fmt.Sprintf(
			`e2e_processing{executionID="%s",namespace="%s",node="%s",nodejob="check"} 0`, execID, ns, node)))
		Expect(metrics).To(MatchRegexp(`jobkeeper_nodejob_callbacks_rejected_total\{code="403",name="check",namespace="%s"\} 1`, ns))

		By("the file and the pod log in the run's report directory")
		runDir := filepath.Join(reportsRoot(), ns, "check", run)
		Expect(os.ReadFile(filepath.Join(runDir, "nodes", node, "files", "test.txt"))).To(BeEquivalentTo("file content"))
		Expect(os.ReadFile(filepath.Join(runDir, "nodes", node, "logs", "main.log"))).To(ContainSubstring("result: 200"))

		By("the node's record: its result (the durable result.json is the receipt), file, event and logs")
		Expect(os.ReadFile(filepath.Join(runDir, "nodes", node, "result.json"))).To(MatchJSON(e2eResult))
		data, err := os.ReadFile(filepath.Join(runDir, "nodes", node, "node.json"))
		Expect(err).NotTo(HaveOccurred())
		var rec struct {
			Phase     string `json:"phase"`
			Files     int    `json:"files"`
			Events    int    `json:"events"`
			LogsSaved bool   `json:"logsSaved"`
		}
		Expect(json.Unmarshal(data, &rec)).To(Succeed())
		Expect(rec.Phase).To(Equal("Succeeded"))
		Expect([]any{rec.Files, rec.Events, rec.LogsSaved}).To(Equal([]any{1, 1, true}))
	})

	It("NJ-11, NJ-S2, NJ-S5: on kwok nodes at most parallelism pods are active; a manager restart mid-run "+
		"neither duplicates nor loses a node", func() {
		n, _ := strconv.Atoi(os.Getenv("KWOK_NODES"))
		if n < 4 {
			Skip("needs KWOK_NODES=4 or more")
		}
		const parallelism = 2
		manifest := fmt.Sprintf(`apiVersion: batch.cs.sap.com/v1alpha1
kind: NodeJob
metadata:
  name: fanout
spec:
  runOnCreate: true
  parallelism: %d
  nodeSelector:
    matchLabels:
      type: kwok
  template:
    spec:
      tolerations:
      - {key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}
      containers:
      - name: main
        image: busybox
`, parallelism)
		_, err := kubectlIn(manifest, "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())

		// Sample the run's active count and the pods until the run ends; kwok completes each pod after a
		// fixed time (hack/cluster/up.sh).
		maxActive, maxRunning := 0, 0
		restarted := false
		Eventually(func(g Gomega) {
			out, err := kubectl("-n", ns, "get", "nodejobruns", "-o",
				"jsonpath={.items[0].status.phase},{.items[0].status.active},{.items[0].status.succeeded}")
			g.Expect(err).NotTo(HaveOccurred())
			f := strings.Split(out, ",")
			g.Expect(f).To(HaveLen(3))
			active, _ := strconv.Atoi(f[1])
			maxActive = max(maxActive, active)
			if active > 0 && !restarted {
				// NJ-32, NJ-S5: the manager goes away mid-run; its successor carries on from the run's status
				// and the pods, so no node gets a second pod and none is lost.
				_, err := kubectl("-n", operatorNamespace, "delete", "pod", "-l", "control-plane=controller-manager",
					"--wait=false")
				g.Expect(err).NotTo(HaveOccurred())
				restarted = true
			}
			pods, err := kubectl("-n", ns, "get", "pods", "--field-selector=status.phase!=Succeeded,status.phase!=Failed",
				"-o", "name")
			g.Expect(err).NotTo(HaveOccurred())
			maxRunning = max(maxRunning, len(strings.Fields(pods)))
			g.Expect(f[0]).To(Equal("Succeeded"))
			g.Expect(f[2]).To(Equal(strconv.Itoa(n)))
		}).WithTimeout(5 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
		// Leave the operator as the other scenarios expect it: Ready again.
		_, err = kubectl("-n", operatorNamespace, "rollout", "status", "deployment/"+operatorDeployment, "--timeout=180s")
		Expect(err).NotTo(HaveOccurred())
		// The Services reach the new pod once its endpoints are programmed: wait for an admission call to pass.
		Eventually(func() error {
			_, err := kubectlIn(reactiveJob("probe", "busybox"), "-n", ns, "create", "--dry-run=server", "-f", "-")
			return err
		}).Should(Succeed())
		Expect(restarted).To(BeTrue())
		Expect(maxActive).To(BeNumerically("<=", parallelism))
		Expect(maxRunning).To(BeNumerically("<=", parallelism))
		Expect(maxActive).To(BeNumerically(">", 0))
		pods, err := kubectl("-n", ns, "get", "pods", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}")
		Expect(err).NotTo(HaveOccurred())
		nodes := strings.Fields(pods)
		Expect(nodes).To(HaveLen(n))
		slices.Sort(nodes)
		Expect(slices.Compact(nodes)).To(HaveLen(n), "one pod per node")
	})
})
