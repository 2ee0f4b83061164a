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
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const keepAnnotation = "helm.sh/resource-policy"

// TestHelmChartCRDsAreGenerated checks that the chart's CRDs are templates (so that helm upgrade upgrades them, which
// it never does for the crds/ directory) that render exactly the CRDs of config/crd, as hack/helm-chart.sh writes
// them, with the chart's labels and the keep annotation added.
func TestHelmChartCRDsAreGenerated(t *testing.T) {
	chart := filepath.Join(repoRoot(t), "dist", "chart")
	if _, err := os.Stat(filepath.Join(chart, "crds")); err == nil {
		t.Error("dist/chart/crds exists: Helm would install those CRDs once and never upgrade them; run make helm-chart")
	}
	want := map[string]*unstructured.Unstructured{}
	for _, crd := range build(t, configDir(t, "crd")) {
		want[crd.GetName()] = crd
	}
	entries, err := os.ReadDir(filepath.Join(chart, "templates", "generated", "crds"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, e := range entries {
		files[e.Name()] = true
	}
	for name := range want {
		if !files[name+".yaml"] {
			t.Errorf("dist/chart/templates/generated/crds/%s.yaml is missing; run make helm-chart", name)
		}
	}

	got := ofKind(helmTemplate(t), "CustomResourceDefinition")
	if len(got) != len(want) {
		t.Errorf("the chart renders %d CRDs, config/crd has %d; run make helm-chart", len(got), len(want))
	}
	for _, crd := range got {
		w, ok := want[crd.GetName()]
		if !ok {
			t.Errorf("the chart renders CRD %s, which config/crd does not have; run make helm-chart", crd.GetName())
			continue
		}
		if v := crd.GetAnnotations()[keepAnnotation]; v != "keep" {
			t.Errorf("CRD %s: annotation %s = %q, want keep (crds.keep defaults to true)", crd.GetName(), keepAnnotation, v)
		}
		if v := crd.GetLabels()["app.kubernetes.io/managed-by"]; v != "Helm" {
			t.Errorf("CRD %s: label app.kubernetes.io/managed-by = %q, want the chart's labels", crd.GetName(), v)
		}
		// What the chart adds, taken away, leaves config/crd's CRD.
		c := crd.DeepCopy()
		a := c.GetAnnotations()
		delete(a, keepAnnotation)
		c.SetAnnotations(a)
		l := c.GetLabels()
		for k := range l {
			if _, own := w.GetLabels()[k]; !own {
				delete(l, k)
			}
		}
		c.SetLabels(l)
		if len(l) == 0 {
			c.SetLabels(nil)
		}
		if !equality.Semantic.DeepEqual(w.Object, c.Object) {
			t.Errorf("the chart's CRD %s differs from config/crd; run make helm-chart", crd.GetName())
		}
	}

	for _, crd := range ofKind(helmTemplate(t, "--set", "crds.keep=false"), "CustomResourceDefinition") {
		if v, ok := crd.GetAnnotations()[keepAnnotation]; ok {
			t.Errorf("crds.keep=false: CRD %s still has %s: %s", crd.GetName(), keepAnnotation, v)
		}
	}
	if n := len(ofKind(helmTemplate(t, "--set", "crds.enabled=false"), "CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.enabled=false renders %d CRDs", n)
	}
}

// maxReleaseSecret is the size limit of a Secret's data, where Helm keeps a release.
const maxReleaseSecret = 1 << 20

// TestHelmChartReleaseFitsItsSecret estimates the size of the Secret Helm stores a release of the chart in: the
// release as JSON (the chart's templates and files, base64-encoded, and the rendered manifest), gzipped at the best
// compression and base64-encoded, as Helm's Secret driver does. The CRD templates make up most of it, twice.
func TestHelmChartReleaseFitsItsSecret(t *testing.T) {
	chart := filepath.Join(repoRoot(t), "dist", "chart")
	type file struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	var templates, files []file
	err := filepath.WalkDir(chart, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chart, path)
		if strings.HasPrefix(rel, "templates"+string(filepath.Separator)) {
			templates = append(templates, file{rel, data})
		} else {
			files = append(files, file{rel, data})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"--set", "networkPolicy.enabled=true", "--set", "prometheus.serviceMonitor.enabled=true",
		"--set", "prometheus.rule.enabled=true", "--set", "podDisruptionBudget.enabled=true"}} {
		manifest, err := helmRun(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		release, err := json.Marshal(map[string]any{
			"name":     "jobkeeper",
			"manifest": manifest,
			"chart":    map[string]any{"templates": templates, "files": files},
		})
		if err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if _, err := w.Write(release); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		size := base64.StdEncoding.EncodedLen(gz.Len())
		t.Logf("%v: manifest %d bytes, release %d bytes, gzipped %d, in the Secret %d (%.0f%% of its limit)",
			args, len(manifest), len(release), gz.Len(), size, 100*float64(size)/maxReleaseSecret)
		if size > maxReleaseSecret {
			t.Errorf("%v: the release Secret would hold %d bytes, over the limit of %d", args, size, maxReleaseSecret)
		}
	}
}
