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

package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// listNow is the clock of the list tests; every object was created an hour earlier.
var listNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// listMeta is the metadata of a listed object.
func listMeta(ns, name string, generation int64, lbls map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Generation: generation, Labels: lbls,
		CreationTimestamp: metav1.NewTime(listNow.Add(-time.Hour))}
}

// ready is a Ready condition for generation.
func ready(status metav1.ConditionStatus, reason string, generation int64) []metav1.Condition {
	return []metav1.Condition{{Type: "Ready", Status: status, Reason: reason, ObservedGeneration: generation}}
}

// listFixture is a cluster with objects of every kind in two namespaces.
func listFixture(t *testing.T) client.Reader {
	t.Helper()
	team := map[string]string{"team": "payments"}
	qj := &quarksv1alpha1.QuarksJob{ObjectMeta: listMeta("a", "errand", 1, team)}
	qj.Status.Conditions = ready(metav1.ConditionTrue, "Idle", 1)
	rjB := &batchv1alpha1.ReactiveJob{ObjectMeta: listMeta("b", "migrate", 3, nil)}
	rjB.Status.Conditions = ready(metav1.ConditionFalse, "Error", 2)
	rjA := &batchv1alpha1.ReactiveJob{ObjectMeta: listMeta("a", "migrate", 1, team)}
	rjA.Status.Conditions = ready(metav1.ConditionUnknown, "Processing", 1)
	nj := &batchv1alpha1.NodeJob{ObjectMeta: listMeta("a", "disk-check", 1, nil)}
	run := &batchv1alpha1.NodeJobRun{ObjectMeta: listMeta("a", "disk-check-1", 1, nil)}
	return fake.NewClientBuilder().WithScheme(NewScheme()).WithObjects(qj, rjB, rjA, nj, run).Build()
}

// refs returns the namespace/kind/name of the listed objects.
func refs(objs []listedObject) []string {
	var out []string
	for _, l := range objs {
		out = append(out, l.obj.GetNamespace()+" "+l.kind.ref(l.obj.GetName()))
	}
	return out
}

func TestParseKinds(t *testing.T) {
	got, err := parseKinds("qjob,rjob,quarksjobs,njrun")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range got {
		names = append(names, k.singular)
	}
	if diff := cmp.Diff([]string{"quarksjob", "reactivejob", "nodejobrun"}, names); diff != "" {
		t.Errorf("parseKinds (-want +got):\n%s", diff)
	}
	for _, in := range []string{"", "qjob,", "qjob,jobs"} {
		if _, err := parseKinds(in); err == nil {
			t.Errorf("parseKinds(%q) succeeded, want an error", in)
		}
	}
}

