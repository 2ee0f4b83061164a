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

package kustomize_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// defaultImage is the image config/manager gives the manager (controller → jobkeeper:latest).
const defaultImage = "jobkeeper:latest"

// outputPersistImageEnv is the manager's env var naming the QuarksJob output-persist sidecar image.
const outputPersistImageEnv = "OUTPUT_PERSIST_IMAGE"

func TestEveryBaseBuilds(t *testing.T) {
	for _, name := range []string{
		"argocd", "certmanager", "crd", "default", "grafana", "manager", "network-policy", "prometheus", "rbac",
		"results", "samples", "webhook",
	} {
		t.Run(name, func(t *testing.T) {
			build(t, configDir(t, name))
		})
	}
}

// TestDefaultWithOptionalComponents enables the commented-out ServiceMonitor and NetworkPolicies of config/default,
// which a user turns on by uncommenting one line each.
func TestDefaultWithOptionalComponents(t *testing.T) {
	fSys := memConfig(t)
	k := filepath.Join(configDir(t, "default"), "kustomization.yaml")
	editFile(t, fSys, k, "#- ../prometheus", "- ../prometheus")
	editFile(t, fSys, k, "#- ../network-policy", "- ../network-policy")
	objs := buildFS(t, fSys, configDir(t, "default"))

	monitor := one(t, objs, "ServiceMonitor")
	if ns := monitor.GetNamespace(); ns != "jobkeeper-system" {
		t.Errorf("ServiceMonitor namespace = %q, want jobkeeper-system", ns)
	}
	if n := len(ofKind(objs, "NetworkPolicy")); n < 2 {
		t.Errorf("want the metrics and webhook NetworkPolicies, got %d", n)
	}
}

// manager returns the manager Deployment and its manager container.
func manager(t *testing.T, objs []*unstructured.Unstructured) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	d := into[appsv1.Deployment](t, one(t, objs, "Deployment"))
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == "manager" {
			return d, c
		}
	}
	t.Fatalf("Deployment %s has no container named manager", d.Name)
	return nil, nil
}

// images returns the manager's image and the output-persist image it is given.
func images(t *testing.T, objs []*unstructured.Unstructured) (managerImage, sidecarImage string) {
	t.Helper()
	_, c := manager(t, objs)
	for _, e := range c.Env {
		if e.Name == outputPersistImageEnv {
			if e.ValueFrom != nil {
				t.Fatalf("%s must be a literal value, so that the image transformer can rewrite it", e.Name)
			}
			return c.Image, e.Value
		}
	}
	t.Fatalf("the manager has no env var %s", outputPersistImageEnv)
	return "", ""
}

