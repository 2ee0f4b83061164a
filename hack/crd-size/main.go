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

// Command crd-size reports where the bytes of CustomResourceDefinitions go: the size of each file, how much of it is
// description text, and how much of that lies below the embedded templates (the Job and Pod templates every kind
// carries: a schema property named template or jobTemplate that has a spec). It also prints the size of the CRD as
// compact JSON, which is what the API server stores, client-side kubectl apply puts in its annotation and the Helm
// chart embeds, with and without those descriptions, and the same gzip-compressed, as the Helm release Secret holds it.
//
// Usage: go run ./hack/crd-size FILE...   (each FILE holds one CRD, e.g. config/crd/bases/*.yaml)
//
// The output is two Markdown tables, the YAML files and the compact JSON, followed by the template paths found in each
// CRD.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// templateNames are the property names of embedded templates.
var templateNames = []string{"template", "jobTemplate"}

// sizes are the figures of one CRD.
type sizes struct {
	file                int // bytes of the YAML file
	fileNoTemplateDescs int // the file without the descriptions below embedded templates
	fileNoDescs         int // the file without any description
	descriptions        int // bytes of all description strings
	count               int // number of descriptions
	templateDescs       int // bytes of the description strings below embedded templates
	templateCount       int // number of those
	json                int // compact JSON
	jsonNoTemplateDescs int // compact JSON without the descriptions below embedded templates
	jsonNoDescs         int // compact JSON without any description
	gzip                int // the three JSON sizes, gzip-compressed
	gzipNoTemplateDescs int
	gzipNoDescs         int
	templates           []string // paths of the embedded templates
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crd-size FILE...")
		os.Exit(2)
	}
	var all []sizes
	for _, f := range os.Args[1:] {
		s, err := measure(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(1)
		}
		all = append(all, s)
	}

	fmt.Println("YAML, as in config/crd/bases (bytes; description text in bytes, share of the file and count):")
	fmt.Println()
	fmt.Println("| CRD | file | description text | of it below templates | file without template descriptions | " +
		"file without descriptions |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for i, s := range all {
		fmt.Printf("| %s | %d | %d (%s, %d) | %d (%s, %d) | %d (%s) | %d (%s) |\n", filepath.Base(os.Args[1+i]), s.file,
			s.descriptions, percent(s.descriptions, s.file), s.count,
			s.templateDescs, percent(s.templateDescs, s.file), s.templateCount,
			s.fileNoTemplateDescs, percent(s.fileNoTemplateDescs, s.file), s.fileNoDescs, percent(s.fileNoDescs, s.file))
	}
	fmt.Println()
	fmt.Println("Compact JSON, as the API server stores it and the Helm chart embeds it (bytes; gzip-compressed in brackets):")
	fmt.Println()
	fmt.Println("| CRD | JSON | without template descriptions | without descriptions |")
	fmt.Println("|---|---:|---:|---:|")
	for i, s := range all {
		fmt.Printf("| %s | %d (%d) | %d (%d) | %d (%d) |\n", filepath.Base(os.Args[1+i]), s.json, s.gzip,
			s.jsonNoTemplateDescs, s.gzipNoTemplateDescs, s.jsonNoDescs, s.gzipNoDescs)
	}
	fmt.Println()
	for i, s := range all {
		fmt.Printf("%s: templates %s\n", filepath.Base(os.Args[1+i]), strings.Join(s.templates, ", "))
	}
}

func percent(part, whole int) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(whole))
}

