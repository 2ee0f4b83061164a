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
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// kstatusConditions are the condition types kstatus reads, in the order they are printed.
var kstatusConditions = []string{"Ready", "Reconciling", "Stalled"}

// whyReport is what `why` finds out about an object.
type whyReport struct {
	Kind               string             `json:"kind"`
	Namespace          string             `json:"namespace"`
	Name               string             `json:"name"`
	Status             string             `json:"status"`
	StatusMessage      string             `json:"statusMessage,omitempty"`
	Explanation        string             `json:"explanation"`
	Generation         int64              `json:"generation"`
	ObservedGeneration *int64             `json:"observedGeneration,omitempty"`
	Deleting           bool               `json:"deleting,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
	Details            []detail           `json:"details,omitempty"`
	WarningEvents      []eventRow         `json:"warningEvents,omitempty"`

	ref string
}

// detail is one kind-specific fact worth knowing, such as the result of the last run.
type detail struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func newWhyCommand(o *options) *cobra.Command {
	var (
		output string
		events int
	)
	cmd := &cobra.Command{
		Use:   "why KIND NAME",
		Short: "Explain why an object is not Ready",
		Long: `Explain why a QuarksJob, ReactiveJob, NodeJob or NodeJobRun is not Ready: its kstatus status,
its Ready, Reconciling and Stalled conditions with their reasons and messages, whether the operator
has observed its latest generation, the state of its last run, and the newest Warning Events
regarding it.`,
		Example: `  kubectl jobkeeper why qjob my-errand
  kubectl jobkeeper why njrun/node-check-m1a2b3c4 -o yaml`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			k, name, err := parseKindName(args, allKinds...)
			if err != nil {
				return err
			}
			r, err := o.why(cmd.Context(), k, name, events)
			if err != nil {
				return err
			}
			if output != "" {
				return printStructured(o.Out, output, r)
			}
			return printWhy(o.Out, r, o.clock.Now())
		},
	}
	addOutputFlag(cmd, &output)
	cmd.Flags().IntVar(&events, "events", 10, "the number of Warning Events to show")
	return cmd
}

func (o *options) why(ctx context.Context, k kind, name string, events int) (*whyReport, error) {
	c, ns, err := o.client()
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k.gvk)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%s not found in namespace %s", k.ref(name), ns)
		}
		return nil, err
	}
	typed, err := o.scheme.New(k.gvk)
	if err != nil {
		return nil, err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		return nil, fmt.Errorf("reading %s: %w", k.ref(name), err)
	}
	r, err := explain(k, u, typed)
	if err != nil {
		return nil, err
	}
	if events > 0 {
		if r.WarningEvents, err = listEvents(ctx, c, ns, u.GetUID(), "Warning", events); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// explain builds the report of u, whose typed form is typed, without the Events.
func explain(k kind, u *unstructured.Unstructured, typed runtime.Object) (*whyReport, error) {
	res, err := status.Compute(u)
	if err != nil {
		return nil, fmt.Errorf("computing the status of %s: %w", k.ref(u.GetName()), err)
	}
	r := &whyReport{
		Kind: k.gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName(), ref: k.ref(u.GetName()),
		Status: res.Status.String(), StatusMessage: res.Message,
		Generation: u.GetGeneration(), Deleting: u.GetDeletionTimestamp() != nil,
	}
	if og, found, err := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); err == nil && found {
		r.ObservedGeneration = &og
	}
	conds, details := typedFacts(typed)
	r.Conditions, r.Details = conds, details
	r.Explanation = explanation(r)
	return r, nil
}

// typedFacts returns the conditions of a project object and the kind-specific facts worth printing.
func typedFacts(obj runtime.Object) ([]metav1.Condition, []detail) {
	switch o := obj.(type) {
	case *quarksv1alpha1.QuarksJob:
		d := []detail{{"Strategy", string(o.Spec.Trigger.Strategy)}, {"Runs", fmt.Sprint(o.Status.RunCount)}}
		if lr := o.Status.LastRun; lr != nil {
			d = append(d, detail{"Last run", joinNonEmpty(", ", "job "+lr.Name, string(lr.Result), lr.Reason, lr.Message)})
		}
		return o.Status.Conditions, d
	case *batchv1alpha1.ReactiveJob:
		d := []detail{{"State", string(o.Status.State)}}
		if o.Status.CurrentJobName != "" {
			d = append(d, detail{"Current job", fmt.Sprintf("%s (active %d, succeeded %d, failed %d)",
				o.Status.CurrentJobName, o.Status.Active, o.Status.Succeeded, o.Status.Failed)})
		}
		return o.Status.Conditions, d
	case *batchv1alpha1.NodeJob:
		var d []detail
		if o.Spec.Suspend {
			d = append(d, detail{labelSuspended, "true: no new runs start, requested ones wait"})
		}
		if o.Spec.Schedule != "" {
			d = append(d, detail{"Schedule", o.Spec.Schedule})
		}
		if lr := o.Status.LastRun; lr != nil {
			// The NodeJob's summary has the run's counts once it has finished; a running run's are in its own status.
			counts := fmt.Sprintf("%d/%d nodes succeeded, %d failed", lr.Succeeded, lr.Desired, lr.Failed)
			if lr.CompletionTime == nil {
				counts = fmt.Sprintf("%d nodes; kubectl jobkeeper why njrun %s for their progress", lr.Desired, lr.Name)
			}
			d = append(d, detail{"Last run", joinNonEmpty(", ", lr.Name, string(lr.Phase), lr.Reason, counts)})
		}
		if len(o.Status.Active) > 0 {
			names := make([]string, 0, len(o.Status.Active))
			for _, a := range o.Status.Active {
				names = append(names, a.Name)
			}
			d = append(d, detail{"Active runs", strings.Join(names, ", ")})
		}
		return o.Status.Conditions, d
	case *batchv1alpha1.NodeJobRun:
		s := o.Status
		d := []detail{{"Phase", orDash(joinNonEmpty(", ", string(s.Phase), s.Reason, s.Message))},
			{"Nodes", fmt.Sprintf("%d desired, %d active, %d succeeded, %d failed, %d skipped, %d reported",
				s.Desired, s.Active, s.Succeeded, s.Failed, s.Skipped, s.Reported)}}
		if o.Spec.Paused {
			d = append(d, detail{"Paused", "true: clear spec.paused to resume"})
		}
		for _, n := range s.FailedNodes {
			if n.Phase == batchv1alpha1.NodeJobRunNodePhaseFailed {
				d = append(d, detail{"Failed node", joinNonEmpty(", ", n.Name, n.Reason, n.Message)})
			}
		}
		return s.Conditions, d
	}
	return nil, nil
}

// explanation says in one sentence why the object is or is not Ready.
func explanation(r *whyReport) string {
	find := func(t string) *metav1.Condition { return meta.FindStatusCondition(r.Conditions, t) }
	isTrue := func(c *metav1.Condition) bool { return c != nil && c.Status == metav1.ConditionTrue }
	switch stalled, reconciling, ready := find("Stalled"), find("Reconciling"), find("Ready"); {
	case r.Deleting:
		return "it is being deleted"
	case r.ObservedGeneration == nil || *r.ObservedGeneration < r.Generation:
		observed := "no generation"
		if r.ObservedGeneration != nil && *r.ObservedGeneration >= 0 {
			observed = fmt.Sprintf("generation %d", *r.ObservedGeneration)
		}
		return fmt.Sprintf("the operator has not yet observed generation %d (it has observed %s): "+
			"is the operator running and serving this namespace?", r.Generation, observed)
	case isTrue(stalled):
		return fmt.Sprintf("it is stalled (%s): %s", stalled.Reason, stalled.Message)
	case isTrue(reconciling):
		return fmt.Sprintf("the operator is still working on it (%s): %s", reconciling.Reason, reconciling.Message)
	case isTrue(ready):
		return "it is Ready"
	case ready != nil:
		return fmt.Sprintf("Ready is %s (%s): %s", ready.Status, ready.Reason, ready.Message)
	}
	return "it has no Ready condition yet"
}

// printWhy prints the report for people.
func printWhy(w io.Writer, r *whyReport, now time.Time) error {
	tw := printers.GetNewTabWriter(w)
	_, _ = fmt.Fprintf(tw, "%s in namespace %s\n", r.ref, r.Namespace)
	_, _ = fmt.Fprintf(tw, "Status:\t%s\n", joinNonEmpty(": ", r.Status, r.StatusMessage))
	_, _ = fmt.Fprintf(tw, "Why:\t%s\n", r.Explanation)
	observed := "not yet observed"
	if r.ObservedGeneration != nil && *r.ObservedGeneration >= 0 {
		observed = fmt.Sprintf("observed %d", *r.ObservedGeneration)
		if *r.ObservedGeneration < r.Generation {
			observed += " (behind)"
		}
	}
	_, _ = fmt.Fprintf(tw, "Generation:\t%d, %s\n", r.Generation, observed)
	for _, d := range r.Details {
		_, _ = fmt.Fprintf(tw, "%s:\t%s\n", d.Name, d.Value)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	_, _ = fmt.Fprintln(w, "\nConditions:")
	tw = printers.GetNewTabWriter(w)
	_, _ = fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE")
	for _, t := range kstatusConditions {
		if c := meta.FindStatusCondition(r.Conditions, t); c == nil {
			_, _ = fmt.Fprintf(tw, "  %s\t-\t\t\t(absent)\n", t)
		}
	}
	for _, t := range kstatusConditions {
		if c := meta.FindStatusCondition(r.Conditions, t); c != nil {
			printCondition(tw, c, now)
		}
	}
	for i := range r.Conditions {
		if c := &r.Conditions[i]; !isKstatusCondition(c.Type) {
			printCondition(tw, c, now)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.WarningEvents) == 0 {
		_, _ = fmt.Fprintln(w, "\nWarning events: none")
		return nil
	}
	_, _ = fmt.Fprintln(w, "\nWarning events (newest first):")
	return printEvents(w, r.WarningEvents, now, false)
}

func isKstatusCondition(t string) bool {
	return slices.Contains(kstatusConditions, t)
}

func printCondition(w io.Writer, c *metav1.Condition, now time.Time) {
	_, _ = fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, age(c.LastTransitionTime.Time, now), oneLine(c.Message))
}

// printEvents prints Events as a table, with their type when withType is set.
func printEvents(w io.Writer, events []eventRow, now time.Time, withType bool) error {
	tw := printers.GetNewTabWriter(w)
	if withType {
		_, _ = fmt.Fprintln(tw, "  LAST SEEN\tTYPE\tREASON\tCOUNT\tMESSAGE")
	} else {
		_, _ = fmt.Fprintln(tw, "  LAST SEEN\tREASON\tCOUNT\tMESSAGE")
	}
	for _, e := range events {
		typ := ""
		if withType {
			typ = e.Type + "\t"
		}
		_, _ = fmt.Fprintf(tw, "  %s\t%s%s\t%d\t%s\n", age(e.LastSeen, now), typ, e.Reason, e.Count, oneLine(e.Message))
	}
	return tw.Flush()
}
