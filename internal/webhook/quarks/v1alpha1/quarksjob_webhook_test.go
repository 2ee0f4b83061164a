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

package v1alpha1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
)

// examplesDir holds the upstream example manifests, relative to this package.
const examplesDir = "../../../../../shared/examples/quarks"

// qjob builds a valid QuarksJob with one container "busybox"; options change it.
func qjob(opts ...func(*quarksv1alpha1.QuarksJob)) *quarksv1alpha1.QuarksJob {
	qj := &quarksv1alpha1.QuarksJob{
		ObjectMeta: metav1.ObjectMeta{Name: "job", Namespace: "default"},
		Spec: quarksv1alpha1.QuarksJobSpec{
			Trigger: quarksv1alpha1.Trigger{Strategy: quarksv1alpha1.StrategyManual},
			Template: quarksv1alpha1.JobTemplate{
				Spec: batchv1.JobSpec{
					Template: corev1.PodTemplateSpec{
						Spec: corev1.PodSpec{
							RestartPolicy: corev1.RestartPolicyNever,
							Containers:    []corev1.Container{{Name: "busybox", Image: "busybox"}},
						},
					},
				},
			},
		},
	}
	for _, o := range opts {
		o(qj)
	}
	return qj
}

func withOutput(m quarksv1alpha1.OutputMap) func(*quarksv1alpha1.QuarksJob) {
	return func(qj *quarksv1alpha1.QuarksJob) {
		qj.Spec.Output = &quarksv1alpha1.Output{OutputMap: m}
	}
}

func podSpec(qj *quarksv1alpha1.QuarksJob) *corev1.PodSpec {
	return &qj.Spec.Template.Spec.Template.Spec
}

// summary reduces errors to "field: type" so tables stay short and independent of library messages.
func summary(errs field.ErrorList) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Field+": "+string(e.Type))
	}
	return out
}

func checkErrors(t *testing.T, errs field.ErrorList, want []string, wantDetail string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if diff := cmp.Diff(want, summary(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s\nall: %v", diff, errs)
	}
	for _, e := range errs {
		if !strings.Contains(e.Detail, wantDetail) {
			t.Errorf("error %q does not contain %q", e.Error(), wantDetail)
		}
	}
}

func TestDefaultQuarksJob(t *testing.T) {
	tests := []struct {
		name string
		in   *quarksv1alpha1.QuarksJob
		want *quarksv1alpha1.QuarksJob
	}{
		{
			name: "empty trigger and limits get their defaults",
			in: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Trigger = quarksv1alpha1.Trigger{}
			}),
			want: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.FailedJobsHistoryLimit = new(int32(1))
			}),
		},
		{
			name: "set values are kept",
			in: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
				qj.Spec.FailedJobsHistoryLimit = new(int32(0))
				qj.Spec.Output = &quarksv1alpha1.Output{
					OutputMap:                   quarksv1alpha1.OutputMap{},
					VersionedSecretHistoryLimit: new(int32(3)),
				}
			}),
			want: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
				qj.Spec.FailedJobsHistoryLimit = new(int32(0))
				qj.Spec.Output = &quarksv1alpha1.Output{
					OutputMap:                   quarksv1alpha1.OutputMap{},
					VersionedSecretHistoryLimit: new(int32(3)),
				}
			}),
		},
		{
			name: "output gets an empty map and the history limit",
			in:   qjob(withOutput(nil)),
			want: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.FailedJobsHistoryLimit = new(int32(1))
				qj.Spec.Output = &quarksv1alpha1.Output{
					OutputMap:                   quarksv1alpha1.OutputMap{},
					VersionedSecretHistoryLimit: new(int32(10)),
				}
			}),
		},
		{
			name: "legacy backoffLimit stays where it is",
			in: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Template.BackoffLimit = new(int32(2))
			}),
			want: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Template.BackoffLimit = new(int32(2))
				qj.Spec.FailedJobsHistoryLimit = new(int32(1))
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := (&QuarksJobCustomDefaulter{}).Default(context.Background(), tt.in); err != nil {
				t.Fatalf("Default: %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("defaulted object (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateFileName(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr bool
	}{
		{name: "plain", file: "output.json"},
		{name: "hidden file", file: ".x"},
		{name: "dots inside", file: "a..b"},
		{name: "255 bytes", file: strings.Repeat("a", 255)},
		{name: "empty", file: "", wantErr: true},
		{name: "dot", file: ".", wantErr: true},
		{name: "dot dot", file: "..", wantErr: true},
		{name: "parent", file: "../x", wantErr: true},
		{name: "sub directory", file: "a/b.json", wantErr: true},
		{name: "absolute", file: "/etc/passwd", wantErr: true},
		{name: "NUL", file: "a\x00b", wantErr: true},
		{name: "256 bytes", file: strings.Repeat("a", 256), wantErr: true},
	}
	p := field.NewPath("spec", "output", "outputMap").Key("c").Key("f")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			if tt.wantErr {
				want = []string{"spec.output.outputMap[c][f]: FieldValueInvalid"}
			}
			checkErrors(t, validateFileName(p, tt.file), want, "must be a file name without path separators")
		})
	}
}

