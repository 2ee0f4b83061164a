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
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

func TestResolveKind(t *testing.T) {
	tests := []struct {
		in   string
		want kind
	}{
		{"qjob", kindQuarksJob},
		{"QJOBS", kindQuarksJob},
		{"QuarksJob", kindQuarksJob},
		{"quarksjobs.quarks.cloudfoundry.org", kindQuarksJob},
		{"qjob.v1alpha1.quarks.cloudfoundry.org", kindQuarksJob},
		{"rjob", kindReactiveJob},
		{"reactivejob", kindReactiveJob},
		{"reactivejobs.batch.cs.sap.com", kindReactiveJob},
		{"njob", kindNodeJob},
		{"njobs", kindNodeJob},
		{"rjobs", kindReactiveJob},
		{"NodeJobs", kindNodeJob},
		{"njrun", kindNodeJobRun},
		{"nodejobrun.batch.cs.sap.com", kindNodeJobRun},
	}
	for _, tt := range tests {
		got, err := resolveKind(tt.in)
		if err != nil {
			t.Errorf("resolveKind(%q): %v", tt.in, err)
			continue
		}
		if got.gvk != tt.want.gvk {
			t.Errorf("resolveKind(%q) = %s, want %s", tt.in, got.gvk, tt.want.gvk)
		}
	}
	for _, in := range []string{"", "job", "qjob.batch.cs.sap.com", "njobz", "rjob.v1.batch.cs.sap.com"} {
		if _, err := resolveKind(in); err == nil {
			t.Errorf("resolveKind(%q) succeeded, want an error", in)
		}
	}
}

// TestKindsMatchCRDs keeps the kind table in line with the generated CRDs.
func TestKindsMatchCRDs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(utils.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs found: %v", err)
	}
	seen := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, k := range allKinds {
			if k.gvk.Group != crd.Spec.Group || k.gvk.Kind != crd.Spec.Names.Kind {
				continue
			}
			seen++
			got := []string{k.plural, k.singular, strings.Join(k.shortNames, ",")}
			n := crd.Spec.Names
			want := []string{n.Plural, n.Singular, strings.Join(n.ShortNames, ",")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s names differ from %s (-crd +table):\n%s", k.gvk.Kind, f, diff)
			}
			served := false
			for _, v := range crd.Spec.Versions {
				served = served || (v.Name == k.gvk.Version && v.Served)
			}
			if !served {
				t.Errorf("%s: version %s is not served", f, k.gvk.Version)
			}
		}
	}
	if seen != len(allKinds) {
		t.Errorf("found CRDs for %d of %d kinds", seen, len(allKinds))
	}
}

func TestParseKindName(t *testing.T) {
	k, name, err := parseKindName([]string{"qjob", "errand"}, kindQuarksJob)
	if err != nil || k.gvk != kindQuarksJob.gvk || name != "errand" {
		t.Errorf("KIND NAME: got %v %q %v", k.gvk, name, err)
	}
	k, name, err = parseKindName([]string{"rjob/migrate"}, kindQuarksJob, kindReactiveJob)
	if err != nil || k.gvk != kindReactiveJob.gvk || name != "migrate" {
		t.Errorf("KIND/NAME: got %v %q %v", k.gvk, name, err)
	}
	for _, args := range [][]string{{"qjob"}, {"qjob/"}, {"qjob", "a", "b"}, {"qjob", "a/b"}, {"njob", "x"}} {
		if _, _, err := parseKindName(args, kindQuarksJob); err == nil {
			t.Errorf("parseKindName(%q) succeeded, want an error", args)
		}
	}
	err = withCommandHint([]string{"rjob", "x"}, errors.New("not here"))
	if !strings.Contains(err.Error(), "kubectl jobkeeper rerun rjob NAME") {
		t.Errorf("hint for rjob: %v", err)
	}
}

func quarksJob(strategy quarksv1alpha1.Strategy, generation int64, lastRun *quarksv1alpha1.RunStatus) *quarksv1alpha1.QuarksJob {
	qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "errand", Generation: generation}}
	qj.Spec.Trigger.Strategy = strategy
	qj.Status.LastRun = lastRun
	return qj
}