func TestSidecarImageFollowsManagerImage(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		m, s := images(t, build(t, configDir(t, "default")))
		if m != defaultImage || s != defaultImage {
			t.Errorf("manager image %q, sidecar image %q; want both %q", m, s, defaultImage)
		}
	})

	t.Run("kustomize edit set image controller=... in config/manager", func(t *testing.T) {
		fSys := memConfig(t)
		k := filepath.Join(configDir(t, "manager"), "kustomization.yaml")
		editFile(t, fSys, k, "newName: jobkeeper", "newName: registry.example.com/team/jobkeeper")
		editFile(t, fSys, k, "newTag: latest", "newTag: v1.2.3")
		m, s := images(t, buildFS(t, fSys, configDir(t, "default")))
		const want = "registry.example.com/team/jobkeeper:v1.2.3"
		if m != want || s != want {
			t.Errorf("manager image %q, sidecar image %q; want both %q", m, s, want)
		}
	})

	t.Run("images in an overlay of config/default", func(t *testing.T) {
		fSys := memConfig(t)
		overlay := filepath.Join(repoRoot(t), "config", "overlay-under-test")
		const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		kustomization := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../default
images:
- name: jobkeeper
  newName: mirror.example.com/jobkeeper
  digest: %s
`, digest)
		if err := fSys.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization)); err != nil {
			t.Fatal(err)
		}
		m, s := images(t, buildFS(t, fSys, overlay))
		want := "mirror.example.com/jobkeeper@" + digest
		if m != want || s != want {
			t.Errorf("manager image %q, sidecar image %q; want both %q", m, s, want)
		}
	})
}

// servicePorts maps namespace/name of every Service to its ports.
func servicePorts(t *testing.T, objs []*unstructured.Unstructured) map[string][]corev1.ServicePort {
	t.Helper()
	out := map[string][]corev1.ServicePort{}
	for _, u := range ofKind(objs, "Service") {
		s := into[corev1.Service](t, u)
		out[s.Namespace+"/"+s.Name] = s.Spec.Ports
	}
	return out
}

// checkWebhookClient checks that a webhook's clientConfig names an existing Service whose port forwards to a port
// of the manager container, and returns the Service's namespace/name.
func checkWebhookClient(t *testing.T, objs []*unstructured.Unstructured, webhook string,
	cc admissionregistrationv1.WebhookClientConfig) string {
	t.Helper()
	if cc.URL != nil {
		t.Errorf("webhook %s: clientConfig.url is set; want a Service", webhook)
	}
	if cc.Service == nil {
		t.Errorf("webhook %s: no clientConfig.service", webhook)
		return ""
	}
	key := cc.Service.Namespace + "/" + cc.Service.Name
	ports, ok := servicePorts(t, objs)[key]
	if !ok {
		t.Errorf("webhook %s: Service %s does not exist", webhook, key)
		return key
	}
	if cc.Service.Path == nil || *cc.Service.Path == "" {
		t.Errorf("webhook %s: no clientConfig.service.path", webhook)
	}
	port := int32(443)
	if cc.Service.Port != nil {
		port = *cc.Service.Port
	}
	_, c := manager(t, objs)
	for _, p := range ports {
		if p.Port != port {
			continue
		}
		for _, cp := range c.Ports {
			if (p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == cp.ContainerPort) ||
				(p.TargetPort.Type == intstr.String && p.TargetPort.StrVal == cp.Name) {
				return key
			}
		}
		t.Errorf("webhook %s: Service %s port %d targets %s, which is no port of the manager container",
			webhook, key, port, p.TargetPort.String())
		return key
	}
	t.Errorf("webhook %s: Service %s has no port %d", webhook, key, port)
	return key
}

// checkCAInjection checks the cert-manager CA-injection annotation of a webhook configuration: it names an existing
// Certificate whose DNS names cover the Services the webhooks call.
func checkCAInjection(t *testing.T, objs []*unstructured.Unstructured, cfg *unstructured.Unstructured,
	services []string) {
	t.Helper()
	from := cfg.GetAnnotations()["cert-manager.io/inject-ca-from"]
	ns, name, ok := strings.Cut(from, "/")
	if !ok || ns == "" || name == "" {
		t.Errorf("%s %s: annotation cert-manager.io/inject-ca-from = %q, want <namespace>/<certificate>",
			cfg.GetKind(), cfg.GetName(), from)
		return
	}
	var cert *unstructured.Unstructured
	for _, c := range ofKind(objs, "Certificate") {
		if c.GetNamespace() == ns && c.GetName() == name {
			cert = c
		}
	}
	if cert == nil {
		t.Errorf("%s %s: Certificate %s does not exist", cfg.GetKind(), cfg.GetName(), from)
		return
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	for _, svc := range services {
		svcNS, svcName, _ := strings.Cut(svc, "/")
		if want := svcName + "." + svcNS + ".svc"; !slices.Contains(dnsNames, want) {
			t.Errorf("Certificate %s: dnsNames %v do not contain %s", from, dnsNames, want)
		}
	}
}

func TestWebhookConfigurations(t *testing.T) {
	objs := build(t, configDir(t, "default"))

	validating := ofKind(objs, "ValidatingWebhookConfiguration")
	mutating := ofKind(objs, "MutatingWebhookConfiguration")
	if len(validating) == 0 || len(mutating) == 0 {
		t.Fatalf("want validating and mutating webhook configurations, got %d and %d", len(validating),
			len(mutating))
	}
	webhooks := 0
	for _, u := range validating {
		cfg := into[admissionregistrationv1.ValidatingWebhookConfiguration](t, u)
		var services []string
		for _, w := range cfg.Webhooks {
			webhooks++
			services = append(services, checkWebhookClient(t, objs, w.Name, w.ClientConfig))
		}
		checkCAInjection(t, objs, u, services)
	}
	for _, u := range mutating {
		cfg := into[admissionregistrationv1.MutatingWebhookConfiguration](t, u)
		var services []string
		for _, w := range cfg.Webhooks {
			webhooks++
			services = append(services, checkWebhookClient(t, objs, w.Name, w.ClientConfig))
		}
		checkCAInjection(t, objs, u, services)
	}
	// A defaulting and a validating webhook for QuarksJob, ReactiveJob and NodeJob.
	if webhooks < 6 {
		t.Errorf("want at least 6 webhooks, got %d", webhooks)
	}
}

func TestRBACHasNoWildcards(t *testing.T) {
	objs := build(t, configDir(t, "default"))
	rules := 0
	check := func(kind, name string, rs []rbacv1.PolicyRule) {
		for i, r := range rs {
			rules++
			for field, values := range map[string][]string{
				"verbs": r.Verbs, "resources": r.Resources, "apiGroups": r.APIGroups,
				"nonResourceURLs": r.NonResourceURLs,
			} {
				for _, v := range values {
					if strings.Contains(v, "*") {
						t.Errorf("%s %s rule %d: %s contains the wildcard %q", kind, name, i, field, v)
					}
				}
			}
		}
	}
	for _, u := range ofKind(objs, "ClusterRole") {
		r := into[rbacv1.ClusterRole](t, u)
		check(u.GetKind(), r.Name, r.Rules)
	}
	for _, u := range ofKind(objs, "Role") {
		r := into[rbacv1.Role](t, u)
		check(u.GetKind(), r.Name, r.Rules)
	}
	if rules == 0 {
		t.Fatal("no RBAC rules rendered")
	}
}

// restrictedViolations evaluates a pod against the latest "restricted" Pod Security Standard.
func restrictedViolations(t *testing.T, meta *corev1.PodTemplateSpec) []string {
	t.Helper()
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	var out []string
	for _, r := range evaluator.EvaluatePod(lv, &meta.ObjectMeta, &meta.Spec) {
		if !r.Allowed {
			out = append(out, r.ForbiddenReason+": "+r.ForbiddenDetail)
		}
	}
	return out
}

func TestManagerPassesRestrictedPodSecurity(t *testing.T) {
	objs := build(t, configDir(t, "default"))
	d, c := manager(t, objs)

	if v := restrictedViolations(t, &d.Spec.Template); len(v) > 0 {
		t.Errorf("the manager pod violates the restricted Pod Security Standard: %v", v)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the manager container must have a read-only root file system")
	}

	// The operator's namespace enforces the same level.
	var labels map[string]string
	for _, n := range ofKind(objs, "Namespace") {
		if n.GetName() == d.Namespace {
			labels = n.GetLabels()
		}
	}
	if got := labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace %s: pod-security.kubernetes.io/enforce = %q, want restricted", d.Namespace, got)
	}

	// The check can fail: a privileged manager is reported.
	broken := d.Spec.Template.DeepCopy()
	privileged := true
	broken.Spec.Containers[0].SecurityContext.Privileged = &privileged
	if v := restrictedViolations(t, broken); len(v) == 0 {
		t.Error("a privileged container passed the restricted check")
	}
}
