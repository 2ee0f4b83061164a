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
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// metricsScraper is the service account whose token reads the managers' /metrics after every spec; it lives in
// namespace default, so that installing and uninstalling the operator leaves it alone.
const metricsScraper = "e2e-metrics-scraper"

var (
	scraperTokenOnce sync.Once
	scraperToken     string
)

// After every spec, every ready manager pod that serves metrics answers 200 on /metrics: nothing a spec does (a
// tenant's NodeJob with labelled gauges, two runs, a removed label, a restart) may break the operator's
// monitoring. A spec that leaves no operator installed has nothing to scrape.
var _ = AfterEach(func() {
	pods := managerMetricsPods()
	if len(pods) == 0 {
		return
	}
	token := metricsToken()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// The serving certificate names the metrics Service, and the pods are reached by IP; what is checked here is
		// the answer, not the certificate (the scrape specs verify it).
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	}}
	for _, pod := range pods {
		By(fmt.Sprintf("/metrics of the manager pod %s answers 200", pod.name))
		// A pod that has only just started may not serve yet: retry for a while, but a 500 is never accepted.
		Eventually(func(g Gomega) {
			req, err := http.NewRequest(http.MethodGet, "https://"+pod.addr+"/metrics", nil)
			g.Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			g.Expect(err).NotTo(HaveOccurred())
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode == http.StatusInternalServerError {
				StopTrying(fmt.Sprintf("/metrics of %s answered 500: %s", pod.name, body)).Now()
			}
			g.Expect(resp.StatusCode).To(Equal(http.StatusOK), "/metrics of %s: %s", pod.name, body)
		}).WithTimeout(time.Minute).Should(Succeed())
	}
})

// metricsPod is a ready manager pod that serves metrics, and the address it serves them on.
type metricsPod struct{ name, addr string }

// managerMetricsPods lists the ready, not terminating manager pods of every namespace that serve metrics
// (--metrics-bind-address other than 0).
func managerMetricsPods() []metricsPod {
	GinkgoHelper()
	out, err := kubectl("get", "pods", "-A", "-l", "control-plane=controller-manager", "-o", "json")
	Expect(err).NotTo(HaveOccurred())
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string  `json:"name"`
				DeletionTimestamp *string `json:"deletionTimestamp"`
			} `json:"metadata"`
			Spec struct {
				Containers []struct {
					Args []string `json:"args"`
				} `json:"containers"`
			} `json:"spec"`
			Status struct {
				PodIP      string `json:"podIP"`
				Conditions []struct {
					Type   string `json:"type"`
					Status string `json:"status"`
				} `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
	var pods []metricsPod
	for _, p := range list.Items {
		port, ready := "", false
		for _, c := range p.Spec.Containers {
			for _, arg := range c.Args {
				if addr, ok := strings.CutPrefix(arg, "--metrics-bind-address="); ok && addr != "0" {
					port = addr[strings.LastIndexByte(addr, ':')+1:]
				}
			}
		}
		for _, c := range p.Status.Conditions {
			ready = ready || (c.Type == "Ready" && c.Status == "True")
		}
		if port != "" && ready && p.Metadata.DeletionTimestamp == nil && p.Status.PodIP != "" {
			pods = append(pods, metricsPod{name: p.Metadata.Name, addr: net.JoinHostPort(p.Status.PodIP, port)})
		}
	}
	return pods
}

// metricsToken is a token of metricsScraper, bound to the metrics-reader role as Prometheus's would be.
func metricsToken() string {
	GinkgoHelper()
	scraperTokenOnce.Do(func() {
		manifest := fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: %[1]s, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: jobkeeper-metrics-reader}
subjects: [{kind: ServiceAccount, name: %[1]s, namespace: default}]
`, metricsScraper)
		_, err := kubectlIn(manifest, "apply", "--server-side", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		out, err := kubectl("-n", "default", "create", "token", metricsScraper, "--duration=4h")
		Expect(err).NotTo(HaveOccurred())
		scraperToken = strings.TrimSpace(out)
	})
	Expect(scraperToken).NotTo(BeEmpty(), "no token for %s", metricsScraper)
	return scraperToken
}