// measure reads one CRD file.
func measure(file string) (sizes, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return sizes{}, err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return sizes{}, err
	}
	if crd["kind"] != "CustomResourceDefinition" {
		return sizes{}, fmt.Errorf("kind %v, want CustomResourceDefinition", crd["kind"])
	}
	s := sizes{file: len(data)}
	spec, _ := crd["spec"].(map[string]any)
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		version, _ := v.(map[string]any)
		schema, _ := version["schema"].(map[string]any)
		root, ok := schema["openAPIV3Schema"].(map[string]any)
		if !ok {
			continue
		}
		walk(root, fmt.Sprint(version["name"]), false, &s)
	}
	if s.json, s.gzip, err = encoded(crd); err != nil {
		return sizes{}, err
	}
	noTemplateDescs, noDescs := strip(crd, false, true), strip(crd, false, false)
	if s.jsonNoTemplateDescs, s.gzipNoTemplateDescs, err = encoded(noTemplateDescs); err != nil {
		return sizes{}, err
	}
	if s.jsonNoDescs, s.gzipNoDescs, err = encoded(noDescs); err != nil {
		return sizes{}, err
	}
	// controller-gen writes the files with sigs.k8s.io/yaml, so marshalling the stripped CRD again gives the size the
	// file would have (the original marshals to the file's size but for the leading "---").
	if s.fileNoTemplateDescs, err = yamlSize(noTemplateDescs); err != nil {
		return sizes{}, err
	}
	if s.fileNoDescs, err = yamlSize(noDescs); err != nil {
		return sizes{}, err
	}
	return s, nil
}

// yamlSize returns the size of v as a YAML document like the ones controller-gen writes.
func yamlSize(v any) (int, error) {
	y, err := yaml.Marshal(v)
	return len("---\n") + len(y), err
}

// walk adds the descriptions of a schema and its subschemas to s; inTemplate says whether schema lies below an
// embedded template.
func walk(schema map[string]any, path string, inTemplate bool, s *sizes) {
	if d, ok := schema["description"].(string); ok {
		s.descriptions += len(d)
		s.count++
		if inTemplate {
			s.templateDescs += len(d)
			s.templateCount++
		}
	}
	props, _ := schema["properties"].(map[string]any)
	for _, name := range sortedKeys(props) {
		sub, ok := props[name].(map[string]any)
		if !ok {
			continue
		}
		p := path + "." + name
		t := inTemplate
		if !t && isTemplate(name, sub) {
			t = true
			s.templates = append(s.templates, p)
		}
		walk(sub, p, t, s)
	}
	for _, key := range []string{"items", "additionalProperties", "not"} {
		if sub, ok := schema[key].(map[string]any); ok {
			walk(sub, path+"["+key+"]", inTemplate, s)
		}
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		subs, _ := schema[key].([]any)
		for _, x := range subs {
			if sub, ok := x.(map[string]any); ok {
				walk(sub, path+"["+key+"]", inTemplate, s)
			}
		}
	}
}

// isTemplate says whether the property name with schema is an embedded template.
func isTemplate(name string, schema map[string]any) bool {
	props, _ := schema["properties"].(map[string]any)
	_, hasSpec := props["spec"]
	return hasSpec && slices.Contains(templateNames, name)
}

// strip returns a copy of v without the descriptions of schemas: only those below embedded templates when
// onlyTemplates is set, otherwise all. It copies maps and lists, so v is left as it is.
func strip(v any, inTemplate, onlyTemplates bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if k == "description" && (inTemplate || !onlyTemplates) {
				if _, ok := val.(string); ok {
					continue
				}
			}
			if k == "properties" {
				props, ok := val.(map[string]any)
				if ok {
					p := make(map[string]any, len(props))
					for name, sub := range props {
						sm, isMap := sub.(map[string]any)
						p[name] = strip(sub, inTemplate || (isMap && isTemplate(name, sm)), onlyTemplates)
					}
					out[k] = p
					continue
				}
			}
			out[k] = strip(val, inTemplate, onlyTemplates)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = strip(val, inTemplate, onlyTemplates)
		}
		return out
	default:
		return v
	}
}

// encoded returns the size of v as compact JSON, plain and gzip-compressed.
func encoded(v any) (int, int, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(js); err != nil {
		return 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return len(js), buf.Len(), nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
