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
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the local cluster", func() {
	var ns string

	BeforeEach(func() {
		ns = newNamespace("e2e-")
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(ns)
		}
		_, _ = kubectl("delete", "namespace", ns, "--wait=false")
	})

	It("runs the operator Deployment, Ready, with the webhooks' CA injected", func() {
		out, err := kubectl("-n", operatorNamespace, "get", "deployment", operatorDeployment,
			"-o", "jsonpath={.status.availableReplicas}/{.spec.replicas}")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("1/1"))

		// One Ready pod, once a pod of an earlier rollout has terminated.
		Eventually(func(g Gomega) {
			out, err := kubectl("-n", operatorNamespace, "get", "pods", "-l", "control-plane=controller-manager",
				"-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(strings.Fields(out)).To(ConsistOf("True"))
		}).Should(Succeed())

		for _, cfg := range []string{
			"validatingwebhookconfiguration/jobkeeper-validating-webhook-configuration",
			"mutatingwebhookconfiguration/jobkeeper-mutating-webhook-configuration",
		} {
			out, err := kubectl("get", cfg, "-o", `jsonpath={range .webhooks[*]}{.clientConfig.caBundle}{"\n"}{end}`)
			Expect(err).NotTo(HaveOccurred())
			bundles := strings.Split(strings.TrimSpace(out), "\n")
			Expect(bundles).NotTo(BeEmpty())
			for _, b := range bundles {
				Expect(b).NotTo(BeEmpty(), "%s has a webhook without caBundle", cfg)
			}
		}
	})

	It("calls the admission webhooks through the Service: an invalid ReactiveJob is denied", func() {
		_, err := kubectlIn(reactiveJob("invalid", ""), "-n", ns, "apply", "-f", "-")
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("job template is invalid"))
		Expect(err.Error()).To(ContainSubstring("spec.template.spec.containers[0].image: Required value"))

		By("admitting a valid one")
		_, err = kubectlIn(reactiveJob("valid", "busybox"), "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "delete", "reactivejob", "valid")
		Expect(err).NotTo(HaveOccurred())
	})

	It("completes a batch/v1 Job with image: busybox in a real container", func() {
		_, err := kubectlIn(`apiVersion: batch/v1
kind: Job
metadata:
  name: hello
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo hello from $(hostname) in $(cat /proc/1/cgroup | grep -c kubepods) kubepods cgroups"]
`, "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "wait", "--for=condition=Complete", "job/hello", "--timeout=180s")
		Expect(err).NotTo(HaveOccurred())

		logs, err := kubectl("-n", ns, "logs", "job/hello")
		Expect(err).NotTo(HaveOccurred())
		Expect(logs).To(MatchRegexp(`hello from hello-\w+ in [1-9]\d* kubepods cgroups`))
		policy, err := kubectl("-n", ns, "get", "job", "hello", "-o", "jsonpath={.spec.template.spec.containers[0].imagePullPolicy}")
		Expect(err).NotTo(HaveOccurred())
		Expect(policy).To(Equal("Always"), "image: busybox (tag latest) is pulled through the registry mirror")
	})

	It("resolves a Service by its DNS name and reaches it from a pod", func() {
		_, err := kubectlIn(`apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: httpd
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo served-by-$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080}]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`, "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=180s")
		Expect(err).NotTo(HaveOccurred())
		clusterIP, err := kubectl("-n", ns, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")
		Expect(err).NotTo(HaveOccurred())

		fqdn := "web." + ns + ".svc.cluster.local"
		_, err = kubectlIn(fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: client
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: client
        image: alpine
        command:
        - sh
        - -c
        - |
          set -e
          nslookup %[1]s
          printf 'GET / HTTP/1.0\r\nHost: web\r\n\r\n' | nc web 80
          printf 'GET / HTTP/1.0\r\nHost: web\r\n\r\n' | nc %[1]s 80
`, fqdn), "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "wait", "--for=condition=Complete", "job/client", "--timeout=180s")
		Expect(err).NotTo(HaveOccurred())

		logs, err := kubectl("-n", ns, "logs", "job/client")
		Expect(err).NotTo(HaveOccurred())
		Expect(logs).To(ContainSubstring("Address: " + clusterIP))
		Expect(strings.Count(logs, "served-by-web")).To(Equal(2), logs)
	})

	It("runs the kwok-simulated nodes, Ready", func() {
		n, _ := strconv.Atoi(os.Getenv("KWOK_NODES"))
		if n == 0 {
			Skip("KWOK_NODES is not set")
		}
		out, err := kubectl("get", "nodes", "-l", "type=kwok",
			"-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(out)).To(HaveLen(n))
		Expect(strings.Fields(out)).To(HaveEach("True"))

		By("running a pod on a simulated node")
		_, err = kubectlIn(`apiVersion: v1
kind: Pod
metadata:
  name: simulated
spec:
  nodeSelector: {type: kwok}
  tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
  containers: [{name: main, image: busybox}]
`, "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/simulated", "--timeout=60s")
		Expect(err).NotTo(HaveOccurred())
		node, err := kubectl("-n", ns, "get", "pod", "simulated", "-o", "jsonpath={.spec.nodeName}")
		Expect(err).NotTo(HaveOccurred())
		Expect(node).To(HavePrefix("kwok-node-"))
	})
})

// reactiveJob is a ReactiveJob whose Job runs image (none when empty).
func reactiveJob(name, image string) string {
	img := ""
	if image != "" {
		img = "\n              image: " + image
	}
	return fmt.Sprintf(`apiVersion: batch.cs.sap.com/v1alpha1
kind: ReactiveJob
metadata:
  name: %s
spec:
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: main%s
              command: ["true"]
`, name, img)
}