func TestValidateOutputMap(t *testing.T) {
	opts := func(name string) quarksv1alpha1.SecretOptions { return quarksv1alpha1.SecretOptions{Name: name} }
	tests := []struct {
		name       string
		outputMap  quarksv1alpha1.OutputMap
		wantErrs   []string
		wantDetail string
	}{
		{
			name:      "empty map",
			outputMap: quarksv1alpha1.OutputMap{},
		},
		{
			name: "valid entries",
			outputMap: quarksv1alpha1.OutputMap{
				"busybox": {
					"output.json":   opts("foo-json"),
					"provides.json": {Name: "link", PersistenceMethod: quarksv1alpha1.PersistenceMethodFanOut, Versioned: true},
					"labels.json": {
						Name:              "Foo_Bar.JSON",
						SecretLabels:      map[string]string{"example.com/key": "value"},
						SecretAnnotations: map[string]string{"Example.com/Key": "any value: /"},
					},
				},
			},
		},
		{
			name:       "unknown container",
			outputMap:  quarksv1alpha1.OutputMap{"nope": {"f.json": opts("x")}},
			wantErrs:   []string{"spec.output.outputMap[nope]: FieldValueInvalid"},
			wantDetail: "container not found in template",
		},
		{
			name:       "init container",
			outputMap:  quarksv1alpha1.OutputMap{"init": {"f.json": opts("x")}},
			wantErrs:   []string{"spec.output.outputMap[init]: FieldValueInvalid"},
			wantDetail: "container not found in template",
		},
		{
			name:       "file with a path",
			outputMap:  quarksv1alpha1.OutputMap{"busybox": {"../x": opts("x"), "a/b.json": opts("y")}},
			wantErrs:   []string{"spec.output.outputMap[busybox][../x]: FieldValueInvalid", "spec.output.outputMap[busybox][a/b.json]: FieldValueInvalid"},
			wantDetail: "must be a file name without path separators",
		},
		{
			name:       "missing name",
			outputMap:  quarksv1alpha1.OutputMap{"busybox": {"f.json": opts("")}},
			wantErrs:   []string{"spec.output.outputMap[busybox][f.json].name: FieldValueRequired"},
			wantDetail: "required",
		},
		{
			name:       "name that sanitises to nothing",
			outputMap:  quarksv1alpha1.OutputMap{"busybox": {"f.json": opts("_.!")}},
			wantErrs:   []string{"spec.output.outputMap[busybox][f.json].name: FieldValueInvalid"},
			wantDetail: "after sanitising",
		},
		{
			name: "bad per-file label and annotation keys",
			outputMap: quarksv1alpha1.OutputMap{"busybox": {"f.json": {
				Name:              "x",
				SecretLabels:      map[string]string{"bad key": "v"},
				SecretAnnotations: map[string]string{"-bad": "v"},
			}}},
			wantErrs: []string{
				"spec.output.outputMap[busybox][f.json].secretLabels[bad key]: FieldValueInvalid",
				"spec.output.outputMap[busybox][f.json].secretAnnotations[-bad]: FieldValueInvalid",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qj := qjob(func(qj *quarksv1alpha1.QuarksJob) {
				podSpec(qj).InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
			})
			errs := validateOutputMap(field.NewPath("spec", "output", "outputMap"), tt.outputMap, podSpec(qj))
			checkErrors(t, errs, tt.wantErrs, tt.wantDetail)
		})
	}
}

