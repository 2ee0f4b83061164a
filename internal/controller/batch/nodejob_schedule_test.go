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

package batch

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNodeJobScheduleParsing(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		tz       *string
		wantErr  bool
		wantTZ   bool
	}{
		{name: "five fields", schedule: "*/5 * * * *"},
		{name: "descriptor", schedule: "@daily"},
		{name: "every", schedule: "@every 90m"},
		{name: "no schedule", schedule: ""},
		{name: "NJ-X1 bad minute", schedule: "61 * * * *", wantErr: true},
		{name: "NJ-X1 words", schedule: "every day", wantErr: true},
		{name: "six fields", schedule: "0 0 * * * *", wantErr: true},
		{name: "NJ-X3 unknown zone", schedule: "@daily", tz: new("Mars/Base"), wantErr: true, wantTZ: true},
		{name: "NJ-X3 Local", schedule: "@daily", tz: new("Local"), wantErr: true, wantTZ: true},
		{name: "zone", schedule: "@daily", tz: new("Europe/Berlin")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nodeJobSchedule(&batchv1alpha1.NodeJobSpec{Schedule: tt.schedule, TimeZone: tt.tz})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := errors.As(err, new(timeZoneError)); got != tt.wantTZ {
				t.Errorf("time zone error = %v, want %v", got, tt.wantTZ)
			}
		})
	}
}

func TestNodeJobScheduleTimeZone(t *testing.T) {
	sched, err := nodeJobSchedule(&batchv1alpha1.NodeJobSpec{Schedule: "0 9 * * *", TimeZone: new("Europe/Berlin")})
	if err != nil {
		t.Fatal(err)
	}
	got := sched.Next(mustTime(t, "2026-01-10T00:00:00Z"))
	if want := mustTime(t, "2026-01-10T08:00:00Z"); !got.Equal(want) {
		t.Errorf("next = %s, want %s", got, want)
	}
}

func TestMissedTicks(t *testing.T) {
	hourly, _ := nodeJobSchedule(&batchv1alpha1.NodeJobSpec{Schedule: "0 * * * *"})
	everyMinute, _ := nodeJobSchedule(&batchv1alpha1.NodeJobSpec{Schedule: "* * * * *"})
	base := mustTime(t, "2026-01-01T10:00:00Z")
	tests := []struct {
		name      string
		earliest  time.Time
		now       time.Time
		wantTick  time.Time
		wantCount int
		sched     interface{ Next(time.Time) time.Time }
	}{
		{name: "none yet", earliest: base, now: base.Add(59 * time.Minute), sched: hourly},
		{name: "one", earliest: base, now: base.Add(61 * time.Minute), wantTick: base.Add(time.Hour), wantCount: 1, sched: hourly},
		{name: "NJ-2 only the most recent", earliest: base, now: base.Add(5*time.Hour + time.Minute),
			wantTick: base.Add(5 * time.Hour), wantCount: 5, sched: hourly},
		{name: "exactly on the tick", earliest: base, now: base.Add(time.Hour), wantTick: base.Add(time.Hour), wantCount: 1, sched: hourly},
		{name: "NJ-2 more than 100", earliest: base, now: base.Add(1000*time.Minute + 30*time.Second),
			wantTick: base.Add(1000 * time.Minute), wantCount: 1000, sched: everyMinute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tick, count := missedTicks(tt.sched, tt.earliest, tt.now)
			if !tick.Equal(tt.wantTick) || count != tt.wantCount {
				t.Errorf("missedTicks = %s, %d; want %s, %d", tick, count, tt.wantTick, tt.wantCount)
			}
		})
	}
}

