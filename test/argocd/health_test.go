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

// Package argocd_test runs the Argo CD health checks of config/argocd, as Argo CD runs them (a Lua 5.1 interpreter,
// the object as the global obj, the script's returned table as the health), against status fixtures of the four
// kinds in testdata/.
package argocd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// healthKeyPrefix starts the argocd-cm key of a health check: resource.customizations.health.<group>_<kind>.
const healthKeyPrefix = "resource.customizations.health."

// healthChecks renders config/argocd as `kustomize build` does and returns the argocd-cm data.
func healthChecks(t *testing.T) map[string]string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "config", "argocd"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	if n := len(m.Resources()); n != 1 {
		t.Fatalf("kustomize build %s: %d objects, want the argocd-cm ConfigMap", dir, n)
	}
	r := m.Resources()[0]
	if r.GetKind() != "ConfigMap" || r.GetName() != "argocd-cm" || r.GetNamespace() != "argocd" {
		t.Fatalf("kustomize build %s: %s, want ConfigMap argocd/argocd-cm", dir, r.CurId())
	}
	return r.GetDataMap()
}

// healthKey is the argocd-cm key of the health check of gvk.
func healthKey(gvk schema.GroupVersionKind) string {
	return healthKeyPrefix + gvk.Group + "_" + gvk.Kind
}

// health is what a health check returns.
type health struct {
	Status  string
	Message string
}

// toLua converts a JSON-like value (maps, slices, strings, numbers, booleans) into a Lua value, as Argo CD hands
// the object to the script.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	default:
		panic(fmt.Sprintf("unexpected %T in an object", v))
	}
}

// runHealth runs a health script on obj in a fresh interpreter with the libraries Argo CD's scripts may use.
func runHealth(t *testing.T, script string, obj map[string]any) health {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj))
	fn, err := L.LoadString(script)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returned %s, want a table", L.Get(-1).Type())
	}
	status, _ := ret.RawGetString("status").(lua.LString)
	message, _ := ret.RawGetString("message").(lua.LString)
	return health{Status: string(status), Message: string(message)}
}

// fixture reads testdata/<name>.yaml and checks that it is a valid object of its kind (no unknown fields).
func fixture(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	var typed any
	switch u.GroupVersionKind() {
	case quarksv1alpha1.GroupVersion.WithKind("QuarksJob"):
		typed = &quarksv1alpha1.QuarksJob{}
	case batchv1alpha1.GroupVersion.WithKind("ReactiveJob"):
		typed = &batchv1alpha1.ReactiveJob{}
	case batchv1alpha1.GroupVersion.WithKind("NodeJob"):
		typed = &batchv1alpha1.NodeJob{}
	case batchv1alpha1.GroupVersion.WithKind("NodeJobRun"):
		typed = &batchv1alpha1.NodeJobRun{}
	default:
		t.Fatalf("%s: unexpected kind %s", name, u.GroupVersionKind())
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, typed, true); err != nil {
		t.Fatalf("%s is no valid %s: %v", name, u.GetKind(), err)
	}
	return u
}

func TestHealthChecksCoverEveryKind(t *testing.T) {
	checks := healthChecks(t)
	want := map[string]bool{}
	for _, gvk := range []schema.GroupVersionKind{
		quarksv1alpha1.GroupVersion.WithKind("QuarksJob"),
		batchv1alpha1.GroupVersion.WithKind("ReactiveJob"),
		batchv1alpha1.GroupVersion.WithKind("NodeJob"),
		batchv1alpha1.GroupVersion.WithKind("NodeJobRun"),
	} {
		want[healthKey(gvk)] = true
		if strings.TrimSpace(checks[healthKey(gvk)]) == "" {
			t.Errorf("argocd-cm has no %s", healthKey(gvk))
		}
	}
	for k := range checks {
		if !want[k] {
			t.Errorf("argocd-cm has the unexpected key %s", k)
		}
	}
}

// kstatusHealth maps kstatus results to Argo CD health.
var kstatusHealth = map[status.Status]string{
	status.InProgressStatus:  "Progressing",
	status.TerminatingStatus: "Progressing",
	status.CurrentStatus:     "Healthy",
	status.FailedStatus:      "Degraded",
}

