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

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	dto "github.com/prometheus/client_model/go"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/objectmetrics"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// TestManagerStartsAndBecomesReady runs the real manager wiring against a test
// control plane whose webhook configurations point at it, and checks that it
// becomes ready, takes the leader Lease and answers admission requests.
func TestManagerStartsAndBecomesReady(t *testing.T) {
	g := NewWithT(t)
	assets, err := utils.EnvtestAssets()
	g.Expect(err).NotTo(HaveOccurred())
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     utils.CRDPaths(),
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: utils.WebhookPaths()},
	}
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })

	probeAddr, resultsAddr := freeAddr(t), freeAddr(t)
	wh := env.WebhookInstallOptions
	args := []string{
		"--health-probe-bind-address=" + probeAddr,
		"--metrics-bind-address=0",
		"--webhook-port=" + strconv.Itoa(wh.LocalServingPort),
		"--webhook-cert-path=" + wh.LocalServingCertDir,
		"--leader-elect",
		"--leader-election-namespace=default",
		"--zap-log-level=info",
		"--results-bind-address=" + resultsAddr,
		"--report-dir=" + t.TempDir(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager exited with: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop")
		}
	})

	probe := func(path string) (int, string, error) {
		resp, err := http.Get("http://" + probeAddr + path)
		if err != nil {
			return 0, "", err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}

	g.Eventually(func(g Gomega) {
		code, body, err := probe("/readyz?verbose")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(code).To(Equal(http.StatusOK), body)
		g.Expect(body).To(ContainSubstring("[+]webhook ok"))
		g.Expect(body).To(ContainSubstring("[+]results ok"))
	}).WithTimeout(time.Minute).Should(Succeed())
	code, _, err := probe("/healthz")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(code).To(Equal(http.StatusOK))

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())

	g.Eventually(func(g Gomega) {
		var lease coordinationv1.Lease
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "jobkeeper.cs.sap.com"}, &lease)).To(Succeed())
		g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
	}).WithTimeout(time.Minute).Should(Succeed())

	// The results API answers over TLS, with JSON errors, and refuses requests without a token.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := insecure.Post("https://"+resultsAddr+"/quarksjob/v1/output", "application/json", strings.NewReader("{}"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
	_ = resp.Body.Close()

	// The API server calls the manager's validating webhook, which dry-runs the
	// Job: an image-less container is denied with the Job API's message.
	rj := &batchv1alpha1.ReactiveJob{
		ObjectMeta: metav1.ObjectMeta{Name: "wired", Namespace: "default"},
		Spec: batchv1alpha1.ReactiveJobSpec{JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main"}},
			}}},
		}},
	}
	err = c.Create(ctx, rj)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error: %v", err)
	g.Expect(err.Error()).To(ContainSubstring("job template is invalid; dry-run output was"))

	// The leader exports the conditions of the objects it reconciles through the controller-runtime registry.
	rj = rj.DeepCopy()
	rj.ResourceVersion = ""
	rj.Name = "conditions"
	rj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image = "busybox"
	g.Expect(c.Create(ctx, rj)).To(Succeed())
	g.Eventually(func(g Gomega) {
		families, err := metrics.Registry.Gather()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(objectConditions(families, "ReactiveJob", "default", "conditions")).To(ContainElement("Ready"))
	}).WithTimeout(time.Minute).Should(Succeed())
}

// objectConditions returns the conditions that jobkeeper_object_condition reports for one object.
func objectConditions(families []*dto.MetricFamily, kind, namespace, name string) []string {
	var out []string
	for _, f := range families {
		if f.GetName() != objectmetrics.MetricName {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l[objectmetrics.LabelKind] == kind && l[objectmetrics.LabelNamespace] == namespace &&
				l[objectmetrics.LabelName] == name {
				out = append(out, l[objectmetrics.LabelCondition])
			}
		}
	}
	return out
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"a":             "a",
		" a , ,b,":      "a|b",
		"team-a,team-b": "team-a|team-b",
	} {
		if got := strings.Join(splitList(in), "|"); got != want {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}

func TestRejectsNonPositivePersistOutputTimeout(t *testing.T) {
	err := run(context.Background(), []string{"--persist-output-timeout=0"}, nil)
	if err == nil || !strings.Contains(err.Error(), "--persist-output-timeout") {
		t.Fatalf("run with --persist-output-timeout=0 = %v, want an error naming the flag", err)
	}
}