func TestNodeJobNames(t *testing.T) {
	at := mustTime(t, "2026-03-04T05:06:59Z")
	if got, want := scheduledRunName("nj", at), "nj-29543346"; got != want {
		t.Errorf("scheduledRunName = %s, want %s", got, want)
	}
	if got, want := executionID(at, ""), "202603040506"; got != want {
		t.Errorf("executionID = %s, want %s", got, want)
	}
	if got, want := executionID(at, "tok"), "202603040506-"+nodeHash("tok"); got != want {
		t.Errorf("executionID = %s, want %s", got, want)
	}
	// FNV-32a of the empty string and of "a" (NJ-F19: the whole name counts).
	if got := nodeHash(""); got != "811c9dc5" {
		t.Errorf("nodeHash(\"\") = %s", got)
	}
	if got := nodeHash("a"); got != "e40c292c" {
		t.Errorf("nodeHash(a) = %s", got)
	}
	if nodeHash("a.x") == nodeHash("a.y") {
		t.Error("a.x and a.y share a hash")
	}
	if got, want := manualRunName("nj", "a", 1), "nj-m"+nodeHash("a/1"); got != want {
		t.Errorf("manualRunName = %s, want %s", got, want)
	}
	// A token used before (a, b, a) is a new request: its run has another name.
	if manualRunName("nj", "a", 1) == manualRunName("nj", "a", 3) {
		t.Error("requests 1 and 3 with token a share a run name")
	}
}

func TestParallelismLimit(t *testing.T) {
	tests := []struct {
		p       *intstr.IntOrString
		desired int
		want    int
	}{
		{p: nil, desired: 50, want: 10},
		{p: new(intstr.FromInt32(2)), desired: 5, want: 2},
		{p: new(intstr.FromString("50%")), desired: 5, want: 3},
		{p: new(intstr.FromString("1%")), desired: 5, want: 1},
		{p: new(intstr.FromString("100%")), desired: 7, want: 7},
		{p: new(intstr.FromString("10%")), desired: 0, want: 1},
	}
	for _, tt := range tests {
		if got := parallelismLimit(tt.p, tt.desired); got != tt.want {
			t.Errorf("parallelismLimit(%v, %d) = %d, want %d", tt.p, tt.desired, got, tt.want)
		}
	}
}

func TestSelectNodes(t *testing.T) {
	node := func(name string, ready bool, lbl map[string]string, taints ...corev1.Taint) corev1.Node {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl},
			Spec:   corev1.NodeSpec{Taints: taints},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
	}
	worker := map[string]string{"role": "worker"}
	gpu := map[string]string{"role": "worker", "gpu": "yes"}
	nodes := []corev1.Node{
		node("c", true, worker),
		node("a", true, gpu),
		node("b", false, worker),
		node("d", true, map[string]string{"role": "master"}),
		node("e", true, worker, corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}),
		node("f", true, worker, corev1.Taint{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}),
	}
	spec := &batchv1alpha1.NodeJobRunSpec{NodeJobRunTemplate: batchv1alpha1.NodeJobRunTemplate{
		NodeSelector: &metav1.LabelSelector{MatchLabels: worker},
	}}
	sel, err := selectNodes(spec, nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "", "b": NodeReasonNotReady, "c": "", "e": NodeReasonTaintNotTolerate, "f": ""}
	if len(sel.nodes) != len(want) || sel.desired != 3 {
		t.Fatalf("selected %+v (desired %d)", sel.nodes, sel.desired)
	}
	for i, n := range sel.nodes {
		if r, ok := want[n.Name]; !ok || r != n.SkipReason {
			t.Errorf("node %s reason %q, want %q", n.Name, n.SkipReason, r)
		}
		if i > 0 && sel.nodes[i-1].Name > n.Name {
			t.Errorf("nodes not in name order: %v", sel.nodes)
		}
	}

	// NJ-7: the template's nodeSelector and required affinity narrow the candidates; tolerations admit tainted ones.
	spec.IncludeNotReady = true
	spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"c"}}}},
		}}}}
	sel, err = selectNodes(spec, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if sel.desired != 4 || len(sel.nodes) != 4 {
		t.Errorf("with affinity: %+v (desired %d)", sel.nodes, sel.desired)
	}
	spec.Template.Spec.NodeSelector = map[string]string{"gpu": "yes"}
	if sel, _ = selectNodes(spec, nodes); len(sel.nodes) != 1 || sel.nodes[0].Name != "a" {
		t.Errorf("with template nodeSelector: %+v", sel.nodes)
	}
}

func TestWithNodeAffinityANDsEveryTerm(t *testing.T) {
	aff := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "x", Operator: corev1.NodeSelectorOpExists}}},
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "y", Operator: corev1.NodeSelectorOpExists}}},
		}}}}
	got := withNodeAffinity(aff, "n1").NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	for _, term := range got {
		if len(term.MatchFields) != 1 || term.MatchFields[0].Values[0] != "n1" || len(term.MatchExpressions) != 1 {
			t.Errorf("term %+v", term)
		}
	}
}

