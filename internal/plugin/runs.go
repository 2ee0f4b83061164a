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
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// labelSuspended names a suspended object or Job.
const labelSuspended = "Suspended"

// historyEvents is the number of Events `runs` shows as the history of a ReactiveJob or QuarksJob.
const historyEvents = 20

// runsReport lists the runs of one object.
type runsReport struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Summary holds the state of the object's runs as name/value pairs.
	Summary []detail `json:"summary,omitempty"`
	// NodeJobRuns are the runs of a NodeJob, oldest first.
	NodeJobRuns []nodeJobRunRow `json:"nodeJobRuns,omitempty"`
	// Jobs are the Jobs of a ReactiveJob or QuarksJob, oldest first.
	Jobs []jobRow `json:"jobs,omitempty"`
	// LastRun is the last run of a QuarksJob.
	LastRun *quarksv1alpha1.RunStatus `json:"lastRun,omitempty"`
	// OutputSecrets are the Secrets a QuarksJob wrote.
	OutputSecrets []secretRow `json:"outputSecrets,omitempty"`
	// Conditions are the object's conditions.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// History holds the newest Events regarding a ReactiveJob or QuarksJob, newest first.
	History []eventRow `json:"history,omitempty"`

	ref string
}

// nodeJobRunRow is one NodeJobRun.
type nodeJobRunRow struct {
	Name           string       `json:"name"`
	ExecutionID    string       `json:"executionID"`
	Trigger        string       `json:"trigger"`
	Phase          string       `json:"phase"`
	Reason         string       `json:"reason,omitempty"`
	Desired        int32        `json:"desired"`
	Succeeded      int32        `json:"succeeded"`
	Failed         int32        `json:"failed"`
	Skipped        int32        `json:"skipped"`
	Reported       int32        `json:"reported"`
	StartTime      *metav1.Time `json:"startTime,omitempty"`
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// FailedNodes are the first failed nodes the run's status lists. The state of every node is its record in
	// the run's report, read through the results API at NodeRecordPath.
	FailedNodes []failedNodeRow `json:"failedNodes,omitempty"`
	// NodeRecordPath is the read route path of a node's record, with <node> for the node's name.
	NodeRecordPath string `json:"nodeRecordPath"`

	scheduled time.Time
}

