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
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// fieldErr is the part of a field.Error the tests compare: its type and its path.
type fieldErr struct {
	Type  field.ErrorType
	Field string
}

// summarize reduces errs to their types and paths, and checks that each detail mentions want, if given.
func summarize(t *testing.T, errs field.ErrorList, detailWant string) []fieldErr {
	t.Helper()
	var out []fieldErr
	for _, e := range errs {
		out = append(out, fieldErr{Type: e.Type, Field: e.Field})
		if detailWant != "" && !strings.Contains(e.Error(), detailWant) {
			t.Errorf("error %q does not mention %q", e.Error(), detailWant)
		}
	}
	return out
}

func invalid(path string) fieldErr { return fieldErr{Type: field.ErrorTypeInvalid, Field: path} }

// nodeJob returns a valid NodeJob with the given changes applied.
func nodeJob(changes ...func(*batchv1alpha1.NodeJob)) *batchv1alpha1.NodeJob {
	nj := &batchv1alpha1.NodeJob{
		ObjectMeta: metav1.ObjectMeta{Name: "check-disks", Namespace: "default"},
		Spec: batchv1alpha1.NodeJobSpec{
			Schedule: "*/5 * * * *",
			NodeJobRunTemplate: batchv1alpha1.NodeJobRunTemplate{
				Template: corev1.PodTemplateSpec{
					Spec: corev1.PodSpec{
						Containers: []corev1.Container{{
							Name:  "check",
							Image: "busybox",
							Env:   []corev1.EnvVar{{Name: "LEVEL", Value: "debug"}},
						}},
					},
				},
				Metrics: batchv1alpha1.NodeJobMetrics{
					Gauges: map[string]batchv1alpha1.NodeJobGauge{
						"free_bytes": {Help: "Free bytes per disk.", Labels: []string{"disk", "node"}},
					},
				},
			},
		},
	}
	for _, change := range changes {
		change(nj)
	}
	return nj
}

func TestNodeJobValidateSchedule(t *testing.T) {
	path := field.NewPath("spec", "schedule")
	cases := []struct {
		schedule   string
		want       []fieldErr
		detailWant string
	}{
		{schedule: ""},
		{schedule: "0 * * * *"},
		{schedule: "*/15 2-4 1,15 * MON-FRI"},
		{schedule: "@yearly"},
		{schedule: "@annually"},
		{schedule: "@monthly"},
		{schedule: "@weekly"},
		{schedule: "@daily"},
		{schedule: "@midnight"},
		{schedule: "@hourly"},
		{schedule: "@every 90m"},
		{schedule: "61 * * * *", want: []fieldErr{invalid("spec.schedule")}, detailWant: "unparsable"},
		{schedule: "every day", want: []fieldErr{invalid("spec.schedule")}, detailWant: "unparsable"},
		{schedule: "0 0 * * * *", want: []fieldErr{invalid("spec.schedule")}, detailWant: "unparsable"},
		{schedule: "@reboot", want: []fieldErr{invalid("spec.schedule")}, detailWant: "unparsable"},
		{schedule: "@every", want: []fieldErr{invalid("spec.schedule")}, detailWant: "unparsable"},
		{schedule: "@every soon", want: []fieldErr{invalid("spec.schedule")}, detailWant: "unparsable"},
		{schedule: "@every 0s", want: []fieldErr{invalid("spec.schedule")}, detailWant: "positive"},
		{schedule: "@every -1h", want: []fieldErr{invalid("spec.schedule")}, detailWant: "positive"},
		{schedule: "TZ=UTC 0 * * * *", want: []fieldErr{invalid("spec.schedule")}, detailWant: "use spec.timeZone instead"},
		{schedule: "CRON_TZ=Europe/Berlin 0 * * * *", want: []fieldErr{invalid("spec.schedule")}, detailWant: "use spec.timeZone instead"},
		{schedule: "TZ=UTC", want: []fieldErr{invalid("spec.schedule")}, detailWant: "use spec.timeZone instead"},
	}
	for _, tc := range cases {
		t.Run(tc.schedule, func(t *testing.T) {
			got := summarize(t, validateSchedule(path, tc.schedule), tc.detailWant)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("validateSchedule(%q) mismatch (-want +got):\n%s", tc.schedule, diff)
			}
		})
	}
}

