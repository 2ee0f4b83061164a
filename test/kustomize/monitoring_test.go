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
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// prometheusBuiltins are the series Prometheus itself writes for every target.
var prometheusBuiltins = []string{"up"}

// metricNamePattern is a name the operator or controller-runtime could export.
var metricNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*_[a-z0-9_]*[a-z0-9]$`)

// goStringLiterals calls fn for every string literal and every "a" + x + "b" concatenation in the non-test Go files
// under dir.
func goStringLiterals(t *testing.T, dir string, fn func(lit string), concat func(parts []ast.Expr)) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					if s, err := strconv.Unquote(n.Value); err == nil {
						fn(s)
					}
				}
			case *ast.BinaryExpr:
				if concat != nil && n.Op == token.ADD {
					concat(flattenAdd(n))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// flattenAdd returns the operands of a chain of + in order.
func flattenAdd(e ast.Expr) []ast.Expr {
	if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.ADD {
		return append(flattenAdd(b.X), flattenAdd(b.Y)...)
	}
	return []ast.Expr{e}
}

// stringLit returns the value of a string literal expression.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

var (
	knownMetricsOnce sync.Once
	knownMetricsSet  map[string]bool
	knownMetricsErr  string
)

// knownMetrics returns the metric names the manager can export, read from the code: the operator's own (string
// literals "jobkeeper_…" under internal/ and cmd/, and the per-kind families "jobkeeper_" + kind + "_…" of
// internal/kindmetrics for every kind passed to kindmetrics.New), and controller-runtime's (string literals
// "controller_runtime_…" in the module go.mod pins).
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	knownMetricsOnce.Do(func() {
		root := repoRoot(t)
		known := map[string]bool{}
		for _, b := range prometheusBuiltins {
			known[b] = true
		}
		var kinds, suffixes []string
		for _, dir := range []string{"internal", "cmd"} {
			goStringLiterals(t, filepath.Join(root, dir), func(s string) {
				if strings.HasPrefix(s, "jobkeeper_") && metricNamePattern.MatchString(s) {
					known[s] = true
				}
			}, func(parts []ast.Expr) {
				if len(parts) != 3 {
					return
				}
				prefix, ok1 := stringLit(parts[0])
				_, isIdent := parts[1].(*ast.Ident)
				suffix, ok2 := stringLit(parts[2])
				if ok1 && ok2 && isIdent && prefix == "jobkeeper_" && strings.HasPrefix(suffix, "_") {
					suffixes = append(suffixes, suffix)
				}
			})
		}
		// kindmetrics.New("<kind>") calls.
		re := regexp.MustCompile(`kindmetrics\.New\("([a-z]+)"\)`)
		_ = filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				kinds = append(kinds, m[1])
			}
			return nil
		})
		if len(kinds) == 0 || len(suffixes) == 0 {
			knownMetricsErr = "found no kindmetrics.New calls or per-kind families in the code"
			return
		}
		for _, k := range kinds {
			for _, s := range suffixes {
				known["jobkeeper_"+k+s] = true
			}
		}

		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/controller-runtime").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			knownMetricsErr = "go list -m sigs.k8s.io/controller-runtime: " + string(out)
			if err != nil {
				knownMetricsErr += err.Error()
			}
			return
		}
		goStringLiterals(t, filepath.Join(strings.TrimSpace(string(out)), "pkg"), func(s string) {
			if strings.HasPrefix(s, "controller_runtime_") && metricNamePattern.MatchString(s) {
				known[s] = true
			}
		}, nil)
		knownMetricsSet = known
	})
	if knownMetricsErr != "" {
		t.Fatal(knownMetricsErr)
	}
	return knownMetricsSet
}

// promqlKeywords are the PromQL words that are no metric names.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "offset": true, "bool": true, "inf": true, "nan": true, "atan2": true,
}

// promqlAggregations are the aggregation operators, which may be followed by by (…) or without (…) before their
// arguments.
var promqlAggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// promqlMetricNames returns the metric names an expression selects. It drops strings, label matchers {…}, ranges
// […] and the label lists of by/without/on/ignoring/group_left/group_right, then takes every identifier that is no
// keyword and no function call. It fails on unbalanced brackets.
func promqlMetricNames(t *testing.T, expr string) []string {
	t.Helper()
	var names []string
	var stack []byte
	pairs := map[byte]byte{')': '(', '}': '{', ']': '['}
	skipList := false // the label list after by, without, on, …
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				t.Fatalf("%q: unterminated string", expr)
			}
			i = j + 1
		case c == '(' || c == '{' || c == '[':
			stack = append(stack, c)
			if c == '(' && skipList {
				// Skip the label list up to its ).
				j := strings.IndexByte(expr[i:], ')')
				if j < 0 {
					t.Fatalf("%q: unbalanced (", expr)
				}
				i += j
				skipList = false
				continue
			}
			i++
		case c == ')' || c == '}' || c == ']':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				t.Fatalf("%q: unbalanced %c at %d", expr, c, i)
			}
			stack = stack[:len(stack)-1]
			i++
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentChar(c):
			j := i
			for j < len(expr) && (isIdentChar(expr[j]) || expr[j] == ':') {
				j++
			}
			word := expr[i:j]
			i = j
			inside := len(stack) > 0 && stack[len(stack)-1] != '('
			if inside {
				continue // a label name or a duration
			}
			rest := strings.TrimLeft(expr[i:], " \t\n")
			switch {
			case word == "by" || word == "without" || word == "on" || word == "ignoring" || word == "group_left" ||
				word == "group_right":
				skipList = strings.HasPrefix(rest, "(")
			case promqlKeywords[strings.ToLower(word)] || promqlAggregations[word]:
			case strings.HasPrefix(rest, "("):
				// a function
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	if len(stack) > 0 {
		t.Fatalf("%q: unbalanced %s", expr, string(stack))
	}
	return names
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkMetricNames fails for every metric name of expr that the code does not export; histogram series (_bucket,
// _sum, _count) count as their family. It returns the families used.
func checkMetricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	known := knownMetrics(t)
	var families []string
	for _, n := range promqlMetricNames(t, expr) {
		family := n
		if !known[n] {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, s); ok && known[b] {
					family = b
				}
			}
		}
		if !known[family] {
			t.Errorf("%s: metric %s is exported by neither the operator nor controller-runtime", where, n)
			continue
		}
		families = append(families, family)
	}
	return families
}

func TestPromQLMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (namespace, name) (increase(jobkeeper_a_total{result="failed"}[1h]) > 0 or (x unless x offset 1h))`: {
			"jobkeeper_a_total", "x", "x"},
		`histogram_quantile(0.99, sum by (webhook, le) (rate(h_bucket{job="j"}[5m]))) > 3`: {"h_bucket"},
		`absent(up{job="a"} == 1)`:               {"up"},
		`a / on (namespace) group_left (name) b`: {"a", "b"},
	} {
		if got := promqlMetricNames(t, expr); !slices.Equal(got, want) {
			t.Errorf("%s: metric names %v, want %v", expr, got, want)
		}
	}
	known := knownMetrics(t)
	for _, name := range []string{
		"jobkeeper_quarksjob_runs_total", "jobkeeper_reactivejob_run_duration_seconds", "jobkeeper_nodejob_active_runs",
		"jobkeeper_nodejob_callbacks_rejected_total", "controller_runtime_webhook_requests_total",
		"controller_runtime_reconcile_errors_total",
	} {
		if !known[name] {
			t.Errorf("the metric names read from the code lack %s", name)
		}
	}
	if known["jobkeeper_quarksjob_runs"] || known["jobkeeper_unknown_runs_total"] {
		t.Error("the metric names read from the code contain names nobody exports")
	}
}

