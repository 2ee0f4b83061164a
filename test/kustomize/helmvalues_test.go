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

// These tests render dist/chart with `helm template` (bin/helm, as `make helm` builds it, or $HELM) and check what
// its values do to the rendered objects.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/jobkeeper/jobkeeper/internal/leaderpod"
)

const helmNamespace = "jobkeeper-system"

// helmBinary is the helm that renders the chart.
func helmBinary(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	h := filepath.Join(repoRoot(t), "bin", "helm")
	if _, err := os.Stat(h); err != nil {
		t.Fatalf("%s: %v (make helm builds it)", h, err)
	}
	return h
}

// helmRun runs helm template on dist/chart with args added and returns its output and error.
func helmRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), append([]string{"template", "jobkeeper", filepath.Join(repoRoot(t), "dist", "chart"),
		"--namespace", helmNamespace}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// helmTemplate renders the chart with args added (e.g. --set a=b) and returns its objects.
func helmTemplate(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helmRun(t, args...)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("helm template %v: %v", args, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		// Through JSON, so that numbers are int64 and float64 as in objects read from the API server.
		data, err := obj.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		norm := &unstructured.Unstructured{}
		if err := norm.UnmarshalJSON(data); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, norm)
	}
	if len(objs) == 0 {
		t.Fatalf("helm template %v: no objects", args)
	}
	return objs
}

// named returns the object of the given kind and name, or nil.
func named(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range ofKind(objs, kind) {
		if o.GetName() == name {
			return o
		}
	}
	return nil
}

// TestHelmChartDefaults checks that the optional objects are off by default and that the manager pod is what
// config/default deploys: restricted security contexts, reports on a PersistentVolumeClaim, the Recreate strategy,
// the pod name for the leader label.
func TestHelmChartDefaults(t *testing.T) {
	objs := helmTemplate(t)
	if n := len(ofKind(objs, "PodDisruptionBudget")); n != 0 {
		t.Errorf("%d PodDisruptionBudget rendered by default, want none", n)
	}
	d, c := manager(t, objs)
	kobjs := build(t, configDir(t, "default"))
	k, kc := manager(t, kobjs)
	pvc := into[corev1.PersistentVolumeClaim](t, one(t, objs, "PersistentVolumeClaim"))
	kpvc := into[corev1.PersistentVolumeClaim](t, one(t, kobjs, "PersistentVolumeClaim"))
	if pvc.Name != kpvc.Name || !equality.Semantic.DeepEqual(pvc.Spec, kpvc.Spec) {
		t.Errorf("PersistentVolumeClaim %s %+v, config/default has %s %+v", pvc.Name, pvc.Spec, kpvc.Name, kpvc.Spec)
	}
	for _, dep := range []*appsv1.Deployment{d, k} {
		if v := reportsVolume(t, dep); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
			t.Errorf("reports volume %+v, want the claim %s", v.VolumeSource, pvc.Name)
		}
		checkNoSurge(t, dep)
	}
	// The results Service selects only the leader's pod, which keeps the NodeJob reports.
	for _, all := range [][]*unstructured.Unstructured{objs, kobjs} {
		svc := into[corev1.Service](t, named(all, "Service", "jobkeeper-results"))
		if svc.Spec.Selector[leaderpod.Label] != "true" {
			t.Errorf("results Service selector %v, want %s=true", svc.Spec.Selector, leaderpod.Label)
		}
	}
	if !equality.Semantic.DeepEqual(envOf(c, "POD_NAME"), envOf(kc, "POD_NAME")) || envOf(c, "POD_NAME") == nil {
		t.Errorf("POD_NAME %+v, config/default has %+v", envOf(c, "POD_NAME"), envOf(kc, "POD_NAME"))
	}
	if !equality.Semantic.DeepEqual(d.Spec.Template.Spec.SecurityContext, k.Spec.Template.Spec.SecurityContext) {
		t.Errorf("pod securityContext %+v, config/default has %+v", d.Spec.Template.Spec.SecurityContext, k.Spec.Template.Spec.SecurityContext)
	}
	if !equality.Semantic.DeepEqual(c.SecurityContext, kc.SecurityContext) {
		t.Errorf("container securityContext %+v, config/default has %+v", c.SecurityContext, kc.SecurityContext)
	}
	if v := restrictedViolations(t, &d.Spec.Template); len(v) > 0 {
		t.Errorf("the manager pod violates the restricted Pod Security Standard: %v", v)
	}
	if s := d.Spec.Template.Spec; s.PriorityClassName != "" || len(s.TopologySpreadConstraints) > 0 {
		t.Errorf("priorityClassName %q, topologySpreadConstraints %v; want none by default", s.PriorityClassName, s.TopologySpreadConstraints)
	}
	if sa := named(objs, "ServiceAccount", d.Spec.Template.Spec.ServiceAccountName); sa == nil {
		t.Errorf("no ServiceAccount %s rendered", d.Spec.Template.Spec.ServiceAccountName)
	}
}