func FuzzNodeJobSchedule(f *testing.F) {
	for _, s := range []string{"0 * * * *", "@every 1m", "TZ=UTC", "*/0 * * * *", "1-0 * * * *", "@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, schedule string) {
		// Any input gives at most one error and never panics.
		if errs := validateSchedule(field.NewPath("spec", "schedule"), schedule); len(errs) > 1 {
			t.Errorf("validateSchedule(%q) gave %d errors", schedule, len(errs))
		}
	})
}

func TestNodeJobValidateTimeZone(t *testing.T) {
	path := field.NewPath("spec", "timeZone")
	cases := []struct {
		name string
		tz   *string
		want []fieldErr
	}{
		{name: "unset"},
		{name: "UTC", tz: new("UTC")},
		{name: "Europe/Berlin", tz: new("Europe/Berlin")},
		{name: "America/Argentina/Buenos_Aires", tz: new("America/Argentina/Buenos_Aires")},
		{name: "unknown", tz: new("Mars/Base"), want: []fieldErr{invalid("spec.timeZone")}},
		{name: "empty", tz: new(""), want: []fieldErr{invalid("spec.timeZone")}},
		{name: "Local", tz: new("Local"), want: []fieldErr{invalid("spec.timeZone")}},
		{name: "path", tz: new("../../etc/passwd"), want: []fieldErr{invalid("spec.timeZone")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(t, validateTimeZone(path, tc.tz), "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("validateTimeZone mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeJobValidateParallelism(t *testing.T) {
	path := field.NewPath("spec", "parallelism")
	cases := []struct {
		name string
		p    *intstr.IntOrString
		want []fieldErr
	}{
		{name: "unset"},
		{name: "1", p: new(intstr.FromInt32(1))},
		{name: "500", p: new(intstr.FromInt32(500))},
		{name: "1%", p: new(intstr.FromString("1%"))},
		{name: "50%", p: new(intstr.FromString("50%"))},
		{name: "100%", p: new(intstr.FromString("100%"))},
		{name: "0", p: new(intstr.FromInt32(0)), want: []fieldErr{invalid("spec.parallelism")}},
		{name: "-1", p: new(intstr.FromInt32(-1)), want: []fieldErr{invalid("spec.parallelism")}},
		{name: "0%", p: new(intstr.FromString("0%")), want: []fieldErr{invalid("spec.parallelism")}},
		{name: "05%", p: new(intstr.FromString("05%")), want: []fieldErr{invalid("spec.parallelism")}},
		{name: "150%", p: new(intstr.FromString("150%")), want: []fieldErr{invalid("spec.parallelism")}},
		{name: "abc", p: new(intstr.FromString("abc")), want: []fieldErr{invalid("spec.parallelism")}},
		{name: "numeric string", p: new(intstr.FromString("5")), want: []fieldErr{invalid("spec.parallelism")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(t, validateParallelism(path, tc.p), "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("validateParallelism mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeJobValidatePodSpec(t *testing.T) {
	path := field.NewPath("spec", "template", "spec")
	cases := []struct {
		name       string
		spec       corev1.PodSpec
		want       []fieldErr
		detailWant string
	}{
		{name: "plain", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}},
		{name: "restart Never", spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever}},
		{name: "restart OnFailure", spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure}},
		{
			name: "restart Always",
			spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways},
			want: []fieldErr{{Type: field.ErrorTypeNotSupported, Field: "spec.template.spec.restartPolicy"}},
		},
		{
			name: "reserved env in containers and init containers",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Env: []corev1.EnvVar{
					{Name: "OK"}, {Name: "CALLBACK_SERVICE_FILE_URL"},
				}}},
				Containers: []corev1.Container{
					{Name: "a", Env: []corev1.EnvVar{{Name: "A"}}},
					{Name: "b", Env: []corev1.EnvVar{{Name: "NODE_NAME"}, {Name: "B"}, {Name: "EXECUTION_ID"}}},
				},
			},
			want: []fieldErr{
				invalid("spec.template.spec.initContainers[0].env[1].name"),
				invalid("spec.template.spec.containers[1].env[0].name"),
				invalid("spec.template.spec.containers[1].env[2].name"),
			},
			detailWant: "reserved",
		},
		{
			name: "every reserved name",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Env: func() []corev1.EnvVar {
				var env []corev1.EnvVar
				for _, name := range batchv1alpha1.NodeJobReservedEnvNames {
					env = append(env, corev1.EnvVar{Name: name})
				}
				return env
			}()}}},
			want: func() []fieldErr {
				var want []fieldErr
				for j := range batchv1alpha1.NodeJobReservedEnvNames {
					want = append(want, invalid(path.Child("containers").Index(0).Child("env").Index(j).Child("name").String()))
				}
				return want
			}(),
			detailWant: "reserved",
		},
		{
			name:       "results volume",
			spec:       corev1.PodSpec{Volumes: []corev1.Volume{{Name: "data"}, {Name: "jobkeeper-results"}}},
			want:       []fieldErr{invalid("spec.template.spec.volumes[1].name")},
			detailWant: "reserved",
		},
		{
			name: "results mount path",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", VolumeMounts: []corev1.VolumeMount{
				{Name: "data", MountPath: "/data"}, {Name: "data", MountPath: "/var/run/secrets/jobkeeper/results/"},
			}}}},
			want:       []fieldErr{invalid("spec.template.spec.containers[0].volumeMounts[1].mountPath")},
			detailWant: "reserved",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(t, validateNodeJobPodSpec(path, &tc.spec), tc.detailWant)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("validateNodeJobPodSpec mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeJobValidatePodDeadline(t *testing.T) {
	path := field.NewPath("spec")
	required := []fieldErr{{Type: field.ErrorTypeRequired, Field: "spec.podActiveDeadlineSeconds"}}
	cases := []struct {
		name         string
		policy       corev1.RestartPolicy
		podDeadline  *int64
		specDeadline *int64
		want         []fieldErr
	}{
		{name: "Never without deadline", policy: corev1.RestartPolicyNever},
		{name: "unset without deadline"},
		{name: "OnFailure without deadline", policy: corev1.RestartPolicyOnFailure, want: required},
		{name: "OnFailure with podActiveDeadlineSeconds", policy: corev1.RestartPolicyOnFailure, podDeadline: ptr.To[int64](600)},
		{name: "OnFailure with template deadline", policy: corev1.RestartPolicyOnFailure, specDeadline: ptr.To[int64](600)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt := &batchv1alpha1.NodeJobRunTemplate{
				PodActiveDeadlineSeconds: tc.podDeadline,
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy:         tc.policy,
					ActiveDeadlineSeconds: tc.specDeadline,
				}},
			}
			got := summarize(t, validatePodDeadline(path, rt), "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("validatePodDeadline mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeJobValidateMetrics(t *testing.T) {
	path := field.NewPath("spec", "metrics")
	gauges := func(suffix string, labels ...string) map[string]batchv1alpha1.NodeJobGauge {
		return map[string]batchv1alpha1.NodeJobGauge{suffix: {Help: "help", Labels: labels}}
	}
	cases := []struct {
		name    string
		metrics batchv1alpha1.NodeJobMetrics
		want    []fieldErr
	}{
		{name: "empty"},
		{name: "default prefix", metrics: batchv1alpha1.NodeJobMetrics{Prefix: "nodejob"}},
		{name: "prefix with colon", metrics: batchv1alpha1.NodeJobMetrics{Prefix: "team:disk_check"}},
		{name: "bad prefix", metrics: batchv1alpha1.NodeJobMetrics{Prefix: "1abc"}, want: []fieldErr{invalid("spec.metrics.prefix")}},
		{name: "prefix jobkeeper", metrics: batchv1alpha1.NodeJobMetrics{Prefix: "jobkeeper_x"}, want: []fieldErr{invalid("spec.metrics.prefix")}},
		{name: "prefix go_", metrics: batchv1alpha1.NodeJobMetrics{Prefix: "go_stuff"}, want: []fieldErr{invalid("spec.metrics.prefix")}},
		{name: "prefix leader_election", metrics: batchv1alpha1.NodeJobMetrics{Prefix: "leader_election"}, want: []fieldErr{invalid("spec.metrics.prefix")}},
		{name: "prefix process_", metrics: batchv1alpha1.NodeJobMetrics{Prefix: "process_x"}, want: []fieldErr{invalid("spec.metrics.prefix")}},
		{name: "prefix goat is fine", metrics: batchv1alpha1.NodeJobMetrics{Prefix: "goat"}},
		{name: "implicit labels may be listed", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("test", "label_a", "node", "executionID")}},
		{name: "suffix processing", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("processing")}, want: []fieldErr{invalid("spec.metrics.gauges[processing]")}},
		{name: "suffix duration", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("duration")}, want: []fieldErr{invalid("spec.metrics.gauges[duration]")}},
		{name: "suffix pods", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("pods")}, want: []fieldErr{invalid("spec.metrics.gauges[pods]")}},
		{name: "suffix current_execution_id", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("current_execution_id")}, want: []fieldErr{invalid("spec.metrics.gauges[current_execution_id]")}},
		{name: "suffix with space", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("bad name")}, want: []fieldErr{invalid("spec.metrics.gauges[bad name]")}},
		{name: "suffix with colon", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("a:b")}, want: []fieldErr{invalid("spec.metrics.gauges[a:b]")}},
		{name: "label namespace", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("t", "ok", "namespace")}, want: []fieldErr{invalid("spec.metrics.gauges[t].labels[1]")}},
		{name: "label nodejob", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("t", "nodejob")}, want: []fieldErr{invalid("spec.metrics.gauges[t].labels[0]")}},
		{name: "label __x", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("t", "__x")}, want: []fieldErr{invalid("spec.metrics.gauges[t].labels[0]")}},
		{name: "label a-b", metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("t", "a-b")}, want: []fieldErr{invalid("spec.metrics.gauges[t].labels[0]")}},
		{
			name:    "duplicate label",
			metrics: batchv1alpha1.NodeJobMetrics{Gauges: gauges("t", "a", "b", "a")},
			want:    []fieldErr{{Type: field.ErrorTypeDuplicate, Field: "spec.metrics.gauges[t].labels[2]"}},
		},
		{
			name:    "missing help",
			metrics: batchv1alpha1.NodeJobMetrics{Gauges: map[string]batchv1alpha1.NodeJobGauge{"t": {}}},
			want:    []fieldErr{{Type: field.ErrorTypeRequired, Field: "spec.metrics.gauges[t].help"}},
		},
		{
			name:    "help too long",
			metrics: batchv1alpha1.NodeJobMetrics{Gauges: map[string]batchv1alpha1.NodeJobGauge{"t": {Help: strings.Repeat("h", 1025)}}},
			want:    []fieldErr{{Type: field.ErrorTypeTooLong, Field: "spec.metrics.gauges[t].help"}},
		},
		{
			name: "errors in suffix order",
			metrics: batchv1alpha1.NodeJobMetrics{Gauges: map[string]batchv1alpha1.NodeJobGauge{
				"pods": {Help: "h"}, "duration": {Help: "h"}, "ok": {Help: "h"}, "processing": {Help: "h"},
			}},
			want: []fieldErr{
				invalid("spec.metrics.gauges[duration]"),
				invalid("spec.metrics.gauges[pods]"),
				invalid("spec.metrics.gauges[processing]"),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(t, validateMetrics(path, &tc.metrics), "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("validateMetrics mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeJobValidateResultLimits(t *testing.T) {
	path := field.NewPath("spec", "resultLimits")
	q := func(s string) *resource.Quantity { return new(resource.MustParse(s)) }
	cases := []struct {
		name   string
		limits batchv1alpha1.NodeJobResultLimits
		want   []fieldErr
	}{
		{name: "unset"},
		{name: "at the bounds", limits: batchv1alpha1.NodeJobResultLimits{
			MaxResultSize: q("8Mi"), MaxFileSize: q("1Gi"), MaxRunStorage: q("100Gi"), MaxLogSize: q("1"),
			MaxFilesPerNode: ptr.To[int32](1000), MaxEventsPerNode: ptr.To[int32](1), MaxSeriesPerNode: ptr.To[int32](10000),
		}},
		{name: "result too large", limits: batchv1alpha1.NodeJobResultLimits{MaxResultSize: q("9Mi")}, want: []fieldErr{invalid("spec.resultLimits.maxResultSize")}},
		{name: "file too large", limits: batchv1alpha1.NodeJobResultLimits{MaxFileSize: q("2Gi")}, want: []fieldErr{invalid("spec.resultLimits.maxFileSize")}},
		{name: "zero storage", limits: batchv1alpha1.NodeJobResultLimits{MaxRunStorage: q("0")}, want: []fieldErr{invalid("spec.resultLimits.maxRunStorage")}},
		{name: "negative log size", limits: batchv1alpha1.NodeJobResultLimits{MaxLogSize: q("-1Mi")}, want: []fieldErr{invalid("spec.resultLimits.maxLogSize")}},
		{name: "zero files", limits: batchv1alpha1.NodeJobResultLimits{MaxFilesPerNode: ptr.To[int32](0)}, want: []fieldErr{invalid("spec.resultLimits.maxFilesPerNode")}},
		{name: "too many events", limits: batchv1alpha1.NodeJobResultLimits{MaxEventsPerNode: ptr.To[int32](1001)}, want: []fieldErr{invalid("spec.resultLimits.maxEventsPerNode")}},
		{name: "too many series", limits: batchv1alpha1.NodeJobResultLimits{MaxSeriesPerNode: ptr.To[int32](10001)}, want: []fieldErr{invalid("spec.resultLimits.maxSeriesPerNode")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(t, validateResultLimits(path, &tc.limits), "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("validateResultLimits mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeJobValidateName(t *testing.T) {
	path := field.NewPath("metadata", "name")
	if errs := validateNodeJobName(path, strings.Repeat("a", 52)); len(errs) != 0 {
		t.Errorf("52 characters: unexpected errors %v", errs)
	}
	got := summarize(t, validateNodeJobName(path, strings.Repeat("a", 53)), "Too long: may not be more than 52 characters")
	want := []fieldErr{{Type: field.ErrorTypeTooLong, Field: "metadata.name"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("53 characters mismatch (-want +got):\n%s", diff)
	}
}

func TestNodeJobDefault(t *testing.T) {
	nj := nodeJob()
	if err := (&NodeJobCustomDefaulter{}).Default(context.Background(), nj); err != nil {
		t.Fatalf("Default: %v", err)
	}
	want := nodeJob(func(nj *batchv1alpha1.NodeJob) {
		s := &nj.Spec
		s.ConcurrencyPolicy = batchv1alpha1.ForbidConcurrent
		s.SuccessfulRunsHistoryLimit = ptr.To[int32](3)
		s.FailedRunsHistoryLimit = ptr.To[int32](1)
		s.Parallelism = new(intstr.FromInt32(10))
		s.FailurePolicy = batchv1alpha1.NodeJobFailurePolicyContinue
		s.Metrics.Prefix = "nodejob"
		s.ResultLimits = batchv1alpha1.NodeJobResultLimits{
			MaxResultSize:    new(resource.MustParse("1Mi")),
			MaxFileSize:      new(resource.MustParse("10Mi")),
			MaxFilesPerNode:  ptr.To[int32](20),
			MaxRunStorage:    new(resource.MustParse("1Gi")),
			MaxEventsPerNode: ptr.To[int32](50),
			MaxLogSize:       new(resource.MustParse("10Mi")),
			MaxSeriesPerNode: ptr.To[int32](1000),
		}
	})
	if diff := cmp.Diff(want, nj); diff != "" {
		t.Errorf("Default mismatch (-want +got):\n%s", diff)
	}

	// Values that are set stay as they are.
	set := nodeJob(func(nj *batchv1alpha1.NodeJob) {
		nj.Spec.ConcurrencyPolicy = batchv1alpha1.AllowConcurrent
		nj.Spec.Parallelism = new(intstr.FromString("25%"))
		nj.Spec.FailurePolicy = batchv1alpha1.NodeJobFailurePolicyPause
		nj.Spec.Metrics.Prefix = "disks"
		nj.Spec.SuccessfulRunsHistoryLimit = ptr.To[int32](7)
		nj.Spec.ResultLimits.MaxFileSize = new(resource.MustParse("1Gi"))
	})
	got := set.DeepCopy()
	if err := (&NodeJobCustomDefaulter{}).Default(context.Background(), got); err != nil {
		t.Fatalf("Default: %v", err)
	}
	for _, c := range []struct{ name, want, got string }{
		{"concurrencyPolicy", string(set.Spec.ConcurrencyPolicy), string(got.Spec.ConcurrencyPolicy)},
		{"parallelism", set.Spec.Parallelism.String(), got.Spec.Parallelism.String()},
		{"failurePolicy", string(set.Spec.FailurePolicy), string(got.Spec.FailurePolicy)},
		{"metrics.prefix", set.Spec.Metrics.Prefix, got.Spec.Metrics.Prefix},
		{"resultLimits.maxFileSize", set.Spec.ResultLimits.MaxFileSize.String(), got.Spec.ResultLimits.MaxFileSize.String()},
	} {
		if c.want != c.got {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if *got.Spec.SuccessfulRunsHistoryLimit != 7 {
		t.Errorf("successfulRunsHistoryLimit: got %d, want 7", *got.Spec.SuccessfulRunsHistoryLimit)
	}
}

func TestNodeJobValidateCreate(t *testing.T) {
	v := &NodeJobCustomValidator{}
	ctx := context.Background()

	valid := nodeJob()
	if err := (&NodeJobCustomDefaulter{}).Default(ctx, valid); err != nil {
		t.Fatalf("Default: %v", err)
	}
	if _, err := v.ValidateCreate(ctx, valid); err != nil {
		t.Errorf("valid NodeJob rejected: %v", err)
	}
	if _, err := v.ValidateCreate(ctx, nodeJob()); err != nil {
		t.Errorf("valid NodeJob without defaults rejected: %v", err)
	}

	bad := nodeJob(func(nj *batchv1alpha1.NodeJob) {
		nj.Name = strings.Repeat("n", 53)
		nj.Spec.Schedule = "61 * * * *"
		nj.Spec.TimeZone = new("Local")
		nj.Spec.Parallelism = new(intstr.FromString("150%"))
		nj.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		nj.Spec.Template.Spec.Containers[0].Env = append(nj.Spec.Template.Spec.Containers[0].Env,
			corev1.EnvVar{Name: "NAMESPACE"})
		nj.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "jobkeeper-results"}}
		nj.Spec.Metrics.Prefix = "workqueue_x"
		nj.Spec.Metrics.Gauges["pods"] = batchv1alpha1.NodeJobGauge{Help: "h", Labels: []string{"nodejob"}}
		nj.Spec.ResultLimits.MaxResultSize = new(resource.MustParse("16Mi"))
	})
	_, err := v.ValidateCreate(ctx, bad)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error, got %v", err)
	}
	status := err.(apierrors.APIStatus).Status()
	if status.Details == nil || status.Details.Group != "batch.cs.sap.com" || status.Details.Kind != "NodeJob" ||
		status.Details.Name != bad.Name {
		t.Errorf("unexpected details %+v", status.Details)
	}
	var got []string
	for _, c := range status.Details.Causes {
		got = append(got, c.Field)
	}
	want := []string{
		"metadata.name",
		"spec.schedule",
		"spec.timeZone",
		"spec.parallelism",
		"spec.template.spec.restartPolicy",
		"spec.template.spec.containers[0].env[1].name",
		"spec.template.spec.volumes[0].name",
		"spec.metrics.prefix",
		"spec.metrics.gauges[pods]",
		"spec.metrics.gauges[pods].labels[0]",
		"spec.resultLimits.maxResultSize",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error fields mismatch (-want +got):\n%s", diff)
	}
}

func TestNodeJobValidateUpdate(t *testing.T) {
	v := &NodeJobCustomValidator{}
	ctx := context.Background()
	// An object admitted before a rule existed: its spec would be rejected now.
	legacy := nodeJob(func(nj *batchv1alpha1.NodeJob) { nj.Spec.Schedule = "every day" })

	cases := []struct {
		name    string
		oldNJ   *batchv1alpha1.NodeJob
		newNJ   *batchv1alpha1.NodeJob
		wantErr bool
	}{
		{
			name:  "metadata change of an invalid object is not validated",
			oldNJ: legacy,
			newNJ: nodeJob(func(nj *batchv1alpha1.NodeJob) {
				nj.Spec.Schedule = "every day"
				nj.Annotations = map[string]string{batchv1alpha1.NodeJobRunRequestAnnotation: "now"}
			}),
		},
		{
			name:  "deleting object is not validated",
			oldNJ: legacy,
			newNJ: nodeJob(func(nj *batchv1alpha1.NodeJob) {
				nj.Spec.Schedule = "still every day"
				nj.DeletionTimestamp = new(metav1.Now())
			}),
		},
		{
			name:    "changed spec is validated",
			oldNJ:   nodeJob(),
			newNJ:   nodeJob(func(nj *batchv1alpha1.NodeJob) { nj.Spec.Schedule = "61 * * * *" }),
			wantErr: true,
		},
		{
			name:  "changed valid spec",
			oldNJ: nodeJob(),
			newNJ: nodeJob(func(nj *batchv1alpha1.NodeJob) { nj.Spec.Suspend = true }),
		},
		{
			name:  "fixing an invalid spec",
			oldNJ: legacy,
			newNJ: nodeJob(),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.ValidateUpdate(ctx, tc.oldNJ, tc.newNJ)
			if (err != nil) != tc.wantErr {
				t.Errorf("ValidateUpdate error = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !apierrors.IsInvalid(err) {
				t.Errorf("want an Invalid error, got %v", err)
			}
		})
	}
}