// promRule is the part of a PrometheusRule the checks read.
type promRule struct {
	Kind string `json:"kind"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Record      string            `json:"record"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// markdownAnchors returns the anchors of the headings of a Markdown file, as GitHub derives them.
func markdownAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		out[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-")] = true
	}
	return out
}

// durationPattern is a Prometheus duration.
var durationPattern = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

func TestPrometheusRule(t *testing.T) {
	u := one(t, build(t, configDir(t, "prometheus")), "PrometheusRule")
	data, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var rule promRule
	if err := json.Unmarshal(data, &rule); err != nil {
		t.Fatalf("PrometheusRule: %v", err)
	}
	anchors := markdownAnchors(t, filepath.Join(repoRoot(t), "docs", "runbooks.md"))
	alerts := map[string]bool{}
	used := map[string]bool{}
	for _, g := range rule.Spec.Groups {
		for i, r := range g.Rules {
			where := g.Name + "/" + r.Alert
			if r.Alert == "" {
				t.Errorf("group %s rule %d is no alert", g.Name, i)
				continue
			}
			alerts[r.Alert] = true
			if !durationPattern.MatchString(r.For) {
				t.Errorf("%s: for = %q, want a duration", where, r.For)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity = %q, want critical, warning or info", where, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			if ru, err := url.Parse(r.Annotations["runbook_url"]); err != nil || !strings.HasSuffix(ru.Path,
				"/docs/runbooks.md") || !anchors[ru.Fragment] {
				t.Errorf("%s: runbook_url %q names no section of docs/runbooks.md", where, r.Annotations["runbook_url"])
			} else if ru.Fragment != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook_url points at #%s, want #%s", where, ru.Fragment, strings.ToLower(r.Alert))
			}
			for _, f := range checkMetricNames(t, where, r.Expr) {
				used[f] = true
			}
		}
	}
	for _, want := range []string{
		"JobkeeperRunsFailed", "JobkeeperObjectsStalled", "JobkeeperResultsRefused", "JobkeeperWebhookErrors",
	} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
	for _, k := range []string{"quarksjob", "reactivejob", "nodejob"} {
		if !used["jobkeeper_"+k+"_runs_total"] {
			t.Errorf("no alert on failed runs of %s (jobkeeper_%s_runs_total)", k, k)
		}
	}
}