// checkNoSurge checks that a rolling update of d removes the old pod before it adds a new one: a ReadWriteOnce
// volume stays attached to the old pod, and a surge pod would wait for it. The type stays RollingUpdate, since
// a Deployment that exists cannot be changed to Recreate by an apply (its defaulted rollingUpdate is forbidden then).
func checkNoSurge(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	s := d.Spec.Strategy
	if s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil || s.RollingUpdate.MaxSurge == nil ||
		s.RollingUpdate.MaxSurge.IntValue() != 0 || s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.IntValue() != 1 {
		t.Errorf("strategy %+v with a persistent reports volume, want RollingUpdate with maxSurge 0 and maxUnavailable 1", s)
	}
}

// envOf returns the container's variable name, or nil.
func envOf(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// reportsVolume returns the volume the manager keeps NodeJob reports on.
func reportsVolume(t *testing.T, d *appsv1.Deployment) *corev1.Volume {
	t.Helper()
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "reports" {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	t.Fatal("the manager has no reports volume")
	return nil
}

// TestHelmChartPodSettings checks priorityClassName, topologySpreadConstraints and the overridable security
// contexts.
func TestHelmChartPodSettings(t *testing.T) {
	objs := helmTemplate(t,
		"--set", "priorityClassName=system-cluster-critical",
		"--set-json", `topologySpreadConstraints=[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"ScheduleAnyway","labelSelector":{"matchLabels":{"app.kubernetes.io/name":"jobkeeper"}}}]`,
		"--set-json", `podSecurityContext={"runAsNonRoot":true,"runAsUser":65532,"fsGroup":65532,"seccompProfile":{"type":"RuntimeDefault"}}`,
		"--set-json", `securityContext={"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"runAsGroup":65532,"capabilities":{"drop":["ALL"]}}`,
		"--set", "podAnnotations.example\\.com/a=b", "--set", "podLabels.team=jobs",
	)
	d, c := manager(t, objs)
	s := d.Spec.Template.Spec
	if s.PriorityClassName != "system-cluster-critical" {
		t.Errorf("priorityClassName %q", s.PriorityClassName)
	}
	if len(s.TopologySpreadConstraints) != 1 || s.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone" ||
		s.TopologySpreadConstraints[0].WhenUnsatisfiable != corev1.ScheduleAnyway {
		t.Errorf("topologySpreadConstraints %+v", s.TopologySpreadConstraints)
	}
	if sc := s.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.FSGroup == nil || *sc.FSGroup != 65532 {
		t.Errorf("pod securityContext %+v, want runAsUser and fsGroup 65532", sc)
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532 {
		t.Errorf("container securityContext %+v, want runAsGroup 65532", sc)
	}
	if v := restrictedViolations(t, &d.Spec.Template); len(v) > 0 {
		t.Errorf("the manager pod violates the restricted Pod Security Standard: %v", v)
	}
	if a := d.Spec.Template.Annotations["example.com/a"]; a != "b" {
		t.Errorf("pod annotation example.com/a = %q", a)
	}
	if l := d.Spec.Template.Labels["team"]; l != "jobs" {
		t.Errorf("pod label team = %q", l)
	}
}

// TestHelmChartServiceAccount checks the annotations of the manager's ServiceAccount, and that a ServiceAccount
// the chart does not create is the one the pod runs as and the bindings bind.
func TestHelmChartServiceAccount(t *testing.T) {
	objs := helmTemplate(t, "--set", "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/jk")
	d, _ := manager(t, objs)
	sa := named(objs, "ServiceAccount", d.Spec.Template.Spec.ServiceAccountName)
	if sa == nil {
		t.Fatalf("no ServiceAccount %s", d.Spec.Template.Spec.ServiceAccountName)
	}
	if a := sa.GetAnnotations()["eks.amazonaws.com/role-arn"]; a != "arn:aws:iam::1:role/jk" {
		t.Errorf("ServiceAccount annotation = %q", a)
	}

	objs = helmTemplate(t, "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=mine")
	d, _ = manager(t, objs)
	if got := d.Spec.Template.Spec.ServiceAccountName; got != "mine" {
		t.Errorf("serviceAccountName %q, want mine", got)
	}
	if named(objs, "ServiceAccount", "mine") != nil || named(objs, "ServiceAccount", "jobkeeper-controller-manager") != nil {
		t.Error("a ServiceAccount for the manager was rendered with serviceAccount.create=false")
	}
	for _, name := range []string{"jobkeeper-manager-rolebinding", "jobkeeper-leader-election-rolebinding", "jobkeeper-metrics-auth-rolebinding"} {
		var subjects []rbacv1.Subject
		if b := named(objs, "ClusterRoleBinding", name); b != nil {
			subjects = into[rbacv1.ClusterRoleBinding](t, b).Subjects
		} else if b := named(objs, "RoleBinding", name); b != nil {
			subjects = into[rbacv1.RoleBinding](t, b).Subjects
		} else {
			t.Errorf("no binding %s", name)
			continue
		}
		if len(subjects) != 1 || subjects[0].Name != "mine" || subjects[0].Namespace != helmNamespace {
			t.Errorf("%s binds %+v, want the ServiceAccount mine", name, subjects)
		}
	}
	if _, err := helmRun(t, "--set", "serviceAccount.create=false"); err == nil {
		t.Error("serviceAccount.create=false without a name rendered")
	}
}

func TestHelmChartPodDisruptionBudget(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		min, unavail string
	}{
		{args: []string{"--set", "podDisruptionBudget.enabled=true"}, unavail: "1"},
		{args: []string{"--set", "podDisruptionBudget.enabled=true", "--set", "podDisruptionBudget.minAvailable=1"}, min: "1"},
		{args: []string{"--set", "podDisruptionBudget.enabled=true", "--set", "podDisruptionBudget.maxUnavailable=50%"}, unavail: "50%"},
	} {
		objs := helmTemplate(t, tc.args...)
		pdb := into[policyv1.PodDisruptionBudget](t, one(t, objs, "PodDisruptionBudget"))
		d, _ := manager(t, objs)
		if pdb.Namespace != helmNamespace || pdb.Spec.Selector == nil {
			t.Fatalf("%v: PodDisruptionBudget %+v", tc.args, pdb)
		}
		for k, v := range pdb.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("%v: the PodDisruptionBudget selects %s=%s, which the manager pods do not carry", tc.args, k, v)
			}
		}
		var gotMin, gotUnavail string
		if pdb.Spec.MinAvailable != nil {
			gotMin = pdb.Spec.MinAvailable.String()
		}
		if pdb.Spec.MaxUnavailable != nil {
			gotUnavail = pdb.Spec.MaxUnavailable.String()
		}
		if gotMin != tc.min || gotUnavail != tc.unavail {
			t.Errorf("%v: minAvailable %q maxUnavailable %q, want %q %q", tc.args, gotMin, gotUnavail, tc.min, tc.unavail)
		}
	}
}