func TestValidateReservedNames(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*corev1.PodSpec)
		wantErrs []string
	}{
		{
			name:   "nothing reserved",
			mutate: func(*corev1.PodSpec) {},
		},
		{
			name: "similar names and paths are fine",
			mutate: func(p *corev1.PodSpec) {
				p.Volumes = []corev1.Volume{{Name: "output-other"}, {Name: "results"}}
				p.Containers[0].VolumeMounts = []corev1.VolumeMount{
					{Name: "output-other", MountPath: "/mnt/quarksdata"},
					{Name: "results", MountPath: "/mnt"},
				}
			},
		},
		{
			name: "sidecar name as container and init container",
			mutate: func(p *corev1.PodSpec) {
				p.InitContainers = []corev1.Container{{Name: "output-persist"}}
				p.Containers = append(p.Containers, corev1.Container{Name: "output-persist"})
			},
			wantErrs: []string{
				"spec.template.spec.template.spec.initContainers[0].name: FieldValueInvalid",
				"spec.template.spec.template.spec.containers[1].name: FieldValueInvalid",
			},
		},
		{
			name: "operator volumes",
			mutate: func(p *corev1.PodSpec) {
				p.Volumes = []corev1.Volume{{Name: "data"}, {Name: "output-busybox"}, {Name: "jobkeeper-results"}}
			},
			wantErrs: []string{
				"spec.template.spec.template.spec.volumes[1].name: FieldValueInvalid",
				"spec.template.spec.template.spec.volumes[2].name: FieldValueInvalid",
			},
		},
		{
			name: "mounts at and below the output directory",
			mutate: func(p *corev1.PodSpec) {
				p.Containers[0].VolumeMounts = []corev1.VolumeMount{
					{Name: "a", MountPath: "/mnt/quarks"},
					{Name: "b", MountPath: "/mnt/quarks/"},
					{Name: "c", MountPath: "/mnt//quarks/sub"},
					{Name: "d", MountPath: "/etc/config"},
				}
			},
			wantErrs: []string{
				"spec.template.spec.template.spec.containers[0].volumeMounts[0].mountPath: FieldValueInvalid",
				"spec.template.spec.template.spec.containers[0].volumeMounts[1].mountPath: FieldValueInvalid",
				"spec.template.spec.template.spec.containers[0].volumeMounts[2].mountPath: FieldValueInvalid",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qj := qjob()
			tt.mutate(podSpec(qj))
			errs := validateReservedNames(field.NewPath("spec", "template", "spec", "template", "spec"), podSpec(qj))
			checkErrors(t, errs, tt.wantErrs, "reserved by the operator")
		})
	}
}

func TestValidateQuarksJobSpec(t *testing.T) {
	tests := []struct {
		name     string
		qj       *quarksv1alpha1.QuarksJob
		wantErrs []string
	}{
		{
			name: "valid with output",
			qj: qjob(withOutput(quarksv1alpha1.OutputMap{"busybox": {"output.json": {Name: "foo-json"}}}), func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Output.SecretLabels = map[string]string{"key": "Not A Label Value"}
				qj.Spec.Template.Labels = map[string]string{"app": "x"}
			}),
		},
		{
			name: "bad output secret label key",
			qj: qjob(withOutput(quarksv1alpha1.OutputMap{}), func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Output.SecretLabels = map[string]string{"a/b/c": "v", "ok": "v"}
			}),
			wantErrs: []string{"spec.output.secretLabels[a/b/c]: FieldValueInvalid"},
		},
		{
			name: "bad Job and pod metadata",
			qj: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Template.Labels = map[string]string{"app": "not valid"}
				qj.Spec.Template.Annotations = map[string]string{"bad key": ""}
				qj.Spec.Template.Spec.Template.Labels = map[string]string{"_x": "y"}
			}),
			wantErrs: []string{
				"spec.template.metadata.labels[app]: FieldValueInvalid",
				"spec.template.metadata.annotations[bad key]: FieldValueInvalid",
				"spec.template.spec.template.metadata.labels[_x]: FieldValueInvalid",
			},
		},
		{
			name: "several rules at once",
			qj: qjob(withOutput(quarksv1alpha1.OutputMap{"missing": {"f": {Name: "x"}}}), func(qj *quarksv1alpha1.QuarksJob) {
				podSpec(qj).Volumes = []corev1.Volume{{Name: "jobkeeper-results"}}
			}),
			wantErrs: []string{
				"spec.template.spec.template.spec.volumes[0].name: FieldValueInvalid",
				"spec.output.outputMap[missing]: FieldValueInvalid",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateQuarksJobSpec(field.NewPath("spec"), &tt.qj.Spec)
			checkErrors(t, errs, tt.wantErrs, "")
		})
	}
}