func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(configDir(t, "grafana"), "jobkeeper-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("jobkeeper-dashboard.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, q := range p.Targets {
			for _, f := range checkMetricNames(t, "panel "+p.Title, q.Expr) {
				used[f] = true
			}
		}
	}
	for _, want := range []string{
		"jobkeeper_quarksjob_runs_total", "jobkeeper_reactivejob_runs_total", "jobkeeper_nodejob_runs_total",
		"jobkeeper_quarksjob_run_duration_seconds", "jobkeeper_reactivejob_run_duration_seconds",
		"jobkeeper_nodejob_run_duration_seconds", "jobkeeper_quarksjob_active_runs", "jobkeeper_reactivejob_active_runs",
		"jobkeeper_nodejob_active_runs", "jobkeeper_nodejob_callbacks_rejected_total",
		"controller_runtime_webhook_latency_seconds",
	} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
	build(t, configDir(t, "grafana"))
}

// TestServiceMonitorScrapes checks the ServiceMonitor as config/default renders it with config/prometheus: it
// scrapes the metrics Service's port with honorLabels and a token from the authorization field (not the deprecated
// bearerTokenFile), whose Secret belongs to a ServiceAccount allowed to get /metrics.
func TestServiceMonitorScrapes(t *testing.T) {
	fSys := memConfig(t)
	editFile(t, fSys, filepath.Join(configDir(t, "default"), "kustomization.yaml"), "#- ../prometheus",
		"- ../prometheus")
	objs := buildFS(t, fSys, configDir(t, "default"))
	monitor := one(t, objs, "ServiceMonitor")
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor: %d endpoints, want 1", len(endpoints))
	}
	ep, _ := endpoints[0].(map[string]any)
	if _, ok := ep["bearerTokenFile"]; ok {
		t.Error("the ServiceMonitor uses the deprecated bearerTokenFile")
	}
	if hl, _ := ep["honorLabels"].(bool); !hl {
		t.Error("the ServiceMonitor must keep the series' own namespace label (honorLabels: true)")
	}
	authType, _, _ := unstructured.NestedString(ep, "authorization", "type")
	secretName, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "name")
	key, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "key")
	if authType != "Bearer" || secretName == "" || key == "" {
		t.Fatalf("authorization = %v, want a Bearer token from a Secret", ep["authorization"])
	}

	var secret *corev1.Secret
	for _, u := range ofKind(objs, "Secret") {
		if u.GetName() == secretName && u.GetNamespace() == monitor.GetNamespace() {
			secret = into[corev1.Secret](t, u)
		}
	}
	if secret == nil {
		t.Fatalf("Secret %s/%s of the ServiceMonitor is not rendered", monitor.GetNamespace(), secretName)
	}
	sa := secret.Annotations[corev1.ServiceAccountNameKey]
	if secret.Type != corev1.SecretTypeServiceAccountToken || key != corev1.ServiceAccountTokenKey {
		t.Errorf("Secret %s: type %s key %s, want a service-account token", secretName, secret.Type, key)
	}
	found := false
	for _, u := range ofKind(objs, "ServiceAccount") {
		found = found || u.GetName() == sa && u.GetNamespace() == secret.Namespace
	}
	if !found {
		t.Errorf("Secret %s is for ServiceAccount %q, which is not rendered", secretName, sa)
	}
	roles := map[string]*rbacv1.ClusterRole{}
	for _, u := range ofKind(objs, "ClusterRole") {
		roles[u.GetName()] = into[rbacv1.ClusterRole](t, u)
	}
	allowed := false
	for _, u := range ofKind(objs, "ClusterRoleBinding") {
		b := into[rbacv1.ClusterRoleBinding](t, u)
		role, ok := roles[b.RoleRef.Name]
		if !ok {
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind != "ServiceAccount" || s.Name != sa || s.Namespace != secret.Namespace {
				continue
			}
			for _, r := range role.Rules {
				allowed = allowed || slices.Contains(r.NonResourceURLs, "/metrics") && slices.Contains(r.Verbs, "get")
			}
		}
	}
	if !allowed {
		t.Errorf("ServiceAccount %s/%s may not get /metrics", secret.Namespace, sa)
	}

	// The certificate is verified for the metrics Service's name, which the metrics Certificate carries.
	serverName, _, _ := unstructured.NestedString(ep, "tlsConfig", "serverName")
	want := "jobkeeper-controller-manager-metrics-service." + monitor.GetNamespace() + ".svc"
	if serverName != want {
		t.Errorf("tlsConfig.serverName = %q, want %q", serverName, want)
	}
	for _, u := range ofKind(objs, "Certificate") {
		if u.GetName() == "jobkeeper-metrics-certs" {
			names, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "dnsNames")
			if !slices.Contains(names, serverName) {
				t.Errorf("Certificate %s: dnsNames %v do not contain the ServiceMonitor's serverName %s", u.GetName(),
					names, serverName)
			}
		}
	}

	port, _ := ep["port"].(string)
	ports := servicePorts(t, objs)[monitor.GetNamespace()+"/jobkeeper-controller-manager-metrics-service"]
	if !slices.ContainsFunc(ports, func(p corev1.ServicePort) bool { return p.Name == port }) {
		t.Errorf("ServiceMonitor port %q is no port of the metrics Service %v", port, ports)
	}
}
