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
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// fluxExample is where the Flux example lives.
const fluxExample = "docs/examples/flux"

// fluxPaths are the Kustomization paths of the Flux example that belong to the user's own repository, not to this
// one.
var fluxPaths = map[string]bool{"./deploy/app": true}

// readDocs returns every object of every YAML file in dir.
func readDocs(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			js, err := yaml.YAMLToJSON(doc)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if strings.TrimSpace(string(js)) == "null" {
				continue
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(js); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, u)
		}
	}
	return out
}

// TestFluxExampleInstallsFromThisRepository checks that the Flux example installs jobkeeper from a path that exists
// in this repository, that its image override reaches the manager and the sidecar as Flux applies it (an images
// entry in the kustomization at the path), and that every path and dependency the example names exists.
func TestFluxExampleInstallsFromThisRepository(t *testing.T) {
	root := repoRoot(t)
	objs := readDocs(t, filepath.Join(root, fluxExample))
	sources := map[string]bool{}
	for _, u := range objs {
		if u.GetKind() == "GitRepository" {
			sources[u.GetName()] = true
		}
	}
	kustomizations := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		if u.GetKind() == "Kustomization" && strings.HasPrefix(u.GetAPIVersion(), "kustomize.toolkit.fluxcd.io/") {
			kustomizations[u.GetName()] = u
		}
	}

	install, ok := kustomizations["jobkeeper"]
	if !ok {
		t.Fatalf("%s has no Flux Kustomization named jobkeeper that installs the operator", fluxExample)
	}
	for name, k := range kustomizations {
		src, _, _ := unstructured.NestedString(k.Object, "spec", "sourceRef", "name")
		if !sources[src] {
			t.Errorf("Kustomization %s: GitRepository %q is not in the example", name, src)
		}
		deps, _, _ := unstructured.NestedSlice(k.Object, "spec", "dependsOn")
		for _, d := range deps {
			m, _ := d.(map[string]any)
			dn, _ := m["name"].(string)
			if _, ok := kustomizations[dn]; !ok {
				t.Errorf("Kustomization %s depends on %q, which is not in the example", name, dn)
			}
		}
		if name != "jobkeeper" && !dependsOn(kustomizations, name, "jobkeeper") {
			t.Errorf("Kustomization %s does not depend, directly or not, on the jobkeeper installation", name)
		}
		path, _, _ := unstructured.NestedString(k.Object, "spec", "path")
		if fluxPaths[path] {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, path, "kustomization.yaml")); err != nil {
			t.Errorf("Kustomization %s: path %s is no kustomization in this repository: %v", name, path, err)
			continue
		}
		if name != "jobkeeper" {
			build(t, filepath.Join(root, path))
		}
	}

	// Flux writes spec.images into the kustomization at the path and builds it.
	path, _, _ := unstructured.NestedString(install.Object, "spec", "path")
	imageEntries, _, _ := unstructured.NestedSlice(install.Object, "spec", "images")
	if len(imageEntries) != 1 {
		t.Fatalf("Kustomization jobkeeper: want one images entry, got %d", len(imageEntries))
	}
	img, _ := imageEntries[0].(map[string]any)
	name, _ := img["name"].(string)
	newName, _ := img["newName"].(string)
	newTag, _ := img["newTag"].(string)
	want := newName + ":" + newTag
	fSys := memConfig(t)
	kfile := filepath.Join(root, path, "kustomization.yaml")
	data, err := fSys.ReadFile(kfile)
	if err != nil {
		t.Fatal(err)
	}
	entry := fmt.Sprintf("\nimages:\n- name: %s\n  newName: %s\n  newTag: %s\n", name, newName, newTag)
	if err := fSys.WriteFile(kfile, append(data, entry...)); err != nil {
		t.Fatal(err)
	}
	rendered := buildFS(t, fSys, filepath.Join(root, path))
	if n := len(ofKind(rendered, "CustomResourceDefinition")); n < 4 {
		t.Errorf("Kustomization jobkeeper installs %d CRDs, want the 4 of config/crd", n)
	}
	m, s := images(t, rendered)
	if m != want || s != want {
		t.Errorf("with the example's images: manager image %q, sidecar image %q; want both %q", m, s, want)
	}
}

// dependsOn reports whether the Flux Kustomization name depends on target, directly or through others.
func dependsOn(kustomizations map[string]*unstructured.Unstructured, name, target string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		k, ok := kustomizations[n]
		if !ok {
			return false
		}
		deps, _, _ := unstructured.NestedSlice(k.Object, "spec", "dependsOn")
		for _, d := range deps {
			m, _ := d.(map[string]any)
			dn, _ := m["name"].(string)
			if dn == target || walk(dn) {
				return true
			}
		}
		return false
	}
	return walk(name)
}