func TestQuarksJobWarnings(t *testing.T) {
	tests := []struct {
		name string
		qj   *quarksv1alpha1.QuarksJob
		want []string
	}{
		{
			name: "none",
			qj:   qjob(),
		},
		{
			name: "legacy backoffLimit",
			qj: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Template.BackoffLimit = new(int32(2))
			}),
			want: []string{"spec.template.backoffLimit is misplaced; use spec.template.spec.backoffLimit"},
		},
		{
			name: "updateOnConfigChange with manual",
			qj: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.UpdateOnConfigChange = true
			}),
			want: []string{`spec.updateOnConfigChange: has no effect while spec.trigger.strategy is "manual"`},
		},
		{
			name: "updateOnConfigChange with once",
			qj: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.UpdateOnConfigChange = true
				qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyOnce
			}),
		},
		{
			name: "delete pod label",
			qj: qjob(func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Template.Spec.Template.Labels = map[string]string{"delete": "pod"}
			}),
			want: []string{`spec.template.spec.template.metadata.labels[delete]: "delete: pod" has no effect; the pods of a succeeded Job are always removed`},
		},
		{
			name: "output type json",
			qj: qjob(withOutput(nil), func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Output.OutputType = "json"
			}),
		},
		{
			name: "other output type and label values that get sanitised",
			qj: qjob(withOutput(quarksv1alpha1.OutputMap{"busybox": {"f.json": {Name: "x", SecretLabels: map[string]string{"k": "A B"}}}}), func(qj *quarksv1alpha1.QuarksJob) {
				qj.Spec.Output.OutputType = "yaml"
				qj.Spec.Output.SecretLabels = map[string]string{"ok": "fine", "role": "Web_Server"}
			}),
			want: []string{
				`spec.output.outputType: only "json" is supported; "yaml" is stored and ignored`,
				`spec.output.secretLabels[role]: "Web_Server" is written as "web-server"; label values of output Secrets are sanitised`,
				`spec.output.outputMap[busybox][f.json].secretLabels[k]: "A B" is written as "ab"; label values of output Secrets are sanitised`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = []string{}
			}
			got := append([]string{}, quarksJobWarnings(tt.qj)...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidator(t *testing.T) {
	invalid := func(qj *quarksv1alpha1.QuarksJob) {
		qj.Spec.Output = &quarksv1alpha1.Output{OutputMap: quarksv1alpha1.OutputMap{"nope": {"f": {Name: "x"}}}}
	}
	deleting := func(qj *quarksv1alpha1.QuarksJob) {
		qj.DeletionTimestamp = &metav1.Time{}
		qj.Finalizers = []string{"example.com/hold"}
	}
	tests := []struct {
		name        string
		old         *quarksv1alpha1.QuarksJob // nil means create
		obj         *quarksv1alpha1.QuarksJob
		wantInvalid bool
		wantWarn    int
	}{
		{name: "create valid", obj: qjob()},
		{name: "create invalid", obj: qjob(invalid), wantInvalid: true},
		{name: "create with warning", obj: qjob(func(qj *quarksv1alpha1.QuarksJob) { qj.Spec.Template.BackoffLimit = new(int32(1)) }), wantWarn: 1},
		{name: "update to invalid spec", old: qjob(), obj: qjob(invalid), wantInvalid: true},
		{
			name: "update of metadata only is not checked",
			old:  qjob(invalid),
			obj:  qjob(invalid, func(qj *quarksv1alpha1.QuarksJob) { qj.Labels = map[string]string{"a": "b"} }),
		},
		{name: "update while deleting is not checked", old: qjob(), obj: qjob(invalid, deleting)},
		{
			// The operator's write-back of now to manual on an object that a newer rule would refuse.
			name: "update of the strategy alone is not checked",
			old:  qjob(invalid, func(qj *quarksv1alpha1.QuarksJob) { qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyNow }),
			obj:  qjob(invalid, func(qj *quarksv1alpha1.QuarksJob) { qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyManual }),
		},
	}
	v := &QuarksJobCustomValidator{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warnings []string
			var err error
			if tt.old == nil {
				warnings, err = v.ValidateCreate(context.Background(), tt.obj)
			} else {
				warnings, err = v.ValidateUpdate(context.Background(), tt.old, tt.obj)
			}
			if len(warnings) != tt.wantWarn {
				t.Errorf("warnings = %q, want %d", warnings, tt.wantWarn)
			}
			if !tt.wantInvalid {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("error = %v, want Invalid", err)
			}
			var status apierrors.APIStatus
			if !errors.As(err, &status) {
				t.Fatalf("error %v carries no status", err)
			}
			details := status.Status().Details
			if details == nil || details.Group != "quarks.cloudfoundry.org" || details.Kind != "QuarksJob" || details.Name != "job" {
				t.Errorf("details = %+v, want quarks.cloudfoundry.org QuarksJob job", details)
			}
		})
	}
	if w, err := v.ValidateDelete(context.Background(), qjob(invalid)); w != nil || err != nil {
		t.Errorf("ValidateDelete = %v, %v; want nothing", w, err)
	}
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name      string
		in        string
		wantLabel string
		wantName  string
	}{
		{name: "already valid", in: "foo-json", wantLabel: "foo-json", wantName: "foo-json"},
		{name: "case, underscores and dots", in: "_Foo_Bar.JSON-", wantLabel: "foo-barjson", wantName: "foo-bar.json"},
		{name: "only punctuation", in: "._!.", wantLabel: "", wantName: ""},
		{name: "other characters dropped", in: "a b/c:d", wantLabel: "abcd", wantName: "abcd"},
		{
			name:      "too long",
			in:        long,
			wantLabel: strings.Repeat("a", 30) + "-" + "4e5475d125a33c6190718e75adc1b704",
			wantName:  strings.Repeat("a", 220) + "-" + "4e5475d125a33c6190718e75adc1b704",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names.LabelValue(tt.in); got != tt.wantLabel {
				t.Errorf("names.LabelValue(%q) = %q, want %q", tt.in, got, tt.wantLabel)
			}
			if got := names.Subdomain(tt.in); got != tt.wantName {
				t.Errorf("names.Subdomain(%q) = %q, want %q", tt.in, got, tt.wantName)
			}
		})
	}
	if got := len(names.LabelValue(long)); got != 63 {
		t.Errorf("long label value has %d characters, want 63", got)
	}
	if got := len(names.Subdomain(long)); got != 253 {
		t.Errorf("long name has %d characters, want 253", got)
	}
}