func TestBuildNodeJobPodTolerationsAndDeadline(t *testing.T) {
	run := &batchv1alpha1.NodeJobRun{
		ObjectMeta: metav1.ObjectMeta{Name: "nj-1", Namespace: "ns"},
		Spec: batchv1alpha1.NodeJobRunSpec{ExecutionID: "202601010000", NodeJobRunTemplate: batchv1alpha1.NodeJobRunTemplate{
			IncludeUnschedulable: true, IncludeNotReady: true, PodActiveDeadlineSeconds: new(int64(30)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init"}}, Containers: []corev1.Container{{Name: "main"}},
				AutomountServiceAccountToken: new(true),
			}},
		}},
	}
	pod := buildNodeJobPod(run, "node-1", resultsEndpoint{serviceName: "svc", serviceNamespace: "op", port: 8443, audience: "aud"})
	if len(pod.Spec.Tolerations) != 5 {
		t.Errorf("tolerations = %v", pod.Spec.Tolerations)
	}
	if *pod.Spec.ActiveDeadlineSeconds != 30 || !*pod.Spec.AutomountServiceAccountToken {
		t.Errorf("deadline %v automount %v", *pod.Spec.ActiveDeadlineSeconds, *pod.Spec.AutomountServiceAccountToken)
	}
	if got := pod.Spec.InitContainers[0].Env[len(pod.Spec.InitContainers[0].Env)-1].Name; got != batchv1alpha1.NodeJobEnvCallbackServiceCAFile {
		t.Errorf("init container env ends with %s", got)
	}
	vol := pod.Spec.Volumes[len(pod.Spec.Volumes)-1].Projected
	if vol.Sources[0].ServiceAccountToken.Audience != "aud" || *vol.Sources[0].ServiceAccountToken.ExpirationSeconds != 3600 ||
		vol.Sources[1].ConfigMap.Name != ResultsCAConfigMapName {
		t.Errorf("volume = %+v", vol)
	}
	if run.Spec.Template.Spec.Affinity != nil || len(run.Spec.Template.Spec.Containers[0].Env) != 0 {
		t.Error("the run's template was changed")
	}
}

func TestPodOutcome(t *testing.T) {
	exit := func(code int32) corev1.PodStatus {
		return corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}}}
	}
	tests := []struct {
		st         corev1.PodStatus
		phase      batchv1alpha1.NodeJobRunNodePhase
		reason     string
		msgContain string
	}{
		{st: corev1.PodStatus{Phase: corev1.PodRunning}},
		{st: corev1.PodStatus{Phase: corev1.PodSucceeded}, phase: batchv1alpha1.NodeJobRunNodePhaseSucceeded},
		{st: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"}, phase: batchv1alpha1.NodeJobRunNodePhaseFailed,
			reason: "DeadlineExceeded"},
		{st: exit(2), phase: batchv1alpha1.NodeJobRunNodePhaseFailed, reason: NodeReasonContainerFailed, msgContain: "ContainerFailed: exit 2"},
	}
	for _, tt := range tests {
		phase, reason, msg := podOutcome(&corev1.Pod{Status: tt.st})
		if phase != tt.phase || reason != tt.reason || (tt.msgContain != "" && msg != tt.msgContain) {
			t.Errorf("podOutcome(%v) = %s, %s, %s", tt.st.Phase, phase, reason, msg)
		}
	}
}

