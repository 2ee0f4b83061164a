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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// curlImage is the local cluster's stand-in for curlimages/curl (hack/cluster/images.sh).
const curlImage = "curlimages/curl"

// These scenarios run job scripts the way users of batch-job-controller write them, and check that every result
// the results API answered 200 is kept across manager restarts.
var _ = Describe("NodeJob job scripts and durable results", func() {
	var ns string

	BeforeEach(func() {
		ns = newNamespace("e2e-njs-")
		_, err := kubectl("-n", ns, "create", "serviceaccount", "scraper")
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

	// nodeJob applies a NodeJob that runs once on the real node with the gauge e2e_test{label_a,label_b}.
	nodeJob := func(name, identity, image string, container string) {
		GinkgoHelper()
		manifest := fmt.Sprintf(`apiVersion: batch.cs.sap.com/v1alpha1
kind: NodeJob
metadata:
  name: %s
spec:
  runOnCreate: true
  callerIdentity: %s
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
%s`, name, identity, realNode(), image, container)
		_, err := kubectlIn(manifest, "-n", ns, "apply", "--server-side", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
	}
	// finishedRun waits for the one run of a NodeJob to succeed and returns its name and execution ID.
	finishedRun := func(nodeJob string) (string, string) {
		GinkgoHelper()
		var run string
		Eventually(func() (string, error) {
			out, err := kubectl("-n", ns, "get", "nodejobruns", "-l", "batch.cs.sap.com/nodejob-name="+nodeJob,
				"-o", "jsonpath={.items[*].metadata.name}")
			run = strings.TrimSpace(out)
			return run, err
		}).ShouldNot(BeEmpty())
		Eventually(func() (string, error) {
			return kubectl("-n", ns, "get", "nodejobrun", run, "-o", "jsonpath={.status.phase}")
		}, 4*time.Minute).Should(Equal("Succeeded"))
		execID, err := kubectl("-n", ns, "get", "nodejobrun", run, "-o", "jsonpath={.spec.executionID}")
		Expect(err).NotTo(HaveOccurred())
		return run, execID
	}
	series := func(nodeJob, execID string, value string) string {
		return fmt.Sprintf(`e2e_test{executionID="%s",label_a="seq",label_b="n",namespace="%s",node="%s",nodejob="%s"} %s`,
			execID, ns, realNode(), nodeJob, value)
	}

	It("an unchanged batch-job-controller script (curl, no token, no CA flag) posts with callerIdentity PodIP", func() {
		// The shape of the upstream job scripts: curl without --fail, so only the operator's side shows whether the
		// result arrived.
		nodeJob("upstream", "PodIP", curlImage, `        command:
        - sh
        - -c
        - |
          echo '{"test": [{"value": 7, "labels": {"label_a": "seq", "label_b": "n"}}]}' > /tmp/result.json
          curl -X POST --data @/tmp/result.json ${CALLBACK_SERVICE_RESULT_URL}
`)
		run, execID := finishedRun("upstream")
		Expect(kubectl("-n", ns, "get", "nodejobrun", run, "-o", "jsonpath={.status.reported}")).To(Equal("1"))
		Expect(scrapeMetrics(ns)).To(ContainSubstring(series("upstream", execID, "7")))

		By("the same script without callerIdentity PodIP is refused: it sends no token")
		nodeJob("tokenless", "Token", curlImage, `        command:
        - sh
        - -c
        - |
          echo '{"test": [{"value": 7, "labels": {"label_a": "seq", "label_b": "n"}}]}' > /tmp/result.json
          curl -sS -o /dev/null -w '%{http_code}\n' -X POST --data @/tmp/result.json ${CALLBACK_SERVICE_RESULT_URL}
`)
		run, _ = finishedRun("tokenless")
		Expect(kubectl("-n", ns, "get", "nodejobrun", run, "-o", "jsonpath={.status.reported}")).To(BeElementOf("", "0"),
			"no result reported (0 is left out of the status)")
		Expect(kubectl("-n", ns, "logs", "-l", "batch.cs.sap.com/nodejobrun-name="+run)).
			To(WithTransform(strings.TrimSpace, Equal("401")))
	})

	It("a curl script with the pod's token and the CA file posts to the cert-manager deployment", func() {
		// The trust variables are unset, so only --cacert makes the TLS handshake succeed.
		nodeJob("token", "Token", curlImage, `        command:
        - sh
        - -c
        - |
          unset SSL_CERT_FILE CURL_CA_BUNDLE
          curl --silent --show-error --fail-with-body --retry 8 --retry-connrefused \
            --cacert "$CALLBACK_SERVICE_CA_FILE" \
            -H "Authorization: Bearer $(cat "$CALLBACK_SERVICE_TOKEN_FILE")" \
            -H 'Content-Type: application/json' \
            --data '{"test": [{"value": 3, "labels": {"label_a": "seq", "label_b": "n"}}]}' \
            "$CALLBACK_SERVICE_RESULT_URL"
`)
		run, execID := finishedRun("token")
		Expect(kubectl("-n", ns, "get", "nodejobrun", run, "-o", "jsonpath={.status.reported}")).To(Equal("1"))
		Expect(scrapeMetrics(ns)).To(ContainSubstring(series("token", execID, "3")))
	})

	It("with two manager replicas, every result of a script that does not retry reaches the leader", func() {
		_, err := kubectl("-n", operatorNamespace, "scale", "deployment", operatorDeployment, "--replicas=2")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			_, err := kubectl("-n", operatorNamespace, "scale", "deployment", operatorDeployment, "--replicas=1")
			Expect(err).NotTo(HaveOccurred())
			_, err = kubectl("-n", operatorNamespace, "rollout", "status", "deployment", operatorDeployment, "--timeout=180s")
			Expect(err).NotTo(HaveOccurred())
		})
		_, err = kubectl("-n", operatorNamespace, "rollout", "status", "deployment", operatorDeployment, "--timeout=180s")
		Expect(err).NotTo(HaveOccurred())
		Expect(kubectl("-n", operatorNamespace, "get", "pods", "-l", "control-plane=controller-manager",
			"--field-selector=status.phase=Running", "-o", "name")).To(WithTransform(strings.Fields, HaveLen(2)))

		// 20 results one after another, each answer's code printed; curl does not retry.
		nodeJob("replicas", "PodIP", curlImage, `        command:
        - sh
        - -c
        - |
          for i in $(seq 1 20); do
            curl -sS -o /dev/null -w '%{http_code}\n' -X POST \
              --data "{\"test\": [{\"value\": $i, \"labels\": {\"label_a\": \"seq\", \"label_b\": \"n\"}}]}" \
              ${CALLBACK_SERVICE_RESULT_URL}
          done
`)
		run, execID := finishedRun("replicas")
		logs, err := kubectl("-n", ns, "logs", "-l", "batch.cs.sap.com/nodejobrun-name="+run, "--tail=-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(logs)).To(And(HaveLen(20), HaveEach("200")), "every answer")
		Expect(scrapeLeaderMetrics(ns)).To(ContainSubstring(series("replicas", execID, "20")))
	})

	It("every result answered 200 while the manager pod is deleted is in the store and on /metrics, "+
		"also after another restart", func() {
		const jobs, perJob = 4, 50
		for i := range jobs {
			nodeJob(fmt.Sprintf("durable-%d", i), "Token", reporterImage, fmt.Sprintf(`        args: ["results:%d"]
`, perJob))
		}
		By("deleting the manager pod while the pods post")
		Eventually(func() (string, error) {
			return kubectl("-n", ns, "get", "pods", "--field-selector=status.phase=Running", "-o", "name")
		}).ShouldNot(BeEmpty())
		_, err := kubectl("-n", operatorNamespace, "delete", "pod", "-l", "control-plane=controller-manager", "--wait=false")
		Expect(err).NotTo(HaveOccurred())

		runs := map[string][2]string{}
		for i := range jobs {
			name := fmt.Sprintf("durable-%d", i)
			run, execID := finishedRun(name)
			runs[name] = [2]string{run, execID}
			logs, err := kubectl("-n", ns, "logs", "-l", "batch.cs.sap.com/nodejobrun-name="+run, "--tail=-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(logs).To(ContainSubstring(fmt.Sprintf("result %d: 200", perJob)), "every result was answered 200")
		}
		check := func() {
			GinkgoHelper()
			metrics := scrapeMetrics(ns)
			root := reportsRoot()
			for name, r := range runs {
				Expect(metrics).To(ContainSubstring(series(name, r[1], fmt.Sprint(perJob))), name)
				data, err := os.ReadFile(filepath.Join(root, ns, name, r[0], "nodes", realNode(), "result.json"))
				Expect(err).NotTo(HaveOccurred())
				var result map[string][]struct {
					Value float64 `json:"value"`
				}
				Expect(json.Unmarshal(data, &result)).To(Succeed())
				Expect(result["test"]).To(HaveLen(1))
				Expect(result["test"][0].Value).To(BeEquivalentTo(perJob), "the last result answered 200 in the store")
			}
		}
		check()

		By("restarting the manager again: the series are rebuilt from the store")
		uid, err := kubectl("-n", operatorNamespace, "get", "pods", "-l", "control-plane=controller-manager",
			"-o", "jsonpath={.items[*].metadata.uid}")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", operatorNamespace, "delete", "pod", "-l", "control-plane=controller-manager")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() (string, error) {
			return kubectl("-n", operatorNamespace, "get", "pods", "-l", "control-plane=controller-manager,jobkeeper.io/leader=true",
				"-o", "jsonpath={.items[*].metadata.uid}")
		}, 2*time.Minute).Should(And(Not(BeEmpty()), Not(Equal(uid))))
		_, err = kubectl("-n", operatorNamespace, "wait", "pod", "-l", "control-plane=controller-manager,jobkeeper.io/leader=true",
			"--for=condition=Ready", "--timeout=120s")
		Expect(err).NotTo(HaveOccurred())
		check()
	})
})