// healthCases are the fixtures in testdata/ and the health Argo CD must show for each.
var healthCases = []struct {
	// fixture is testdata/<fixture>.yaml.
	fixture string
	// want is the health status.
	want string
	// message is a part of the message the check must return.
	message string
}{
	{"quarksjob/no-status", "Progressing", "Waiting for the operator"},
	{"quarksjob/not-observed", "Progressing", "Waiting for the operator"},
	{"quarksjob/idle", "Healthy", "Idle"},
	{"quarksjob/run-active", "Progressing", "RunActive: Job migrate-0123456789abcdef is running"},
	{"quarksjob/references-missing", "Progressing", "WaitingForReferences"},
	{"quarksjob/succeeded", "Healthy", "Succeeded: Run 3 succeeded"},
	{"quarksjob/failed", "Degraded", "RunFailed: Run 3 failed: BackoffLimitExceeded"},
	// The failure belongs to the previous generation: the new spec has not been acted on yet.
	{"quarksjob/failed-stale", "Progressing", "generation 3"},

	{"reactivejob/no-status", "Progressing", "Waiting for the operator"},
	{"reactivejob/not-observed", "Progressing", "Waiting for the operator"},
	{"reactivejob/job-active", "Progressing", "JobActive"},
	{"reactivejob/complete", "Healthy", "Job db-migrate-a7r3s completed"},
	{"reactivejob/retrying-after-error", "Progressing", "RetryingAfterError"},
	{"reactivejob/job-failed", "Degraded", "JobFailed"},
	{"reactivejob/template-changed", "Progressing", "generation 2"},
	{"reactivejob/being-deleted", "Progressing", "Being deleted"},

	{"nodejob/no-status", "Progressing", "Waiting for the operator"},
	{"nodejob/not-observed", "Progressing", "Waiting for the operator"},
	{"nodejob/idle", "Healthy", "Idle"},
	{"nodejob/suspended", "Healthy", "Suspended"},
	{"nodejob/run-active", "Progressing", "RunActive"},
	{"nodejob/succeeded", "Healthy", "Succeeded"},
	{"nodejob/run-failed", "Degraded", "RunFailed: Run disk-check-27890-1 failed on node worker-2"},
	{"nodejob/invalid-spec", "Degraded", "InvalidSpec: unknown time zone"},

	{"nodejobrun/no-status", "Progressing", "Waiting for the operator"},
	{"nodejobrun/not-observed", "Progressing", "Waiting for the operator"},
	{"nodejobrun/running", "Progressing", "2 of 3 nodes are done"},
	{"nodejobrun/succeeded", "Healthy", "3 nodes succeeded"},
	{"nodejobrun/paused", "Degraded", "Paused"},
	{"nodejobrun/failed", "Degraded", "FailFast: Node worker-2 failed"},
}

func TestHealthChecks(t *testing.T) {
	checks := healthChecks(t)
	for _, tc := range healthCases {
		t.Run(tc.fixture, func(t *testing.T) {
			obj := fixture(t, tc.fixture)
			script, ok := checks[healthKey(obj.GroupVersionKind())]
			if !ok {
				t.Fatalf("argocd-cm has no %s", healthKey(obj.GroupVersionKind()))
			}
			got := runHealth(t, script, obj.Object)
			if got.Status != tc.want || !strings.Contains(got.Message, tc.message) {
				t.Errorf("health = %s %q, want %s with a message containing %q", got.Status, got.Message, tc.want,
					tc.message)
			}

			// Argo CD and kstatus (Flux, cli-utils) agree on every fixture but one with no status at all: kstatus
			// calls that Current, the health check waits. The API server never stores one (the CRDs default the
			// status to observedGeneration -1), so the difference only shows on a hand-made object.
			if _, ok := obj.Object["status"]; !ok {
				return
			}
			res, err := status.Compute(obj)
			if err != nil {
				t.Fatalf("kstatus: %v", err)
			}
			if want := kstatusHealth[res.Status]; got.Status != want {
				t.Errorf("health = %s, but kstatus says %s (%s), which is %s", got.Status, res.Status, res.Message,
					want)
			}
		})
	}
}

// TestEveryFixtureIsChecked keeps testdata/ and healthCases together.
func TestEveryFixtureIsChecked(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, tc := range healthCases {
		known[tc.fixture] = true
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.ToSlash(strings.TrimPrefix(f, "testdata"+string(filepath.Separator))),
			".yaml")
		if !known[name] {
			t.Errorf("testdata/%s.yaml is in no test case", name)
		}
	}
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/")
	}
}