func TestPlanRun(t *testing.T) {
	run := func(gen int64) *quarksv1alpha1.RunStatus {
		return &quarksv1alpha1.RunStatus{Name: "errand-1", Result: quarksv1alpha1.RunResultSucceeded, Generation: gen}
	}
	tests := []struct {
		name  string
		qj    *quarksv1alpha1.QuarksJob
		force bool
		want  quarksv1alpha1.Strategy
		// wantRequest: a run request instead of a strategy.
		wantRequest bool
		wantErr     string
	}{
		{name: "manual runs now", qj: quarksJob(quarksv1alpha1.StrategyManual, 1, nil), want: quarksv1alpha1.StrategyNow},
		{name: "unset runs now", qj: quarksJob("", 1, nil), want: quarksv1alpha1.StrategyNow},
		{name: "manual after runs", qj: quarksJob(quarksv1alpha1.StrategyManual, 4, run(3)), want: quarksv1alpha1.StrategyNow},
		{name: "now pending changes nothing", qj: quarksJob(quarksv1alpha1.StrategyNow, 2, run(1))},
		{name: "once pending changes nothing", qj: quarksJob(quarksv1alpha1.StrategyOnce, 1, nil)},
		{name: "now handled, write-back pending", qj: quarksJob(quarksv1alpha1.StrategyNow, 2, run(2)), wantErr: "just started"},
		{name: "once handled, write-back pending", qj: quarksJob(quarksv1alpha1.StrategyOnce, 1, run(1)), force: true,
			wantErr: "just started"},
		{name: "done refused", qj: quarksJob(quarksv1alpha1.StrategyDone, 2, run(1)), wantErr: "--force"},
		{name: "done forced requests a run", qj: quarksJob(quarksv1alpha1.StrategyDone, 2, run(1)), force: true,
			wantRequest: true},
		{name: "unknown strategy", qj: quarksJob("later", 1, nil), wantErr: "unknown strategy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planRun(tt.qj, tt.force)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.strategy != tt.want || p.request != tt.wantRequest {
				t.Errorf("strategy = %q, request %t; want %q, %t", p.strategy, p.request, tt.want, tt.wantRequest)
			}
			if p.message == "" {
				t.Error("no message")
			}
		})
	}
}

func TestObserveRun(t *testing.T) {
	cond := func(typ, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: "m"}
	}
	status := func(runs, observed int64, lr *quarksv1alpha1.RunStatus, conds ...metav1.Condition) *quarksv1alpha1.QuarksJob {
		qj := quarksJob(quarksv1alpha1.StrategyManual, 6, lr)
		qj.Status.RunCount, qj.Status.ObservedGeneration, qj.Status.Conditions = runs, observed, conds
		return qj
	}
	lr := func(gen int64, result quarksv1alpha1.RunResult) *quarksv1alpha1.RunStatus {
		return &quarksv1alpha1.RunStatus{Name: "errand-x", Generation: gen, Result: result}
	}
	// The run was asked for at generation 5, after 2 runs.
	tests := []struct {
		name         string
		qj           *quarksv1alpha1.QuarksJob
		started      bool
		finished     bool
		waiting, err string
	}{
		{name: "not observed yet", qj: status(2, 4, lr(4, quarksv1alpha1.RunResultSucceeded))},
		{name: "the earlier run is still the last", qj: status(2, 5, lr(4, quarksv1alpha1.RunResultRunning),
			cond("Reconciling", quarksv1alpha1.ReasonRunQueued)), waiting: "RunQueued: m"},
		{name: "an earlier queued run at an older generation", qj: status(3, 5, lr(4, quarksv1alpha1.RunResultSucceeded))},
		{name: "references missing", qj: status(2, 5, nil, cond("Reconciling", quarksv1alpha1.ReasonWaitingForReferences)),
			waiting: "WaitingForReferences: m"},
		{name: "invalid spec", qj: status(2, 5, nil, cond("Stalled", quarksv1alpha1.ReasonInvalidSpec)), err: "cannot run"},
		{name: "running", qj: status(3, 6, lr(5, quarksv1alpha1.RunResultRunning)), started: true},
		{name: "succeeded", qj: status(3, 6, lr(5, quarksv1alpha1.RunResultSucceeded)), started: true, finished: true},
		{name: "failed at a later generation", qj: status(4, 6, lr(6, quarksv1alpha1.RunResultFailed)), started: true, finished: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := observeRun(tt.qj, 5, 2)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (p.run != nil) != tt.started || p.finished != tt.finished || p.waiting != tt.waiting {
				t.Errorf("got started=%v finished=%v waiting=%q, want %v %v %q",
					p.run != nil, p.finished, p.waiting, tt.started, tt.finished, tt.waiting)
			}
		})
	}
}

