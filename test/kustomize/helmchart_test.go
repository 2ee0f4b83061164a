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
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestHelmChartCRDsAreGenerated checks that dist/chart/crds holds exactly the CRDs of config/crd, as
// hack/helm-chart.sh writes them, so that the chart never installs a stale or hand-edited CRD.
func TestHelmChartCRDsAreGenerated(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "dist", "chart", "crds")
	want := map[string]*unstructured.Unstructured{}
	for _, crd := range build(t, configDir(t, "crd")) {
		want[crd.GetName()+".yaml"] = crd
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(data)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		got := &unstructured.Unstructured{}
		if err := got.UnmarshalJSON(js); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		w, ok := want[e.Name()]
		if !ok {
			t.Errorf("dist/chart/crds/%s is not a CRD of config/crd; run make helm-chart", e.Name())
			continue
		}
		delete(want, e.Name())
		if !equality.Semantic.DeepEqual(w.Object, got.Object) {
			t.Errorf("dist/chart/crds/%s differs from config/crd; run make helm-chart", e.Name())
		}
	}
	for name := range want {
		t.Errorf("dist/chart/crds/%s is missing; run make helm-chart", name)
	}
}
