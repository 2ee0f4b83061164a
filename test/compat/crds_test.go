//go:build compat

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

// Package compat checks that an API server of an older Kubernetes version (the
// oldest that docs/crds.md says is supported) accepts the CRDs and enforces
// their validation rules. It runs only a control plane (kube-apiserver, etcd)
// and a plain client, no manager and no webhooks, so what it checks is the
// API server's own handling of the manifests.
//
// Run it with `K8S_COMPAT=1.29 make test-compat`, which builds the API server of
// that version from hack/k8s-1.29 and points KUBEBUILDER_ASSETS at it. With
// K8S_COMPAT set, the test fails unless the API server reports that minor.
package compat

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

const namespace = "compat"

func TestCRDs(t *testing.T) {
	assets, err := utils.EnvtestAssets()
	if err != nil {
		t.Fatal(err)
	}
	// No CRDs and no webhooks here: the test installs the CRDs itself, as kubectl would.
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the control plane from %s: %v", assets, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})

	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	version, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("API server %s (%s)", version.GitVersion, filepath.Join(assets, "kube-apiserver"))
	if want := os.Getenv("K8S_COMPAT"); want != "" {
		if got := version.Major + "." + strings.TrimSuffix(version.Minor, "+"); got != want {
			t.Fatalf("API server is %s (%s.%s), K8S_COMPAT wants %s",
				version.GitVersion, version.Major, version.Minor, want)
		}
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	installCRDs(ctx, t, c)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}

	t.Run("QuarksJob", func(t *testing.T) {
		valid := sample(t, "quarks_v1alpha1_quarksjob_once.yaml", "QuarksJob")
		create(ctx, t, c, valid)

		invalid := sample(t, "quarks_v1alpha1_quarksjob_once.yaml", "QuarksJob")
		invalid.SetName("quarksjob-restart-always")
		set(t, invalid, "Always", "spec", "template", "spec", "template", "spec", "restartPolicy")
		rejected(ctx, t, c, invalid, "spec.template.spec.template.spec.restartPolicy", `supported values: "Never", "OnFailure"`)
	})

	t.Run("ReactiveJob", func(t *testing.T) {
		valid := sample(t, "batch_v1alpha1_reactivejob.yaml", "ReactiveJob")
		create(ctx, t, c, valid)

		invalid := sample(t, "batch_v1alpha1_reactivejob.yaml", "ReactiveJob")
		invalid.SetName("reactivejob-named-job")
		set(t, invalid, "fixed", "spec", "jobTemplate", "metadata", "name")
		rejected(ctx, t, c, invalid, "spec.jobTemplate.metadata.name", "must not be specified")
	})

	t.Run("NodeJob", func(t *testing.T) {
		valid := sample(t, "batch_v1alpha1_nodejob.yaml", "NodeJob")
		create(ctx, t, c, valid)

		// The quantity library: the rule compares the value with 8Mi.
		invalid := sample(t, "batch_v1alpha1_nodejob.yaml", "NodeJob")
		invalid.SetName("nodejob-large-results")
		set(t, invalid, "16Mi", "spec", "resultLimits", "maxResultSize")
		rejected(ctx, t, c, invalid, "spec.resultLimits.maxResultSize", "must be greater than 0 and at most 8Mi")
	})

	t.Run("NodeJobRun", func(t *testing.T) {
		valid := nodeJobRun("nodejob-sample-1")
		create(ctx, t, c, valid)

		invalid := nodeJobRun("nodejob-sample-2")
		set(t, invalid, "0%", "spec", "parallelism")
		rejected(ctx, t, c, invalid, "spec.parallelism", "must be an integer of at least 1 or a percentage")

		// Transition rules: the spec is immutable, the metadata is not.
		run := get(ctx, t, c, valid)
		run.SetLabels(map[string]string{"changed": "true"})
		if err := c.Update(ctx, run); err != nil {
			t.Fatalf("changing a label of the NodeJobRun: %v", err)
		}

		run = get(ctx, t, c, valid)
		set(t, run, "202601010100", "spec", "executionID")
		updateRejected(ctx, t, c, run, "spec.executionID", "field is immutable")

		run = get(ctx, t, c, valid)
		set(t, run, map[string]any{"matchLabels": map[string]any{"disk": "ssd"}}, "spec", "nodeSelector")
		updateRejected(ctx, t, c, run, "spec.nodeSelector", "field is immutable")
	})
}