// failedNodeRow is one failed node of a NodeJobRun.
type failedNodeRow struct {
	Name    string `json:"name"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// jobRow is one Job of a ReactiveJob or QuarksJob.
type jobRow struct {
	Name string `json:"name"`
	// Run is the run number of a QuarksJob's Job, or the generation a ReactiveJob's Job was created for.
	Run            string       `json:"run,omitempty"`
	Rerun          string       `json:"rerun,omitempty"`
	Current        bool         `json:"current,omitempty"`
	Status         string       `json:"status"`
	Active         int32        `json:"active"`
	Succeeded      int32        `json:"succeeded"`
	Failed         int32        `json:"failed"`
	StartTime      *metav1.Time `json:"startTime,omitempty"`
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	created time.Time
}

// secretRow is one output Secret of a QuarksJob. Secret data is never read.
type secretRow struct {
	Name      string       `json:"name"`
	Container string       `json:"container,omitempty"`
	Version   string       `json:"version,omitempty"`
	LastRun   bool         `json:"lastRun,omitempty"`
	Missing   bool         `json:"missing,omitempty"`
	Created   *metav1.Time `json:"created,omitempty"`
}

func newRunsCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "runs KIND NAME",
		Short: "List the runs of a NodeJob, ReactiveJob or QuarksJob",
		Long: `List the runs of an object:
  NodeJob      its NodeJobRuns: phase, nodes succeeded, failed and skipped, reported results, start and completion;
  ReactiveJob  its Jobs, its status and its history (the newest Events regarding it);
  QuarksJob    its remaining Jobs, its last run, the output Secrets it wrote (labelled
               ` + quarksv1alpha1.QuarksJobNameLabel + `; their data is never read) and its history.`,
		Example: `  kubectl jobkeeper runs njob node-check
  kubectl jobkeeper runs qjob/my-errand -o yaml`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			k, name, err := parseKindName(args, kindNodeJob, kindReactiveJob, kindQuarksJob)
			if err != nil {
				return err
			}
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			var r *runsReport
			switch k.gvk {
			case kindNodeJob.gvk:
				r, err = nodeJobRuns(cmd.Context(), c, ns, name)
			case kindReactiveJob.gvk:
				r, err = reactiveJobRuns(cmd.Context(), c, ns, name)
			default:
				r, err = quarksJobRuns(cmd.Context(), c, ns, name)
			}
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%s not found in namespace %s", k.ref(name), ns)
			}
			if err != nil {
				return err
			}
			if output != "" {
				return printStructured(o.Out, output, r)
			}
			return printRuns(o.Out, r, o.clock.Now())
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func nodeJobRuns(ctx context.Context, c client.Reader, ns, name string) (*runsReport, error) {
	nj := &batchv1alpha1.NodeJob{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, nj); err != nil {
		return nil, err
	}
	var list batchv1alpha1.NodeJobRunList
	if err := c.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{batchv1alpha1.NodeJobNameLabel: name}); err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	r := &runsReport{Kind: kindNodeJob.gvk.Kind, Namespace: ns, Name: name, ref: kindNodeJob.ref(name)}
	for i := range list.Items {
		if run := &list.Items[i]; belongsToNodeJob(run, nj) {
			r.NodeJobRuns = append(r.NodeJobRuns, toNodeJobRunRow(run))
		}
	}
	slices.SortStableFunc(r.NodeJobRuns, func(a, b nodeJobRunRow) int {
		return cmp.Or(a.scheduled.Compare(b.scheduled), strings.Compare(a.Name, b.Name))
	})
	s := nj.Status
	r.Summary = []detail{
		{"Schedule", orDash(nj.Spec.Schedule)},
		{labelSuspended, strconv.FormatBool(nj.Spec.Suspend)},
		{"Runs created", strconv.FormatInt(s.RunCount, 10)},
		{"Last schedule", timestamp(s.LastScheduleTime)},
		{"Next schedule", timestamp(s.NextScheduleTime)},
		{"Last success", timestamp(s.LastSuccessfulTime)},
	}
	if req := nj.Annotations[batchv1alpha1.NodeJobRunRequestAnnotation]; req != "" && req != s.LastHandledRunRequest {
		r.Summary = append(r.Summary, detail{"Pending run request", req})
	}
	r.Conditions = s.Conditions
	return r, nil
}

// belongsToNodeJob reports whether run is a run of nj, not of an earlier NodeJob of the same name.
func belongsToNodeJob(run *batchv1alpha1.NodeJobRun, nj *batchv1alpha1.NodeJob) bool {
	if run.Spec.NodeJobName != nj.Name {
		return false
	}
	uid, ok := run.Labels[batchv1alpha1.NodeJobUIDLabel]
	return !ok || uid == string(nj.UID)
}

func toNodeJobRunRow(run *batchv1alpha1.NodeJobRun) nodeJobRunRow {
	s := run.Status
	var failed []failedNodeRow
	for _, n := range s.FailedNodes {
		if n.Phase == batchv1alpha1.NodeJobRunNodePhaseFailed {
			failed = append(failed, failedNodeRow{Name: n.Name, Reason: n.Reason, Message: n.Message})
		}
	}
	return nodeJobRunRow{
		FailedNodes: failed,
		Name:        run.Name, ExecutionID: run.Spec.ExecutionID, Trigger: string(run.Spec.Trigger),
		Phase: string(s.Phase), Reason: s.Reason,
		Desired: s.Desired, Succeeded: s.Succeeded, Failed: s.Failed, Skipped: s.Skipped, Reported: s.Reported,
		StartTime: s.StartTime, CompletionTime: s.CompletionTime,
		NodeRecordPath: fmt.Sprintf("/reports/%s/%s/%s/nodes/<node>/node.json", run.Namespace, run.Spec.NodeJobName, run.Name),
		scheduled:      run.Spec.ScheduledTime.Time,
	}
}

func reactiveJobRuns(ctx context.Context, c client.Reader, ns, name string) (*runsReport, error) {
	rj := &batchv1alpha1.ReactiveJob{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rj); err != nil {
		return nil, err
	}
	jobs, err := listJobs(ctx, c, ns, client.MatchingLabels{batchv1alpha1.ReactiveJobControllerUIDLabel: string(rj.UID)})
	if err != nil {
		return nil, err
	}
	r := &runsReport{Kind: kindReactiveJob.gvk.Kind, Namespace: ns, Name: name, ref: kindReactiveJob.ref(name)}
	for i := range jobs {
		j := &jobs[i]
		row := toJobRow(j)
		row.Run = j.Annotations[batchv1alpha1.ReactiveJobGenerationAnnotation]
		row.Rerun = j.Annotations[batchv1alpha1.ReactiveJobRerunAnnotation]
		row.Current = j.Name == rj.Status.CurrentJobName
		r.Jobs = append(r.Jobs, row)
	}
	slices.SortStableFunc(r.Jobs, func(a, b jobRow) int {
		return cmp.Or(a.created.Compare(b.created), strings.Compare(a.Name, b.Name))
	})
	s := rj.Status
	r.Summary = []detail{
		{"State", orDash(string(s.State))},
		{"Current job", orDash(s.CurrentJobName)},
		{"Concurrency policy", string(rj.Spec.ConcurrencyPolicy)},
		{"Last handled rerun", orDash(s.LastHandledRerun)},
	}
	if req := rj.Annotations[batchv1alpha1.ReactiveJobRerunAnnotation]; req != "" && req != s.LastHandledRerun {
		r.Summary = append(r.Summary, detail{"Pending rerun", req})
	}
	r.Conditions = s.Conditions
	if r.History, err = listEvents(ctx, c, ns, rj.UID, "", historyEvents); err != nil {
		return nil, err
	}
	return r, nil
}

func quarksJobRuns(ctx context.Context, c client.Reader, ns, name string) (*runsReport, error) {
	qj := &quarksv1alpha1.QuarksJob{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, qj); err != nil {
		return nil, err
	}
	jobs, err := listJobs(ctx, c, ns, client.MatchingLabels{quarksv1alpha1.QuarksJobNameLabel: name})
	if err != nil {
		return nil, err
	}
	r := &runsReport{Kind: kindQuarksJob.gvk.Kind, Namespace: ns, Name: name, ref: kindQuarksJob.ref(name)}
	for i := range jobs {
		j := &jobs[i]
		if !metav1.IsControlledBy(j, qj) {
			continue
		}
		row := toJobRow(j)
		row.Run = j.Labels[quarksv1alpha1.RunNumberLabel]
		row.Current = qj.Status.LastRun != nil && j.Name == qj.Status.LastRun.Name
		r.Jobs = append(r.Jobs, row)
	}
	slices.SortStableFunc(r.Jobs, func(a, b jobRow) int {
		an, _ := strconv.Atoi(a.Run)
		bn, _ := strconv.Atoi(b.Run)
		return cmp.Or(cmp.Compare(an, bn), strings.Compare(a.Name, b.Name))
	})
	s := qj.Status
	r.Summary = []detail{
		{"Strategy", string(qj.Spec.Trigger.Strategy)},
		{"Update on config change", strconv.FormatBool(qj.Spec.UpdateOnConfigChange)},
		{"Runs started", strconv.FormatInt(s.RunCount, 10)},
		{"Completed", strconv.FormatBool(s.Completed)},
		{"Last run started", timestamp(s.LastReconcile)},
	}
	r.LastRun = s.LastRun
	r.Conditions = s.Conditions
	if r.OutputSecrets, err = outputSecrets(ctx, c, qj); err != nil {
		return nil, err
	}
	if r.History, err = listEvents(ctx, c, ns, qj.UID, "", historyEvents); err != nil {
		return nil, err
	}
	return r, nil
}

func listJobs(ctx context.Context, c client.Reader, ns string, sel client.MatchingLabels) ([]batchv1.Job, error) {
	var list batchv1.JobList
	if err := c.List(ctx, &list, client.InNamespace(ns), sel); err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	return list.Items, nil
}

func toJobRow(j *batchv1.Job) jobRow {
	return jobRow{
		Name: j.Name, Status: jobStatus(j),
		Active: j.Status.Active, Succeeded: j.Status.Succeeded, Failed: j.Status.Failed,
		StartTime: j.Status.StartTime, CompletionTime: j.Status.CompletionTime,
		created: j.CreationTimestamp.Time,
	}
}

// jobStatus names the state of a Job the way its conditions say it.
func jobStatus(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return "Complete"
		case batchv1.JobFailed:
			return joinNonEmpty(": ", "Failed", c.Reason)
		}
	}
	switch {
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case j.Spec.Suspend != nil && *j.Spec.Suspend:
		return labelSuspended
	}
	return "Running"
}

// outputSecrets lists the Secrets labelled with the QuarksJob's name, as metadata only, plus the Secrets its
// last run names that no longer exist.
func outputSecrets(ctx context.Context, c client.Reader, qj *quarksv1alpha1.QuarksJob) ([]secretRow, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := c.List(ctx, list, client.InNamespace(qj.Namespace),
		client.MatchingLabels{quarksv1alpha1.QuarksJobNameLabel: qj.Name}); err != nil {
		return nil, fmt.Errorf("listing output secrets: %w", err)
	}
	var inLastRun []string
	if qj.Status.LastRun != nil {
		inLastRun = qj.Status.LastRun.OutputSecrets
	}
	rows := make([]secretRow, 0, len(list.Items))
	seen := map[string]bool{}
	for i := range list.Items {
		s := &list.Items[i]
		seen[s.Name] = true
		created := s.CreationTimestamp
		rows = append(rows, secretRow{
			Name: s.Name, Container: s.Labels[quarksv1alpha1.ContainerNameLabel],
			Version: s.Labels[quarksv1alpha1.SecretVersionLabel], LastRun: slices.Contains(inLastRun, s.Name),
			Created: &created,
		})
	}
	for _, n := range inLastRun {
		if !seen[n] {
			rows = append(rows, secretRow{Name: n, LastRun: true, Missing: true})
		}
	}
	slices.SortStableFunc(rows, compareSecretRows)
	return rows, nil
}

// compareSecretRows orders Secrets by name, and the members of a versioned series by version number.
func compareSecretRows(a, b secretRow) int {
	base := func(r secretRow) (string, int) {
		v, err := strconv.Atoi(r.Version)
		if err != nil || !strings.HasSuffix(r.Name, "-v"+r.Version) {
			return r.Name, 0
		}
		return strings.TrimSuffix(r.Name, "-v"+r.Version), v
	}
	an, av := base(a)
	bn, bv := base(b)
	return cmp.Or(strings.Compare(an, bn), cmp.Compare(av, bv), strings.Compare(a.Name, b.Name))
}

// printRuns prints the report for people.
func printRuns(w io.Writer, r *runsReport, now time.Time) error {
	_, _ = fmt.Fprintf(w, "%s in namespace %s\n", r.ref, r.Namespace)
	tw := printers.GetNewTabWriter(w)
	for _, d := range r.Summary {
		_, _ = fmt.Fprintf(tw, "%s:\t%s\n", d.Name, d.Value)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch r.Kind {
	case kindNodeJob.gvk.Kind:
		if err := printNodeJobRuns(w, r.NodeJobRuns); err != nil {
			return err
		}
	case kindQuarksJob.gvk.Kind:
		printLastRun(w, r.LastRun)
		if err := printJobs(w, r.Jobs, "RUN"); err != nil {
			return err
		}
		if err := printSecrets(w, r.OutputSecrets, now); err != nil {
			return err
		}
	default:
		if err := printJobs(w, r.Jobs, "GENERATION"); err != nil {
			return err
		}
	}
	if r.Kind == kindNodeJob.gvk.Kind {
		return nil
	}
	if len(r.History) == 0 {
		_, _ = fmt.Fprintln(w, "\nHistory: no events")
		return nil
	}
	_, _ = fmt.Fprintln(w, "\nHistory (newest events first):")
	return printEvents(w, r.History, now, true)
}

func printNodeJobRuns(w io.Writer, runs []nodeJobRunRow) error {
	if len(runs) == 0 {
		_, _ = fmt.Fprintln(w, "\nRuns: none")
		return nil
	}
	_, _ = fmt.Fprintln(w, "\nRuns (oldest first):")
	tw := printers.GetNewTabWriter(w)
	_, _ = fmt.Fprintln(tw, "  NAME\tEXECUTION\tTRIGGER\tPHASE\tDESIRED\tSUCCEEDED\tFAILED\tSKIPPED\tREPORTED\tSTARTED\tCOMPLETED")
	for _, r := range runs {
		_, _ = fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Name, r.ExecutionID, r.Trigger,
			orDash(joinNonEmpty(": ", r.Phase, r.Reason)), r.Desired, r.Succeeded, r.Failed, r.Skipped, r.Reported,
			timestamp(r.StartTime), timestamp(r.CompletionTime))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range runs {
		if len(r.FailedNodes) == 0 {
			continue
		}
		_, _ = fmt.Fprintf(w, "\nFailed nodes of %s (%d of %d listed; every node's record: %s on the results API):\n",
			r.Name, len(r.FailedNodes), r.Failed, r.NodeRecordPath)
		for _, n := range r.FailedNodes {
			_, _ = fmt.Fprintf(tw, "  %s\t%s\t%s\n", n.Name, orDash(n.Reason), n.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func printLastRun(w io.Writer, lr *quarksv1alpha1.RunStatus) {
	if lr == nil {
		_, _ = fmt.Fprintln(w, "\nLast run: none")
		return
	}
	_, _ = fmt.Fprintln(w, "\nLast run:")
	tw := printers.GetNewTabWriter(w)
	_, _ = fmt.Fprintf(tw, "  Job:\t%s\n", lr.Name)
	_, _ = fmt.Fprintf(tw, "  Result:\t%s\n", joinNonEmpty(": ", string(lr.Result), lr.Reason))
	if lr.Message != "" {
		_, _ = fmt.Fprintf(tw, "  Message:\t%s\n", oneLine(lr.Message))
	}
	_, _ = fmt.Fprintf(tw, "  Trigger:\t%s\n", orDash(string(lr.Trigger)))
	_, _ = fmt.Fprintf(tw, "  Generation:\t%d\n", lr.Generation)
	_, _ = fmt.Fprintf(tw, "  Started:\t%s\n", timestamp(lr.StartTime))
	_, _ = fmt.Fprintf(tw, "  Completed:\t%s\n", timestamp(lr.CompletionTime))
	_, _ = fmt.Fprintf(tw, "  Output secrets:\t%s\n", orDash(strings.Join(lr.OutputSecrets, ", ")))
	_ = tw.Flush()
}

func printJobs(w io.Writer, jobs []jobRow, runColumn string) error {
	if len(jobs) == 0 {
		_, _ = fmt.Fprintln(w, "\nJobs: none")
		return nil
	}
	_, _ = fmt.Fprintln(w, "\nJobs (oldest first; * marks the current one):")
	tw := printers.GetNewTabWriter(w)
	rerun := runColumn == "GENERATION"
	header := "  NAME\t" + runColumn + "\tSTATUS\tACTIVE\tSUCCEEDED\tFAILED\tSTARTED\tCOMPLETED"
	if rerun {
		header += "\tRERUN"
	}
	_, _ = fmt.Fprintln(tw, header)
	for _, j := range jobs {
		mark := " "
		if j.Current {
			mark = "*"
		}
		_, _ = fmt.Fprintf(tw, "%s %s\t%s\t%s\t%d\t%d\t%d\t%s\t%s", mark, j.Name, orDash(j.Run), j.Status,
			j.Active, j.Succeeded, j.Failed, timestamp(j.StartTime), timestamp(j.CompletionTime))
		if rerun {
			_, _ = fmt.Fprintf(tw, "\t%s", orDash(j.Rerun))
		}
		_, _ = fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func printSecrets(w io.Writer, secrets []secretRow, now time.Time) error {
	if len(secrets) == 0 {
		_, _ = fmt.Fprintln(w, "\nOutput secrets: none")
		return nil
	}
	_, _ = fmt.Fprintln(w, "\nOutput secrets:")
	tw := printers.GetNewTabWriter(w)
	_, _ = fmt.Fprintln(tw, "  NAME\tCONTAINER\tVERSION\tLAST RUN\tAGE")
	for _, s := range secrets {
		lastRun := "-"
		switch {
		case s.Missing:
			lastRun = "yes (deleted since)"
		case s.LastRun:
			lastRun = "yes"
		}
		created := "-"
		if s.Created != nil {
			created = age(s.Created.Time, now)
		}
		_, _ = fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.Name, orDash(s.Container), orDash(s.Version), lastRun, created)
	}
	return tw.Flush()
}
