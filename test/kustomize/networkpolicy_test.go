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

// The local cluster runs no NetworkPolicy engine (its CNI does not enforce policies), so a policy that blocks a
// port would go unnoticed there. These tests therefore assert the rules on the rendering: every port the manager
// serves, read from the rendered Deployment's container ports and flags, has an ingress rule from the callers that
// need it.

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/jobkeeper/jobkeeper/internal/results"
)

// probeFlag names the health probe address. The kubelet probes from the pod's node, and NetworkPolicies always
// admit traffic from the node a pod runs on, so the probe port needs no rule (and gets none: it is not public).
const probeFlag = "health-probe-bind-address"

// servedPort is a TCP port the manager listens on and who must reach it.
type servedPort struct {
	port int32
	what string
}

// flagValue returns the value of --name=value (or --name value) in args, and whether it is set.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// addrPort returns the port of a bind address such as ":8443"; "0" (disabled) gives false.
func addrPort(t *testing.T, addr string) (int32, bool) {
	t.Helper()
	if addr == "0" || addr == "" {
		return 0, false
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("bind address %q: %v", addr, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatalf("bind address %q: %v", addr, err)
	}
	return int32(n), true
}

// servedPorts lists the ports the manager container serves, from its declared container ports and from the flags
// (with the manager's defaults for unset flags) of the metrics, webhook and results servers. The probe port is
// left out (see probeFlag).
func servedPorts(t *testing.T, c *corev1.Container) []servedPort {
	t.Helper()
	var args []string
	if len(c.Command) > 1 {
		args = append(args, c.Command[1:]...)
	}
	args = append(args, c.Args...)
	var out []servedPort
	add := func(port int32, what string) {
		for _, p := range out {
			if p.port == port {
				return
			}
		}
		out = append(out, servedPort{port, what})
	}
	probe := int32(-1)
	if v, ok := flagValue(args, probeFlag); ok {
		probe, _ = addrPort(t, v)
	}
	if v, ok := flagValue(args, "metrics-bind-address"); ok {
		if p, on := addrPort(t, v); on {
			add(p, "metrics")
		}
	}
	if v, _ := flagValue(args, "enable-webhooks"); v != "false" {
		port := int32(webhook.DefaultPort)
		if v, ok := flagValue(args, "webhook-port"); ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				t.Fatalf("--webhook-port=%s: %v", v, err)
			}
			port = int32(n)
		}
		add(port, "webhook")
	}
	addr := results.DefaultBindAddress
	if v, ok := flagValue(args, "results-bind-address"); ok {
		addr = v
	}
	if p, on := addrPort(t, addr); on {
		add(p, "results")
	}
	for _, cp := range c.Ports {
		if cp.ContainerPort != probe {
			add(cp.ContainerPort, "container port "+cp.Name)
		}
	}
	return out
}

// portMatches reports whether a NetworkPolicy port admits TCP traffic to port of the container c.
func portMatches(np networkingv1.NetworkPolicyPort, c *corev1.Container, port int32) bool {
	if np.Protocol != nil && *np.Protocol != corev1.ProtocolTCP {
		return false
	}
	if np.Port == nil {
		return true
	}
	if np.Port.Type == intstr.String {
		for _, cp := range c.Ports {
			if cp.Name == np.Port.StrVal && cp.ContainerPort == port {
				return true
			}
		}
		return false
	}
	end := np.Port.IntVal
	if np.EndPort != nil {
		end = *np.EndPort
	}
	return np.Port.IntVal <= port && port <= end
}

// ingressRule is one ingress rule of a policy that selects the manager pod.
type ingressRule struct {
	policy string
	rule   networkingv1.NetworkPolicyIngressRule
}

