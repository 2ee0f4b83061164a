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

// Package e2e runs the operator on the local cluster of hack/cluster: a real
// node with containerd, kube-proxy and CoreDNS, cert-manager, and the operator
// installed with `kustomize build config/default | kubectl apply --server-side`.
//
// The suite brings the cluster up unless it is up already, builds the images,
// deploys cert-manager and the operator, runs the scenarios and tears the
// cluster down again if it brought it up. It needs root (containerd, the
// kubelet and kube-proxy change the host). Settings:
//
//	E2E_KEEP_CLUSTER=true   keep the cluster running afterwards
//	E2E_DOWN=true           tear the cluster down even if it was up before
//	E2E_SKIP_DEPLOY=true    use the operator that is deployed already
//	KWOK_NODES=N            also run N kwok-simulated nodes
//	IMG=name:tag            operator image (default jobkeeper:latest)
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

const (
	operatorNamespace  = "jobkeeper-system"
	operatorDeployment = "jobkeeper-controller-manager"
)

var (
	root       = utils.RepoRoot()
	state      = stateDir()
	kubeconfig = filepath.Join(state, "kubeconfig", "admin.kubeconfig")
	kubectlBin string
	// broughtUp records whether this suite started the cluster.
	broughtUp bool
)

func stateDir() string {
	if dir := os.Getenv("CLUSTER_STATE"); dir != "" {
		return dir
	}
	return filepath.Join(utils.RepoRoot(), ".state", "cluster")
}

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(3 * time.Minute)
	SetDefaultEventuallyPollingInterval(time.Second)
	RunSpecs(t, "jobkeeper e2e suite (local cluster)")
}

var _ = BeforeSuite(func() {
	Expect(os.Geteuid()).To(Equal(0), "the local cluster needs root: run the e2e suite as root")
	assets, err := utils.EnvtestAssets()
	Expect(err).NotTo(HaveOccurred())
	kubectlBin = filepath.Join(assets, "kubectl")

	if _, err := kubectl("get", "--raw", "/readyz"); err == nil {
		// up.sh is idempotent: it starts only what is missing, such as the simulated nodes KWOK_NODES asks for.
		By("reusing the local cluster that is up (hack/cluster/up.sh adds what is missing)")
	} else {
		By("bringing the local cluster up (hack/cluster/up.sh)")
		broughtUp = true
	}
	Expect(script("up.sh")).To(Succeed())
	if os.Getenv("E2E_SKIP_DEPLOY") != "true" {
		By("deploying cert-manager and the operator (hack/cluster/deploy.sh)")
		Expect(script("deploy.sh")).To(Succeed())
	}
})

var _ = AfterSuite(func() {
	down := (broughtUp && os.Getenv("E2E_KEEP_CLUSTER") != "true") || os.Getenv("E2E_DOWN") == "true"
	if !down {
		By("keeping the local cluster; stop it with hack/cluster/down.sh")
		if os.Getenv("E2E_KEEP_DEPLOYMENT") != "true" {
			// make run refuses to start next to a deployed operator: remove the
			// Deployment and the results Service that selects its pods (the CRDs,
			// cert-manager and the objects of the scenarios stay). Best effort.
			By("removing the deployed operator so that make run can start (E2E_KEEP_DEPLOYMENT=true keeps it)")
			_, err := kubectl("-n", operatorNamespace, "delete", "deployment/"+operatorDeployment,
				"service/jobkeeper-results", "--ignore-not-found")
			if err != nil {
				GinkgoWriter.Printf("removing the operator: %v\n", err)
			}
		}
		return
	}
	By("tearing the local cluster down (hack/cluster/down.sh)")
	Expect(script("down.sh")).To(Succeed())
})

// script runs hack/cluster/NAME with its output on the Ginkgo writer.
func script(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(root, "hack", "cluster", name), args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	return cmd.Run()
}

// newNamespace creates a namespace for one scenario, named prefix and a
// number, and waits until its default ServiceAccount exists.
func newNamespace(prefix string) string {
	GinkgoHelper()
	ns := fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1_000_000_000)
	_, err := kubectl("create", "namespace", ns)
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() error {
		_, err := kubectl("-n", ns, "get", "serviceaccount", "default")
		return err
	}).Should(Succeed())
	return ns
}

// kubectl runs the cluster's kubectl as the cluster admin and returns its
// standard output, or an error carrying its standard error.
func kubectl(args ...string) (string, error) {
	return kubectlIn("", args...)
}

// kubectlIn is kubectl with stdin.
func kubectlIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// dumpDiagnostics writes the operator's logs, the cluster's events and the
// pods (with their logs) of the given namespaces to the Ginkgo writer.
func dumpDiagnostics(namespaces ...string) {
	section := func(title string, args ...string) {
		out, err := kubectl(args...)
		GinkgoWriter.Printf("\n===== %s\n%s", title, out)
		if err != nil {
			GinkgoWriter.Printf("(%v)\n", err)
		}
	}
	section("operator pods", "-n", operatorNamespace, "get", "pods", "-o", "wide")
	section("operator logs", "-n", operatorNamespace, "logs", "deployment/"+operatorDeployment,
		"--all-containers", "--tail=300", "--prefix")
	section("cert-manager pods", "-n", "cert-manager", "get", "pods", "-o", "wide")
	section("events (all namespaces)", "get", "events", "-A", "--sort-by=.lastTimestamp")
	for _, ns := range namespaces {
		section("pods of "+ns, "-n", ns, "describe", "pods")
		pods, _ := kubectl("-n", ns, "get", "pods", "-o", "name")
		for pod := range strings.FieldsSeq(pods) {
			section("logs of "+ns+"/"+pod, "-n", ns, "logs", pod, "--all-containers", "--prefix", "--tail=200")
		}
	}
}