// installCRDs creates the CRDs of config/crd/bases as they are in the files,
// with strict field validation so that a field this API server does not know
// fails the test instead of being dropped, and waits until they are Established.
func installCRDs(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	var names []string
	for _, dir := range utils.CRDPaths() {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			crd := decode(t, file, "CustomResourceDefinition")
			if err := c.Create(ctx, crd, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
				t.Fatalf("creating the CRD of %s: %v", filepath.Base(file), err)
			}
			names = append(names, crd.GetName())
		}
	}
	if len(names) != 4 {
		t.Fatalf("found %d CRDs (%v), want 4", len(names), names)
	}
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			crd := &unstructured.Unstructured{}
			crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
			if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
				return false, err
			}
			conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cond := range conditions {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
				if m["type"] == "NamesAccepted" && m["status"] == "False" {
					t.Errorf("CRD %s: names not accepted: %v", name, m["message"])
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("CRD %s is not Established: %v", name, err)
		}
		t.Logf("CRD %s is Established", name)
	}
}

// sample returns the object of the given kind from config/samples/<file>, in the test namespace.
func sample(t *testing.T, file, kind string) *unstructured.Unstructured {
	t.Helper()
	obj := decode(t, filepath.Join(utils.RepoRoot(), "config", "samples", file), kind)
	obj.SetNamespace(namespace)
	return obj
}

// nodeJobRun returns a minimal NodeJobRun: the required fields only. Without the
// webhooks nothing checks that the NodeJob it names exists.
func nodeJobRun(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch.cs.sap.com/v1alpha1",
		"kind":       "NodeJobRun",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{
			"nodeJobName":   "nodejob-sample",
			"executionID":   "202601010000",
			"scheduledTime": "2026-01-01T00:00:00Z",
			"trigger":       "Schedule",
			"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never",
				"containers":    []any{map[string]any{"name": "check", "image": "busybox"}},
			}},
		},
	}}
}

// decode returns the YAML document of the given kind in file.
func decode(t *testing.T, file, kind string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---") {
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if obj["kind"] == kind {
			return &unstructured.Unstructured{Object: obj}
		}
	}
	t.Fatalf("%s has no %s", file, kind)
	return nil
}

func set(t *testing.T, obj *unstructured.Unstructured, value any, fields ...string) {
	t.Helper()
	if err := unstructured.SetNestedField(obj.Object, value, fields...); err != nil {
		t.Fatal(err)
	}
}

func get(ctx context.Context, t *testing.T, c client.Client, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(obj.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatal(err)
	}
	return got
}

func create(ctx context.Context, t *testing.T, c client.Client, obj *unstructured.Unstructured) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("creating %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
}

// rejected creates obj and expects the API server to refuse it as invalid, naming
// fieldPath and detail in the error.
func rejected(ctx context.Context, t *testing.T, c client.Client, obj *unstructured.Unstructured, fieldPath, detail string) {
	t.Helper()
	invalid(t, "creating", obj, c.Create(ctx, obj), fieldPath, detail)
}

// updateRejected is rejected for an update.
func updateRejected(ctx context.Context, t *testing.T, c client.Client, obj *unstructured.Unstructured, fieldPath, detail string) {
	t.Helper()
	invalid(t, "updating", obj, c.Update(ctx, obj), fieldPath, detail)
}

func invalid(t *testing.T, verb string, obj *unstructured.Unstructured, err error, fieldPath, detail string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("%s %s %s: want an Invalid error, got %v", verb, obj.GetKind(), obj.GetName(), err)
	}
	var causes []metav1.StatusCause
	if status, ok := err.(apierrors.APIStatus); ok && status.Status().Details != nil {
		causes = status.Status().Details.Causes
	}
	for _, cause := range causes {
		if cause.Field == fieldPath && strings.Contains(cause.Message, detail) {
			t.Logf("%s %s %s refused: %s: %s", verb, obj.GetKind(), obj.GetName(), cause.Field, cause.Message)
			return
		}
	}
	t.Fatalf("%s %s %s: want a cause at %s containing %q, got %v", verb, obj.GetKind(), obj.GetName(), fieldPath, detail, err)
}