func TestHelmChartReportsPersistence(t *testing.T) {
	objs := helmTemplate(t, "--set", "reports.persistence.enabled=true", "--set", "reports.persistence.storageClassName=fast",
		"--set", "reports.persistence.size=5Gi")
	pvc := into[corev1.PersistentVolumeClaim](t, one(t, objs, "PersistentVolumeClaim"))
	d, _ := manager(t, objs)
	if v := reportsVolume(t, d); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("reports volume %+v, want the claim %s", v.VolumeSource, pvc.Name)
	}
	if pvc.Namespace != helmNamespace || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "fast" ||
		len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("PersistentVolumeClaim %+v", pvc)
	}
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "5Gi" {
		t.Errorf("storage request %s, want 5Gi", q.String())
	}
	checkNoSurge(t, d)

	objs = helmTemplate(t, "--set", "reports.persistence.enabled=false")
	if n := len(ofKind(objs, "PersistentVolumeClaim")); n != 0 {
		t.Errorf("%d PersistentVolumeClaims rendered without persistence", n)
	}
	d, _ = manager(t, objs)
	if v := reportsVolume(t, d); v.EmptyDir == nil {
		t.Errorf("reports volume %+v without persistence, want an emptyDir", v.VolumeSource)
	}
	if d.Spec.Strategy.Type != "" {
		t.Errorf("strategy %q without persistence, want the default (RollingUpdate)", d.Spec.Strategy.Type)
	}

	objs = helmTemplate(t, "--set", "reports.persistence.enabled=true", "--set", "reports.persistence.existingClaim=old")
	if n := len(ofKind(objs, "PersistentVolumeClaim")); n != 0 {
		t.Errorf("%d PersistentVolumeClaims rendered with existingClaim", n)
	}
	d, _ = manager(t, objs)
	if v := reportsVolume(t, d); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "old" {
		t.Errorf("reports volume %+v, want the claim old", v.VolumeSource)
	}
}