// TestExamples decodes every QuarksJob of the upstream examples strictly, so a field unknown to the API
// types fails, and checks that defaulting and validation accept them.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no examples in %s", examplesDir)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			found := 0
			for _, doc := range yamlDocuments(t, file) {
				var tm metav1.TypeMeta
				if err := yaml.Unmarshal(doc, &tm); err != nil {
					t.Fatalf("reading kind: %v", err)
				}
				if tm.Kind != "QuarksJob" {
					continue
				}
				found++
				if tm.APIVersion != quarksv1alpha1.GroupVersion.String() {
					t.Errorf("apiVersion = %q", tm.APIVersion)
				}
				js, err := yaml.YAMLToJSON(doc)
				if err != nil {
					t.Fatalf("converting to JSON: %v", err)
				}
				qj := &quarksv1alpha1.QuarksJob{}
				strictErrs, err := sigsjson.UnmarshalStrict(js, qj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
				if err != nil {
					t.Fatalf("decoding: %v", err)
				}
				if len(strictErrs) > 0 {
					t.Fatalf("fields unknown to the QuarksJob type: %v", strictErrs)
				}
				defaultQuarksJob(qj)
				warnings, err := validateQuarksJob(qj)
				if err != nil {
					t.Errorf("validation: %v", err)
				}
				if qj.Spec.Template.BackoffLimit != nil && !slices.Contains(warnings, legacyBackoffLimitWarning) {
					t.Errorf("warnings %q lack the legacy backoffLimit warning", warnings)
				}
			}
			if found == 0 {
				t.Errorf("no QuarksJob in %s", file)
			}
		})
	}
}

func yamlDocuments(t *testing.T, file string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("splitting %s: %v", file, err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}
