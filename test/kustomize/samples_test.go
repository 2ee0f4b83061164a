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
	"context"
	"fmt"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// crdSchema validates objects of one version of a CRD the way the API server does on create: defaulting, pruning
// of unknown fields (reported here as errors), OpenAPI schema validation and CEL rules.
type crdSchema struct {
	openAPI    *apiextensions.JSONSchemaProps
	structural *structuralschema.Structural
}

// crdSchemas renders config/crd and returns the schema of every served version by group, version and kind.
func crdSchemas(t *testing.T) map[schema.GroupVersionKind]crdSchema {
	t.Helper()
	out := map[schema.GroupVersionKind]crdSchema{}
	for _, u := range build(t, configDir(t, "crd")) {
		crd := into[apiextensionsv1.CustomResourceDefinition](t, u)
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(
				v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				t.Fatalf("CRD %s %s: %v", crd.Name, v.Name, err)
			}
			s, err := structuralschema.NewStructural(internal)
			if err != nil {
				t.Fatalf("CRD %s %s: %v", crd.Name, v.Name, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			out[gvk] = crdSchema{openAPI: internal, structural: s}
		}
	}
	if len(out) == 0 {
		t.Fatal("config/crd rendered no CRD")
	}
	return out
}

// validate returns what the API server would reject in obj.
func (s crdSchema) validate(t *testing.T, obj map[string]any) field.ErrorList {
	t.Helper()
	obj = runtime.DeepCopyJSON(obj)
	structuraldefaulting.Default(obj, s.structural)

	var errs field.ErrorList
	for _, p := range pruning.PruneWithOptions(obj, s.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Invalid(field.NewPath(p), nil, "unknown field"))
	}

	validator, _, err := validation.NewSchemaValidator(s.openAPI)
	if err != nil {
		t.Fatal(err)
	}
	errs = append(errs, validation.ValidateCustomResource(nil, obj, validator)...)

	celErrs, _ := cel.NewValidator(s.structural, true, celconfig.PerCallLimit).
		Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

func TestSamplesValidateAgainstTheirCRDs(t *testing.T) {
	schemas := crdSchemas(t)
	samples := build(t, configDir(t, "samples"))

	sampled := map[schema.GroupVersionKind]int{}
	for _, u := range samples {
		gvk := u.GroupVersionKind()
		s, ok := schemas[gvk]
		if !ok {
			if gvk.Group != "" {
				t.Errorf("sample %s %s: no CRD serves %s", u.GetKind(), u.GetName(), gvk)
			}
			continue
		}
		sampled[gvk]++
		if errs := s.validate(t, u.Object); len(errs) > 0 {
			t.Errorf("sample %s %s is invalid: %v", u.GetKind(), u.GetName(), errs.ToAggregate())
		}
	}
	for gvk := range schemas {
		// NodeJobRuns are created by the operator, one per execution of a NodeJob.
		if gvk.Kind == "NodeJobRun" {
			continue
		}
		if sampled[gvk] == 0 {
			t.Errorf("no sample of %s", gvk)
		}
	}
}

// nested returns the value at path, or nil.
func nested(obj map[string]any, path ...string) any {
	v, found, err := unstructured.NestedFieldNoCopy(obj, path...)
	if err != nil || !found {
		return nil
	}
	return v
}

// TestSamplesCoverEveryFeature checks that the samples show every trigger and output form, and that what they
// reference is among them.
func TestSamplesCoverEveryFeature(t *testing.T) {
	samples := build(t, configDir(t, "samples"))
	seen := map[string]bool{}
	configMaps := map[string]bool{}
	for _, u := range ofKind(samples, "ConfigMap") {
		configMaps[u.GetName()] = true
	}
	for _, u := range ofKind(samples, "QuarksJob") {
		seen["strategy "+fmt.Sprint(nested(u.Object, "spec", "trigger", "strategy"))] = true
		if nested(u.Object, "spec", "updateOnConfigChange") == true {
			seen["updateOnConfigChange"] = true
			pod := nested(u.Object, "spec", "template", "spec", "template")
			spec := into[corev1.PodTemplateSpec](t, &unstructured.Unstructured{Object: pod.(map[string]any)}).Spec
			for _, v := range spec.Volumes {
				if v.ConfigMap != nil && !configMaps[v.ConfigMap.Name] {
					t.Errorf("QuarksJob %s references ConfigMap %s, which is not among the samples", u.GetName(),
						v.ConfigMap.Name)
				}
			}
		}
		outputMap, _ := nested(u.Object, "spec", "output", "outputMap").(map[string]any)
		for _, files := range outputMap {
			for _, opts := range files.(map[string]any) {
				o := opts.(map[string]any)
				switch {
				case o["persistencemethod"] == "fan-out":
					seen["fan-out output"] = true
				case o["versioned"] == true:
					seen["versioned output"] = true
				default:
					seen["output"] = true
				}
			}
		}
	}
	for _, u := range ofKind(samples, "NodeJob") {
		if gauges, _ := nested(u.Object, "spec", "metrics", "gauges").(map[string]any); len(gauges) > 0 {
			seen["NodeJob gauges"] = true
		}
	}
	for _, want := range []string{
		"strategy manual", "strategy once", "updateOnConfigChange", "output", "versioned output", "fan-out output",
		"NodeJob gauges",
	} {
		if !seen[want] {
			t.Errorf("no sample shows %s", want)
		}
	}
}

// TestSchemaValidationRejectsBrokenSamples makes sure the validation above can fail: each broken copy of a sample
// must be rejected.
func TestSchemaValidationRejectsBrokenSamples(t *testing.T) {
	schemas := crdSchemas(t)
	samples := build(t, configDir(t, "samples"))
	sample := func(kind string) *unstructured.Unstructured {
		for _, u := range ofKind(samples, kind) {
			return u.DeepCopy()
		}
		t.Fatalf("no %s sample", kind)
		return nil
	}
	for _, tc := range []struct {
		name  string
		kind  string
		path  []string
		value any
	}{
		{"enum", "QuarksJob", []string{"spec", "trigger", "strategy"}, "sometimes"},
		{"unknown field", "QuarksJob", []string{"spec", "updateOnConfigChanges"}, true},
		{"minimum", "QuarksJob", []string{"spec", "failedJobsHistoryLimit"}, int64(-1)},
		{"CEL on the job template", "ReactiveJob",
			[]string{"spec", "jobTemplate", "spec", "template", "spec", "restartPolicy"}, "Always"},
		{"CEL on the metrics prefix", "NodeJob", []string{"spec", "metrics", "prefix"}, "jobkeeper_nodes"},
		{"CEL on the name length", "NodeJob", []string{"metadata", "name"}, "a-name-that-is-far-too-long-for-runs-and-pods-" +
			"derived-from-it"},
		{"pattern", "NodeJob", []string{"spec", "parallelism"}, "0%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := sample(tc.kind)
			if err := unstructured.SetNestedField(u.Object, tc.value, tc.path...); err != nil {
				t.Fatal(err)
			}
			if errs := schemas[u.GroupVersionKind()].validate(t, u.Object); len(errs) == 0 {
				t.Errorf("%s with %v = %v was accepted", tc.kind, tc.path, tc.value)
			}
		})
	}
}

// TestFluxExampleValidates checks the ReactiveJob of the Flux example in docs/examples/flux against its CRD.
func TestFluxExampleValidates(t *testing.T) {
	schemas := crdSchemas(t)
	objs := build(t, filepath.Join(repoRoot(t), "docs", "examples", "flux", "migrations"))
	if len(ofKind(objs, "ReactiveJob")) != 1 {
		t.Fatalf("want one ReactiveJob in the Flux example, got %d", len(ofKind(objs, "ReactiveJob")))
	}
	for _, u := range objs {
		s, ok := schemas[u.GroupVersionKind()]
		if !ok {
			t.Fatalf("no CRD serves %s", u.GroupVersionKind())
		}
		if errs := s.validate(t, u.Object); len(errs) > 0 {
			t.Errorf("%s %s is invalid: %v", u.GetKind(), u.GetName(), errs.ToAggregate())
		}
	}
}
