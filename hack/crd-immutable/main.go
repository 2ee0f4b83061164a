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

// Command crd-immutable removes, from the generated CRDs, the transition
// rules (CEL rules that read oldSelf) that the embedded Kubernetes Job and Pod
// schemas carry for the Job object itself. In a QuarksJob's or ReactiveJob's
// template they would refuse exactly the change that asks for a new Job, and
// the Job the operator creates is checked by the API server anyway. It runs as
// the last step of `make manifests`, so the CRDs stay generated files.
//
// Usage: crd-immutable FILE...
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	for _, path := range os.Args[1:] {
		if err := strip(path); err != nil {
			fmt.Fprintf(os.Stderr, "crd-immutable: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func strip(path string) error {
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
		schema, _ := dig(v, "schema", "openAPIV3Schema", "properties", "spec", "properties").(map[string]any)
		for _, field := range []string{"template", "jobTemplate"} {
			if sub, ok := schema[field].(map[string]any); ok {
				removed += dropTransitionRules(sub)
			}
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

// dropTransitionRules removes every x-kubernetes-validations rule that reads
// oldSelf below schema, and the list when it becomes empty.
func dropTransitionRules(schema map[string]any) int {
	removed := 0
	if rules, ok := schema["x-kubernetes-validations"].([]any); ok {
		kept := rules[:0]
		for _, r := range rules {
			rule, _ := dig(r, "rule").(string)
			if strings.Contains(rule, "oldSelf") {
				removed++
				continue
			}
			kept = append(kept, r)
		}
		if len(kept) == 0 {
			delete(schema, "x-kubernetes-validations")
		} else {
			schema["x-kubernetes-validations"] = kept
		}
	}
	for _, key := range []string{"properties", "additionalProperties", "items"} {
		switch child := schema[key].(type) {
		case map[string]any:
			if key == "properties" {
				for _, p := range child {
					if m, ok := p.(map[string]any); ok {
						removed += dropTransitionRules(m)
					}
				}
			} else {
				removed += dropTransitionRules(child)
			}
		}
	}
	return removed
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