func TestPrintRunOutcome(t *testing.T) {
	start := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	end := metav1.NewTime(start.Add(90 * time.Second))
	var out bytes.Buffer
	err := printRunOutcome(&out, "errand", runProgress{runNumber: 3, run: &quarksv1alpha1.RunStatus{
		Name: "errand-abc", Result: quarksv1alpha1.RunResultSucceeded, StartTime: &start, CompletionTime: &end,
		OutputSecrets: []string{"a", "b"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "quarksjob.quarks.cloudfoundry.org/errand: run 3 (job errand-abc) succeeded in 90s\noutput secrets: a, b\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	out.Reset()
	err = printRunOutcome(&out, "errand", runProgress{runNumber: 4, run: &quarksv1alpha1.RunStatus{
		Name: "errand-def", Result: quarksv1alpha1.RunResultFailed, Reason: "BackoffLimitExceeded", Message: "too many"}})
	if !errors.Is(err, errRunFailed) || !strings.Contains(out.String(), "failed: BackoffLimitExceeded: too many") {
		t.Errorf("failed run: err %v, output %q", err, out.String())
	}
}

func TestFreshToken(t *testing.T) {
	now := time.Date(2026, 7, 26, 10, 15, 30, 123456789, time.FixedZone("CEST", 2*3600))
	got := freshToken(now)
	if got != "2026-07-26T08:15:30.123456Z" {
		t.Errorf("freshToken = %q", got)
	}
	next := freshToken(now, got, "")
	if next == got || next != "2026-07-26T08:15:30.123457Z" {
		t.Errorf("freshToken with %q used = %q", got, next)
	}
}

func TestJobStatus(t *testing.T) {
	job := func(mod func(*batchv1.Job)) *batchv1.Job {
		j := &batchv1.Job{}
		mod(j)
		return j
	}
	tests := map[string]*batchv1.Job{
		"Running": job(func(*batchv1.Job) {}),
		"Complete": job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		}),
		"Failed: BackoffLimitExceeded": job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}
		}),
		"Suspended": job(func(j *batchv1.Job) { j.Spec.Suspend = new(true) }),
	}
	for want, j := range tests {
		if got := jobStatus(j); got != want {
			t.Errorf("jobStatus = %q, want %q", got, want)
		}
	}
}