func TestRunsToPrune(t *testing.T) {
	base := mustTime(t, "2026-01-01T00:00:00Z")
	run := func(name string, minute int, phase batchv1alpha1.NodeJobRunPhase) *batchv1alpha1.NodeJobRun {
		return &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:   batchv1alpha1.NodeJobRunSpec{ScheduledTime: metav1.NewTime(base.Add(time.Duration(minute) * time.Minute))},
			Status: batchv1alpha1.NodeJobRunStatus{Phase: phase}}
	}
	runs := []*batchv1alpha1.NodeJobRun{
		run("s4", 4, batchv1alpha1.NodeJobRunPhaseSucceeded),
		run("s1", 1, batchv1alpha1.NodeJobRunPhaseSucceeded),
		run("f1", 2, batchv1alpha1.NodeJobRunPhaseFailed),
		run("s3", 3, batchv1alpha1.NodeJobRunPhaseSucceeded),
		run("f2", 5, batchv1alpha1.NodeJobRunPhaseFailed),
		run("a0", 0, batchv1alpha1.NodeJobRunPhaseRunning),
		run("p0", 0, batchv1alpha1.NodeJobRunPhasePaused),
	}
	var names []string
	for _, r := range runsToPrune(runs, 2, 1) {
		names = append(names, r.Name)
	}
	if len(names) != 2 || names[0] != "s1" || names[1] != "f1" {
		t.Errorf("pruned %v, want [s1 f1]", names)
	}
}

func TestNodeJobSummary(t *testing.T) {
	tests := []struct {
		name        string
		view        nodeJobView
		ready       string
		reason      string
		reconciling string
		stalled     string
	}{
		{name: "idle", view: nodeJobView{}, ready: "True", reason: NodeJobReasonIdle},
		{name: "suspended", view: nodeJobView{suspended: true, lastPhase: batchv1alpha1.NodeJobRunPhaseSucceeded}, ready: "True",
			reason: NodeJobReasonSuspended},
		{name: "succeeded", view: nodeJobView{lastPhase: batchv1alpha1.NodeJobRunPhaseSucceeded}, ready: "True", reason: NodeJobReasonSucceeded},
		{name: "active", view: nodeJobView{active: 1}, ready: "Unknown", reason: NodeJobReasonRunActive, reconciling: NodeJobReasonRunActive},
		{name: "queued", view: nodeJobView{active: 1, queued: true}, ready: "Unknown", reason: NodeJobReasonRunActive,
			reconciling: NodeJobReasonRunQueued},
		{name: "failed", view: nodeJobView{lastPhase: batchv1alpha1.NodeJobRunPhaseFailed}, ready: "False", reason: NodeJobReasonRunFailed,
			stalled: NodeJobReasonRunFailed},
		{name: "paused", view: nodeJobView{lastPhase: batchv1alpha1.NodeJobRunPhasePaused}, ready: "False", reason: NodeJobReasonRunPaused,
			stalled: NodeJobReasonRunPaused},
		{name: "invalid", view: nodeJobView{invalid: "bad", active: 1}, ready: "False", reason: NodeJobReasonInvalidSpec,
			stalled: NodeJobReasonInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := nodeJobSummary(tt.view)
			checkSummary(t, s, tt.ready, tt.reason, tt.reconciling, tt.stalled)
		})
	}
}

func TestRunSummary(t *testing.T) {
	tests := []struct {
		phase       batchv1alpha1.NodeJobRunPhase
		ready       string
		reconciling string
		stalled     string
	}{
		{phase: "", ready: "Unknown", reconciling: "Pending"},
		{phase: batchv1alpha1.NodeJobRunPhaseRunning, ready: "Unknown", reconciling: "Running"},
		{phase: batchv1alpha1.NodeJobRunPhaseSucceeded, ready: "True"},
		{phase: batchv1alpha1.NodeJobRunPhaseFailed, ready: "False", stalled: "Failed"},
		{phase: batchv1alpha1.NodeJobRunPhasePaused, ready: "False", stalled: "Paused"},
	}
	for _, tt := range tests {
		s := runSummary(&batchv1alpha1.NodeJobRunStatus{Phase: tt.phase})
		checkSummary(t, s, tt.ready, "", tt.reconciling, tt.stalled)
	}
}

func checkSummary(t *testing.T, s status.Summary, ready, reason, reconciling, stalled string) {
	t.Helper()
	if string(s.Ready) != ready || (reason != "" && s.ReadyReason != reason) {
		t.Errorf("ready = %s/%s, want %s/%s", s.Ready, s.ReadyReason, ready, reason)
	}
	if got := reasonOf(s.Reconciling); got != reconciling {
		t.Errorf("reconciling = %q, want %q", got, reconciling)
	}
	if got := reasonOf(s.Stalled); got != stalled {
		t.Errorf("stalled = %q, want %q", got, stalled)
	}
}

func reasonOf(r *status.Reason) string {
	if r == nil {
		return ""
	}
	return r.Reason
}
