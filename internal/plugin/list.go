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
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// outputName prints kind.group/name per object, as kubectl get -o name does.
const outputName = "name"

// listKinds are the kinds list shows when no kind is named: the three a user creates.
var listKinds = []kind{kindQuarksJob, kindReactiveJob, kindNodeJob}

// listedObject is one object list found, with the conditions the table shows.
type listedObject struct {
	kind       kind
	obj        client.Object
	conditions []metav1.Condition
}

func newListCommand(o *options) *cobra.Command {
	var (
		output        string
		selector      string
		allNamespaces bool
	)
	cmd := &cobra.Command{
		Use:   "list [KIND[,KIND...]]",
		Short: "List QuarksJobs, ReactiveJobs and NodeJobs with their Ready condition",
		Long: `List the objects of all three kinds (or of the kinds named, comma-separated, NodeJobRuns too) in the
namespace, or in all namespaces with -A, with their Ready condition, as kubectl get does for one kind.`,
		Example: `  kubectl jobkeeper list
  kubectl jobkeeper list -A -l team=payments
  kubectl jobkeeper list qjob,rjob -o name
  kubectl jobkeeper list njrun -n monitoring -o yaml
  kubectl jobkeeper list -A -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}{"\n"}{end}'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := jsonPathPrinter(output); err != nil {
				return err
			}
			if output != outputName && !isJSONPath(output) {
				if err := checkOutput(output); err != nil {
					return fmt.Errorf("unknown output format %q: use json, yaml, name or jsonpath=TEMPLATE", output)
				}
			}
			kinds := listKinds
			if len(args) == 1 {
				var err error
				if kinds, err = parseKinds(args[0]); err != nil {
					return err
				}
			}
			sel, err := labels.Parse(selector)
			if err != nil {
				return fmt.Errorf("invalid selector %q: %w", selector, err)
			}
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			if allNamespaces {
				ns = ""
			}
			objs, err := listObjects(cmd.Context(), c, kinds, ns, sel)
			if err != nil {
				return err
			}
			return printListOutput(o.IOStreams, output, objs, ns, o.clock.Now())
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list the objects of all namespaces")
	cmd.Flags().StringVarP(&selector, "selector", "l", "",
		"label selector to filter on, e.g. -l 'app=db,tier!=test' (=, ==, !=, in, notin, exists)")
	cmd.Flags().StringVarP(&output, "output", "o", "",
		"output format: json, yaml, name, jsonpath=TEMPLATE or jsonpath-file=FILE, as in kubectl (default: a table for people)")
	return cmd
}

// parseKinds reads a comma-separated list of kinds, dropping repeats.
func parseKinds(s string) ([]kind, error) {
	var out []kind
	for _, part := range strings.Split(s, ",") {
		k, err := resolveKind(part)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o kind) bool { return o.gvk == k.gvk }) {
			out = append(out, k)
		}
	}
	return out, nil
}

// listObjects lists the objects of kinds in namespace ns ("" for all) that match sel, by kind, then namespace, then
// name.
func listObjects(ctx context.Context, c client.Reader, kinds []kind, ns string, sel labels.Selector) ([]listedObject, error) {
	opts := []client.ListOption{client.MatchingLabelsSelector{Selector: sel}}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	var out []listedObject
	for _, k := range kinds {
		var found []listedObject
		switch k.gvk {
		case kindQuarksJob.gvk:
			var l quarksv1alpha1.QuarksJobList
			if err := c.List(ctx, &l, opts...); err != nil {
				return nil, fmt.Errorf("listing %s: %w", k.plural, err)
			}
			for i := range l.Items {
				found = append(found, listedObject{k, &l.Items[i], l.Items[i].Status.Conditions})
			}
		case kindReactiveJob.gvk:
			var l batchv1alpha1.ReactiveJobList
			if err := c.List(ctx, &l, opts...); err != nil {
				return nil, fmt.Errorf("listing %s: %w", k.plural, err)
			}
			for i := range l.Items {
				found = append(found, listedObject{k, &l.Items[i], l.Items[i].Status.Conditions})
			}
		case kindNodeJob.gvk:
			var l batchv1alpha1.NodeJobList
			if err := c.List(ctx, &l, opts...); err != nil {
				return nil, fmt.Errorf("listing %s: %w", k.plural, err)
			}
			for i := range l.Items {
				found = append(found, listedObject{k, &l.Items[i], l.Items[i].Status.Conditions})
			}
		case kindNodeJobRun.gvk:
			var l batchv1alpha1.NodeJobRunList
			if err := c.List(ctx, &l, opts...); err != nil {
				return nil, fmt.Errorf("listing %s: %w", k.plural, err)
			}
			for i := range l.Items {
				found = append(found, listedObject{k, &l.Items[i], l.Items[i].Status.Conditions})
			}
		}
		slices.SortStableFunc(found, func(a, b listedObject) int {
			return cmp.Or(strings.Compare(a.obj.GetNamespace(), b.obj.GetNamespace()),
				strings.Compare(a.obj.GetName(), b.obj.GetName()))
		})
		for _, f := range found {
			// Typed lists leave the items' apiVersion and kind empty; -o json|yaml prints them as kubectl does.
			f.obj.GetObjectKind().SetGroupVersionKind(k.gvk)
		}
		out = append(out, found...)
	}
	return out, nil
}

// printListOutput prints objs in the output format: name, json, yaml, a JSONPath template, or the table (""). ns is the namespace
// listed, "" for all.
func printListOutput(streams genericiooptions.IOStreams, output string, objs []listedObject, ns string,
	now time.Time) error {
	switch output {
	case outputName:
		for _, l := range objs {
			if _, err := fmt.Fprintln(streams.Out, l.kind.ref(l.obj.GetName())); err != nil {
				return err
			}
		}
		return nil
	case outputJSON, outputYAML:
		return printStructured(streams.Out, output, asList(objs))
	}
	if isJSONPath(output) {
		p, err := jsonPathPrinter(output)
		if err != nil {
			return err
		}
		data, err := json.Marshal(asList(objs))
		if err != nil {
			return err
		}
		list := &unstructured.Unstructured{}
		if err := list.UnmarshalJSON(data); err != nil {
			return err
		}
		return p.PrintObj(list, streams.Out)
	}
	if len(objs) == 0 {
		var err error
		if ns == "" {
			_, err = fmt.Fprintln(streams.ErrOut, "No resources found")
		} else {
			_, err = fmt.Fprintf(streams.ErrOut, "No resources found in %s namespace.\n", ns)
		}
		return err
	}
	return printList(streams.Out, objs, ns == "", now)
}

// isJSONPath reports whether output asks for a JSONPath template (jsonpath=…, jsonpath-file=…, jsonpath-as-json=…).
func isJSONPath(output string) bool {
	return strings.HasPrefix(output, "jsonpath")
}

// jsonPathPrinter returns kubectl's JSONPath printer for output, with missing keys allowed as kubectl's default; nil
// when output asks for no JSONPath.
func jsonPathPrinter(output string) (printers.ResourcePrinter, error) {
	if !isJSONPath(output) {
		return nil, nil
	}
	return genericclioptions.NewJSONPathPrintFlags("", true).ToPrinter(output)
}

// asList is what -o json|yaml prints: a v1 List of the objects, as kubectl get prints several kinds.
func asList(objs []listedObject) map[string]any {
	items := make([]client.Object, 0, len(objs))
	for _, l := range objs {
		items = append(items, l.obj)
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}, "items": items}
}

// printList prints one row per object: kind/name, the Ready condition's status and reason, and the age; with the
// namespace first when the objects come from all namespaces.
func printList(w io.Writer, objs []listedObject, withNamespace bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	header := "NAME\tREADY\tREASON\tAGE"
	if withNamespace {
		header = "NAMESPACE\t" + header
	}
	_, _ = fmt.Fprintln(tw, header)
	for _, l := range objs {
		ready, reason := "-", "-"
		if c := meta.FindStatusCondition(l.conditions, "Ready"); c != nil {
			ready, reason = string(c.Status), orDash(c.Reason)
			if c.ObservedGeneration != 0 && c.ObservedGeneration < l.obj.GetGeneration() {
				// The condition describes an older spec: the operator has not looked at the current one yet.
				reason += " (outdated)"
			}
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s", l.kind.ref(l.obj.GetName()), ready, reason,
			age(l.obj.GetCreationTimestamp().Time, now))
		if withNamespace {
			row = l.obj.GetNamespace() + "\t" + row
		}
		_, _ = fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}
