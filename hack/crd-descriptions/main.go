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

// Command crd-descriptions removes, from the generated CRDs, the descriptions
// below the embedded Job and Pod templates (a property named template or
// jobTemplate that has a spec). They repeat the upstream API documentation,
// which `kubectl explain job.spec` and `kubectl explain pod.spec` show from the
// cluster itself, and make up two thirds of each CRD (docs/crds.md, "CRD
// size"). The template's own description and every description of jobkeeper's
// fields stay, so `kubectl explain qjob.spec` keeps its text; the schema and
// its validation do not change. It runs as the last step of `make manifests`,
// so the CRDs stay generated files.
//
// Usage: crd-descriptions FILE...
package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	"sigs.k8s.io/yaml"
)

// templateNames are the property names of embedded templates.
var templateNames = []string{"template", "jobTemplate"}

func main() {
	for _, path := range os.Args[1:] {
		if err := trim(path); err != nil {
			fmt.Fprintf(os.Stderr, "crd-descriptions: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func trim(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return err
	}
	versions, _ := dig(crd, "spec", "versions").([]any)
	removed := 0
	for _, v := range versions {
		if schema, ok := dig(v, "schema", "openAPIV3Schema").(map[string]any); ok {
			removed += walk(schema, false)
		}
	}
	if removed == 0 {
		return nil
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	out = append([]byte("---\n"), out...)
	if bytes.Equal(out, data) {
		return nil
	}
	return os.WriteFile(path, out, 0o644)
}

// walk removes the descriptions of schema's children when inTemplate, and of everything below an embedded
// template; it returns how many it removed.
func walk(schema map[string]any, inTemplate bool) int {
	removed := 0
	visit := func(child any, name string, isProperty bool) {
		m, ok := child.(map[string]any)
		if !ok {
			return
		}
		if inTemplate {
			if _, ok := m["description"]; ok {
				delete(m, "description")
				removed++
			}
		}
		removed += walk(m, inTemplate || (isProperty && isTemplate(name, m)))
	}
	if props, ok := schema["properties"].(map[string]any); ok {
		for name, p := range props {
			visit(p, name, true)
		}
	}
	visit(schema["items"], "", false)
	visit(schema["additionalProperties"], "", false)
	return removed
}

// isTemplate says whether the property name with schema is an embedded template.
func isTemplate(name string, schema map[string]any) bool {
	_, hasSpec := dig(schema, "properties", "spec").(map[string]any)
	return hasSpec && slices.Contains(templateNames, name)
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