// managerIngress returns the ingress rules of the policies that select the manager pod, and whether any policy
// isolates it for ingress (without one, everything is admitted).
func managerIngress(t *testing.T, objs []*unstructured.Unstructured, podNS string, podLabels map[string]string) (
	[]ingressRule, bool) {
	t.Helper()
	var rules []ingressRule
	isolated := false
	for _, u := range ofKind(objs, "NetworkPolicy") {
		p := into[networkingv1.NetworkPolicy](t, u)
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			t.Fatalf("NetworkPolicy %s: %v", p.Name, err)
		}
		if p.Namespace != podNS || !sel.Matches(labels.Set(podLabels)) {
			continue
		}
		if len(p.Spec.PolicyTypes) == 0 || slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			isolated = true
		}
		for _, r := range p.Spec.Ingress {
			rules = append(rules, ingressRule{p.Name, r})
		}
	}
	return rules, isolated
}

// admitting returns the rules that admit traffic to port.
func admitting(rules []ingressRule, c *corev1.Container, port int32) []ingressRule {
	var out []ingressRule
	for _, r := range rules {
		if len(r.rule.Ports) == 0 {
			out = append(out, r)
			continue
		}
		for _, np := range r.rule.Ports {
			if portMatches(np, c, port) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// blockedPorts returns, for the rendering objs, the ports the manager serves that no ingress rule admits.
func blockedPorts(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	d, c := manager(t, objs)
	rules, isolated := managerIngress(t, objs, d.Namespace, d.Spec.Template.Labels)
	if !isolated {
		t.Fatalf("no NetworkPolicy isolates the manager pod %v in %s", d.Spec.Template.Labels, d.Namespace)
	}
	var out []string
	for _, p := range servedPorts(t, c) {
		if len(admitting(rules, c, p.port)) == 0 {
			out = append(out, fmt.Sprintf("%d (%s)", p.port, p.what))
		}
	}
	return out
}

// withNetworkPolicies renders config/default with the NetworkPolicies switched on, as a user does by uncommenting
// one line; edit, when not nil, changes the in-memory config/ first.
func withNetworkPolicies(t *testing.T, edit func(fSys filesys.FileSystem)) []*unstructured.Unstructured {
	t.Helper()
	fSys := memConfig(t)
	editFile(t, fSys, filepath.Join(configDir(t, "default"), "kustomization.yaml"), "#- ../network-policy",
		"- ../network-policy")
	if edit != nil {
		edit(fSys)
	}
	return buildFS(t, fSys, configDir(t, "default"))
}

func TestNetworkPolicyAdmitsEveryServedPort(t *testing.T) {
	objs := withNetworkPolicies(t, nil)
	_, c := manager(t, objs)
	served := servedPorts(t, c)
	var what []string
	for _, p := range served {
		what = append(what, p.what)
	}
	// The rendering serves metrics, webhooks and the results API; fewer would mean the port discovery is broken.
	for _, want := range []string{"metrics", "webhook", "results"} {
		if !slices.Contains(what, want) {
			t.Errorf("served ports %v: no %s port found", served, want)
		}
	}
	if blocked := blockedPorts(t, objs); len(blocked) > 0 {
		t.Errorf("the NetworkPolicies admit no traffic to the manager's ports %v", blocked)
	}

	t.Run("the results Service forwards to an admitted port", func(t *testing.T) {
		d, c := manager(t, objs)
		rules, _ := managerIngress(t, objs, d.Namespace, d.Spec.Template.Labels)
		for _, sp := range servicePorts(t, objs)[d.Namespace+"/jobkeeper-results"] {
			target := sp.TargetPort.IntVal
			if sp.TargetPort.Type == intstr.String {
				for _, cp := range c.Ports {
					if cp.Name == sp.TargetPort.StrVal {
						target = cp.ContainerPort
					}
				}
			}
			if len(admitting(rules, c, target)) == 0 {
				t.Errorf("Service jobkeeper-results port %d → %d: no ingress rule", sp.Port, target)
			}
		}
	})
}

// TestNetworkPolicyCallers checks who may call each port: job pods in every namespace the results API, namespaces
// labelled metrics: enabled the metrics endpoint, any source (the API server is no pod) the webhooks.
func TestNetworkPolicyCallers(t *testing.T) {
	objs := withNetworkPolicies(t, nil)
	d, c := manager(t, objs)
	rules, _ := managerIngress(t, objs, d.Namespace, d.Spec.Template.Labels)
	port := func(what string) int32 {
		for _, p := range servedPorts(t, c) {
			if p.what == what {
				return p.port
			}
		}
		t.Fatalf("the manager serves no %s port", what)
		return 0
	}

	// A namespace with no labels, as a job namespace usually is.
	plainNS := labels.Set{"kubernetes.io/metadata.name": "team-a"}
	metricsNS := labels.Set{"kubernetes.io/metadata.name": "monitoring", "metrics": "enabled"}
	// fromNamespace reports whether a rule admits pods of a namespace with the labels ns.
	fromNamespace := func(r networkingv1.NetworkPolicyIngressRule, ns labels.Set) bool {
		if len(r.From) == 0 {
			return true
		}
		for _, peer := range r.From {
			if peer.NamespaceSelector == nil || peer.PodSelector != nil {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
			if err != nil {
				t.Fatal(err)
			}
			if sel.Matches(ns) {
				return true
			}
		}
		return false
	}
	admits := func(p int32, ns labels.Set) bool {
		for _, r := range admitting(rules, c, p) {
			if fromNamespace(r.rule, ns) {
				return true
			}
		}
		return false
	}
	fromAnywhere := func(p int32) bool {
		for _, r := range admitting(rules, c, p) {
			if len(r.rule.From) == 0 {
				return true
			}
		}
		return false
	}

	resultsPort, metrics, webhooks := port("results"), port("metrics"), port("webhook")
	if !admits(resultsPort, plainNS) {
		t.Errorf("pods in an unlabelled namespace cannot reach the results API on %d", resultsPort)
	}
	if !admits(metrics, metricsNS) {
		t.Errorf("a namespace labelled metrics: enabled cannot reach the metrics endpoint on %d", metrics)
	}
	if admits(metrics, plainNS) {
		t.Errorf("every namespace can reach the metrics endpoint on %d; want only those labelled metrics: enabled",
			metrics)
	}
	if !fromAnywhere(webhooks) {
		t.Errorf("the webhook port %d is not open to the API server (any source)", webhooks)
	}
	for _, p := range []int32{resultsPort, metrics} {
		if fromAnywhere(p) {
			t.Errorf("port %d is open to any source", p)
		}
	}
}

// TestNetworkPolicyCheckFails shows the check can fail: without the results policy, as shipped before, the
// results port is reported, and so is a port the manager is moved to.
func TestNetworkPolicyCheckFails(t *testing.T) {
	t.Run("without allow-results-traffic", func(t *testing.T) {
		objs := withNetworkPolicies(t, func(fSys filesys.FileSystem) {
			editFile(t, fSys, filepath.Join(configDir(t, "network-policy"), "kustomization.yaml"),
				"- allow-results-traffic.yaml\n", "")
		})
		if got := blockedPorts(t, objs); !slices.Equal(got, []string{"8443 (results)"}) {
			t.Errorf("blocked ports = %v, want the results port 8443", got)
		}
	})
	t.Run("webhooks on another port", func(t *testing.T) {
		objs := withNetworkPolicies(t, func(fSys filesys.FileSystem) {
			editFile(t, fSys, filepath.Join(configDir(t, "manager"), "manager.yaml"), "- --leader-elect",
				"- --leader-elect\n          - --webhook-port=9444")
		})
		if got := blockedPorts(t, objs); !slices.Equal(got, []string{"9444 (webhook)"}) {
			t.Errorf("blocked ports = %v, want the webhook port 9444", got)
		}
	})
}