func TestCompareSecretRows(t *testing.T) {
	rows := []secretRow{{Name: "foo-v10", Version: "10"}, {Name: "bar"}, {Name: "foo-v2", Version: "2"}, {Name: "foo-json"}}
	slicesSort(rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.Name)
	}
	if diff := cmp.Diff([]string{"bar", "foo-v2", "foo-v10", "foo-json"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWhyReport(t *testing.T) {
	now := time.Date(2026, 7, 26, 12, 0, 0, 0, time.UTC)
	since := metav1.NewTime(now.Add(-5 * time.Minute))
	qj := quarksJob(quarksv1alpha1.StrategyManual, 3, &quarksv1alpha1.RunStatus{
		Name: "errand-abc", Result: quarksv1alpha1.RunResultFailed, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"})
	qj.Namespace = "ns"
	qj.Status.ObservedGeneration = 3
	qj.Status.Conditions = []metav1.Condition{
		{Type: "Ready", Status: metav1.ConditionFalse, Reason: quarksv1alpha1.ReasonRunFailed, Message: "run 1 failed", LastTransitionTime: since},
		{Type: "Stalled", Status: metav1.ConditionTrue, Reason: quarksv1alpha1.ReasonRunFailed, Message: "run 1 failed", LastTransitionTime: since},
		{Type: "ReferencesResolved", Status: metav1.ConditionTrue, Reason: quarksv1alpha1.ReasonReferencesFound, LastTransitionTime: since},
	}
	r := mustExplain(t, kindQuarksJob, qj)
	if r.Status != "Failed" {
		t.Errorf("kstatus = %s, want Failed", r.Status)
	}
	if want := "it is stalled (RunFailed): run 1 failed"; r.Explanation != want {
		t.Errorf("explanation = %q, want %q", r.Explanation, want)
	}
	r.WarningEvents = []eventRow{{LastSeen: now.Add(-time.Minute), Type: "Warning", Reason: "RunFailed", Count: 2, Message: "job failed"}}
	var out bytes.Buffer
	if err := printWhy(&out, r, now); err != nil {
		t.Fatal(err)
	}
	got := squeeze(out.String())
	for _, want := range []string{
		"quarksjob.quarks.cloudfoundry.org/errand in namespace ns",
		"Status: Failed: run 1 failed",
		"Why: it is stalled (RunFailed): run 1 failed",
		"Generation: 3, observed 3",
		"Last run: job errand-abc, Failed, BackoffLimitExceeded",
		"Reconciling - (absent)",
		"Stalled True RunFailed 5m run 1 failed",
		"ReferencesResolved True ReferencesFound 5m",
		"60s RunFailed 2 job failed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// An object the operator has not seen since its last change.
	qj.Generation = 4
	if r := mustExplain(t, kindQuarksJob, qj); r.Status != "InProgress" || !strings.Contains(r.Explanation, "not yet observed generation 4") {
		t.Errorf("behind: status %s, explanation %q", r.Status, r.Explanation)
	}

	nj := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Name: "nodes", Generation: 1}}
	nj.Spec.Suspend = true
	nj.Status.ObservedGeneration = 1
	nj.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Idle"}}
	if r := mustExplain(t, kindNodeJob, nj); r.Status != "Current" || r.Explanation != "it is Ready" || r.Details[0].Name != "Suspended" {
		t.Errorf("ready NodeJob: %+v", r)
	}
}

func mustExplain(t *testing.T, k kind, obj runtime.Object) *whyReport {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(k.gvk)
	r, err := explain(k, u, obj)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPrintNodeJobRuns(t *testing.T) {
	start := metav1.NewTime(time.Date(2026, 7, 26, 10, 0, 0, 0, time.UTC))
	r := &runsReport{Kind: "NodeJob", Namespace: "ns", ref: kindNodeJob.ref("nodes"),
		Summary: []detail{{"Schedule", "@hourly"}},
		NodeJobRuns: []nodeJobRunRow{{Name: "nodes-29000000", ExecutionID: "202607261000", Trigger: "Schedule",
			Phase: "Failed", Reason: "FailFast", Desired: 3, Succeeded: 1, Failed: 1, Skipped: 1, Reported: 1, StartTime: &start}},
	}
	var out bytes.Buffer
	if err := printRuns(&out, r, start.Time); err != nil {
		t.Fatal(err)
	}
	want := `nodejob.batch.cs.sap.com/nodes in namespace ns
Schedule:   @hourly

Runs (oldest first):
  NAME             EXECUTION      TRIGGER    PHASE              DESIRED   SUCCEEDED   FAILED   SKIPPED   REPORTED   STARTED                COMPLETED
  nodes-29000000   202607261000   Schedule   Failed: FailFast   3         1           1        1         1          2026-07-26T10:00:00Z   -
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func slicesSort(rows []secretRow) { slices.SortStableFunc(rows, compareSecretRows) }

// squeeze collapses every run of blanks, so that assertions do not depend on column widths.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