// TestHelmChartSchemaRejectsUnknownValues checks that values.schema.json refuses a misspelt value and a wrong type.
func TestHelmChartSchemaRejectsUnknownValues(t *testing.T) {
	for _, set := range []string{"replicaCont=2", "image.pullPolicy=Sometimes", "podDisruptionBudget.enable=true", "replicas=two"} {
		if _, err := helmRun(t, "--set", set); err == nil {
			t.Errorf("--set %s rendered; the schema should refuse it", set)
		} else if !strings.Contains(err.Error(), "schema") {
			t.Errorf("--set %s: %v; want a schema error", set, err)
		}
	}
}

// TestHelmChartWithoutCertManager checks that certManager.enable=false renders no cert-manager object (the API server
// would refuse the release without cert-manager's CRDs) and no CA injection, and that each certificate follows the
// switch of the server it is for.
func TestHelmChartWithoutCertManager(t *testing.T) {
	for _, o := range helmTemplate(t, "--set", "certManager.enable=false") {
		if strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/") {
			t.Errorf("certManager.enable=false renders %s %s", o.GetKind(), o.GetName())
		}
		if _, ok := o.GetAnnotations()["cert-manager.io/inject-ca-from"]; ok {
			t.Errorf("certManager.enable=false: %s %s asks cert-manager to inject its CA", o.GetKind(), o.GetName())
		}
	}
	for _, o := range helmTemplate(t, "--set", "resultsAPI.enable=false") {
		if strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/") && strings.Contains(o.GetName(), "results") {
			t.Errorf("resultsAPI.enable=false renders %s %s", o.GetKind(), o.GetName())
		}
	}
}
