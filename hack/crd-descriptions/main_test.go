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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestGeneratedCRDs checks the CRDs that `make manifests` writes: nothing below a template has a description any
// more, while the templates themselves and jobkeeper's own fields keep theirs (kubectl explain shows them).
func TestGeneratedCRDs(t *testing.T) {
	files, err := filepath.Glob("../../config/crd/bases/*.yaml")
	if err != nil || len(files) != 4 {
		t.Fatalf("CRDs: %v %v", files, err)
	}
	kept := map[string][]string{
		"quarks.cloudfoundry.org_quarksjobs.yaml": {"template", "trigger", "updateOnConfigChange"},
		"batch.cs.sap.com_reactivejobs.yaml":      {"jobTemplate", "concurrencyPolicy"},
		"batch.cs.sap.com_nodejobs.yaml":          {"template", "schedule", "callerIdentity"},
		"batch.cs.sap.com_nodejobruns.yaml":       {"template", "executionID"},
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd map[string]any
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		version := dig(crd, "spec", "versions").([]any)[0]
		schema := dig(version, "schema", "openAPIV3Schema").(map[string]any)
		if n := walk(schema, false); n != 0 {
			t.Errorf("%s: %d descriptions below the templates", filepath.Base(f), n)
		}
		spec := dig(schema, "properties", "spec", "properties").(map[string]any)
		for _, field := range kept[filepath.Base(f)] {
			if d, _ := dig(spec, field, "description").(string); d == "" {
				t.Errorf("%s: spec.%s has no description", filepath.Base(f), field)
			}
		}
	}
}

// TestWalk checks the walk on a small schema: descriptions below a template go, the template's and its siblings' stay,
// and a property named template without a spec is not a template.
func TestWalk(t *testing.T) {
	var schema map[string]any
	if err := yaml.Unmarshal([]byte(`
properties:
  template:
    description: keep
    properties:
      spec:
        description: drop
        properties:
          containers:
            description: drop
            items:
              description: drop
              properties:
                name: {description: drop, type: string}
  other:
    description: keep
    properties:
      template: {description: keep, type: string}
`), &schema); err != nil {
		t.Fatal(err)
	}
	if n := walk(schema, false); n != 4 {
		t.Errorf("removed %d descriptions, want 4", n)
	}
	out, err := yaml.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); strings.Count(got, "keep") != 3 || strings.Count(got, "drop") != 0 {
		t.Errorf("after the walk:\n%s", got)
	}
}