func TestListObjects(t *testing.T) {
	c := listFixture(t)
	tests := []struct {
		name     string
		kinds    []kind
		ns       string
		selector string
		want     []string
	}{
		{"one namespace, the three kinds", listKinds, "a", "", []string{
			"a quarksjob.quarks.cloudfoundry.org/errand",
			"a reactivejob.batch.cs.sap.com/migrate",
			"a nodejob.batch.cs.sap.com/disk-check",
		}},
		{"all namespaces, by kind, namespace and name", listKinds, "", "", []string{
			"a quarksjob.quarks.cloudfoundry.org/errand",
			"a reactivejob.batch.cs.sap.com/migrate",
			"b reactivejob.batch.cs.sap.com/migrate",
			"a nodejob.batch.cs.sap.com/disk-check",
		}},
		{"label selector", listKinds, "", "team=payments", []string{
			"a quarksjob.quarks.cloudfoundry.org/errand",
			"a reactivejob.batch.cs.sap.com/migrate",
		}},
		{"selector that matches nothing", listKinds, "", "team notin (payments),team", nil},
		{"NodeJobRuns when asked for", []kind{kindNodeJobRun}, "a", "", []string{
			"a nodejobrun.batch.cs.sap.com/disk-check-1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := labels.Parse(tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := listObjects(context.Background(), c, tt.kinds, tt.ns, sel)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, refs(objs)); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}
}

// listOutput prints the objects of all namespaces (ns "") or of ns in the output format.
func listOutput(t *testing.T, output, ns string) (string, string) {
	t.Helper()
	objs, err := listObjects(context.Background(), listFixture(t), listKinds, ns, labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := printListOutput(genericiooptions.IOStreams{Out: &out, ErrOut: &errOut}, output, objs, ns,
		listNow); err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String()
}

func TestPrintList(t *testing.T) {
	got, _ := listOutput(t, "", "")
	want := `NAMESPACE   NAME                                        READY     REASON                AGE
a           quarksjob.quarks.cloudfoundry.org/errand    True      Idle                  60m
a           reactivejob.batch.cs.sap.com/migrate        Unknown   Processing            60m
b           reactivejob.batch.cs.sap.com/migrate        False     Error (outdated)      60m
a           nodejob.batch.cs.sap.com/disk-check         -         -                     60m
`
	if diff := cmp.Diff(squeeze(want), squeeze(got)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}

	got, _ = listOutput(t, "", "a")
	if strings.Contains(got, "NAMESPACE") || !strings.HasPrefix(got, "NAME") {
		t.Errorf("a table of one namespace has no NAMESPACE column:\n%s", got)
	}

	got, errOut := listOutput(t, "", "empty")
	if got != "" || errOut != "No resources found in empty namespace.\n" {
		t.Errorf("an empty namespace printed %q and %q", got, errOut)
	}
}

func TestPrintListFormats(t *testing.T) {
	got, _ := listOutput(t, outputName, "a")
	want := "quarksjob.quarks.cloudfoundry.org/errand\nreactivejob.batch.cs.sap.com/migrate\nnodejob.batch.cs.sap.com/disk-check\n"
	if got != want {
		t.Errorf("-o name:\n%s\nwant:\n%s", got, want)
	}

	for _, format := range []string{outputJSON, outputYAML} {
		got, _ := listOutput(t, format, "")
		data := []byte(got)
		if format == outputYAML {
			var err error
			if data, err = yaml.YAMLToJSON(data); err != nil {
				t.Fatal(err)
			}
		}
		var list struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Items      []struct {
				APIVersion string            `json:"apiVersion"`
				Kind       string            `json:"kind"`
				Metadata   metav1.ObjectMeta `json:"metadata"`
			} `json:"items"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatalf("-o %s: %v\n%s", format, err, got)
		}
		if list.APIVersion != "v1" || list.Kind != "List" || len(list.Items) != 4 {
			t.Fatalf("-o %s: %s %s with %d items, want a v1 List of 4", format, list.APIVersion, list.Kind,
				len(list.Items))
		}
		// Every item says what it is, so that the list can be applied or read back.
		first := list.Items[0]
		if first.APIVersion != "quarks.cloudfoundry.org/v1alpha1" || first.Kind != "QuarksJob" ||
			first.Metadata.Name != "errand" {
			t.Errorf("-o %s: first item %s %s %s, want the QuarksJob errand", format, first.APIVersion, first.Kind,
				first.Metadata.Name)
		}
	}
}

func TestPrintListJSONPath(t *testing.T) {
	got, _ := listOutput(t, `jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{"\n"}{end}`, "")
	want := "QuarksJob/a/errand\nReactiveJob/a/migrate\nReactiveJob/b/migrate\nNodeJob/a/disk-check\n"
	if got != want {
		t.Errorf("-o jsonpath printed:\n%s\nwant:\n%s", got, want)
	}
	// Missing keys print nothing, as kubectl's default --allow-missing-template-keys does.
	got, _ = listOutput(t, "jsonpath={.items[0].status.nothing}", "a")
	if got != "" {
		t.Errorf("-o jsonpath of a missing key printed %q", got)
	}
	if _, err := jsonPathPrinter("jsonpath={.items[}"); err == nil {
		t.Error("an invalid template was accepted")
	}
}

// runCommand runs the plugin with args and returns what it printed.
func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		clocktesting.NewFakeClock(listNow))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String() + errOut.String(), err
}

func TestVersion(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "v1.2.3"

	got, err := runCommand(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if want := "kubectl-jobkeeper v1.2.3 (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH +
		")\n"; got != want {
		t.Errorf("version printed %q, want %q", got, want)
	}

	got, err = runCommand(t, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(got), &v); err != nil || v.Version != "v1.2.3" || v.Platform == "" {
		t.Errorf("version -o json printed %q (%v)", got, err)
	}

	if got, err = runCommand(t, "--version"); err != nil || got != "kubectl-jobkeeper v1.2.3\n" {
		t.Errorf("--version printed %q (%v)", got, err)
	}
}

func TestListRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"list", "-o", "wide"},
		{"list", "-o", "jsonpath={.items[}"},
		{"list", "jobs"},
		{"list", "-l", "a=("},
	} {
		if _, err := runCommand(t, args...); err == nil {
			t.Errorf("%v succeeded, want an error", args)
		}
	}
}

func TestCompleteKinds(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "why", ""}, "qjob\nrjob\nnjob\nnjrun\n:4\n"},
		{[]string{"__complete", "runs", "n"}, "njob\n:4\n"},
		{[]string{"__complete", "run", ""}, "qjob\n:4\n"},
		{[]string{"__complete", "rerun", "q"}, ":4\n"},
		{[]string{"__complete", "list", "qjob,n"}, "qjob,njob\nqjob,njrun\n:6\n"},
	} {
		got, err := runCommand(t, tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		// cobra adds a line for people after the directive.
		got, _, _ = strings.Cut(got, "Completion ended")
		if got != tt.want {
			t.Errorf("%v completed %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestNamesOf(t *testing.T) {
	c := listFixture(t)
	if diff := cmp.Diff([]string{"migrate"}, namesOf(context.Background(), c, kindReactiveJob, "b", "mi")); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if got := namesOf(context.Background(), c, kindQuarksJob, "a", "x"); len(got) != 0 {
		t.Errorf("names with prefix x: %v", got)
	}
}
