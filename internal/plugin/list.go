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
	"k8s.io/apimachinery/pkg/runtime"
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
		watchChanges  bool
	)
	cmd := &cobra.Command{
		Use:   "list [KIND[,KIND...]]",
		Short: "List QuarksJobs, ReactiveJobs and NodeJobs with their Ready condition",
		Long: `List the objects of all three kinds (or of the kinds named, comma-separated, NodeJobRuns too) in the
namespace, or in all namespaces with -A, with their Ready condition, as kubectl get does for one kind.`,
		Example: `  kubectl jobkeeper list
  kubectl jobkeeper list -A -l team=payments
  kubectl jobkeeper list -w
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
			if watchChanges {
				if isJSONPath(output) {
					return fmt.Errorf("--watch prints a table, names, json or yaml, not %s", output)
				}
				return listAndWatch(cmd.Context(), o, c, kinds, ns, sel, output)
			}
			objs, err := listObjects(cmd.Context(), c, kinds, ns, sel)
			if err != nil {
				return err
			}
			return printListOutput(o.IOStreams, output, objs, ns, o.clock.Now())
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list the objects of all namespaces")
	cmd.Flags().BoolVarP(&watchChanges, "watch", "w", false,
		"after listing, print every object that is added, changed or deleted, until interrupted")
	cmd.Flags().StringVarP(&selector, "selector", "l", "",
		"label selector to filter on, e.g. -l 'app=db,tier!=test' (=, ==, !=, in, notin, exists)")
	cmd.Flags().StringVarP(&output, "output", "o", "",
		"output format: json, yaml, name, jsonpath=TEMPLATE or jsonpath-file=FILE, as in kubectl (default: a table for people)")
	return cmd
}

// listAndWatch lists the objects of kinds, prints them, then prints the objects that change until ctx ends.
func listAndWatch(ctx context.Context, o *options, c client.WithWatch, kinds []kind, ns string, sel labels.Selector,
	output string) error {
	var objs []listedObject
	rvs := map[string]string{}
	for _, k := range kinds {
		found, rv, err := listKind(ctx, c, k, ns, sel)
		if err != nil {
			return err
		}
		rvs[k.plural] = rv
		objs = append(objs, found...)
	}
	p := &watchPrinter{output: output, withNamespace: ns == "", now: o.clock.Now, rows: rowPrinter{w: o.Out}}
	if err := p.start(objs); err != nil {
		return err
	}
	return watchObjects(ctx, c, kinds, ns, sel, rvs, p.object)
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
	var out []listedObject
	for _, k := range kinds {
		found, _, err := listKind(ctx, c, k, ns, sel)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// listOptions selects the objects of namespace ns ("" for all) that match sel.
func listOptions(ns string, sel labels.Selector) []client.ListOption {
	opts := []client.ListOption{client.MatchingLabelsSelector{Selector: sel}}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	return opts
}

// newList returns an empty list of kind k.
func newList(k kind) client.ObjectList {
	switch k.gvk {
	case kindQuarksJob.gvk:
		return &quarksv1alpha1.QuarksJobList{}
	case kindReactiveJob.gvk:
		return &batchv1alpha1.ReactiveJobList{}
	case kindNodeJob.gvk:
		return &batchv1alpha1.NodeJobList{}
	default:
		return &batchv1alpha1.NodeJobRunList{}
	}
}

// listed returns obj of kind k with its conditions. Typed objects leave apiVersion and kind empty; they are set,
// so that -o json|yaml prints them as kubectl does.
func listed(k kind, obj client.Object) listedObject {
	var conditions []metav1.Condition
	switch o := obj.(type) {
	case *quarksv1alpha1.QuarksJob:
		conditions = o.Status.Conditions
	case *batchv1alpha1.ReactiveJob:
		conditions = o.Status.Conditions
	case *batchv1alpha1.NodeJob:
		conditions = o.Status.Conditions
	case *batchv1alpha1.NodeJobRun:
		conditions = o.Status.Conditions
	}
	obj.GetObjectKind().SetGroupVersionKind(k.gvk)
	return listedObject{kind: k, obj: obj, conditions: conditions}
}

// listKind lists the objects of kind k, sorted by namespace and name, and returns the list's resourceVersion.
func listKind(ctx context.Context, c client.Reader, k kind, ns string, sel labels.Selector) ([]listedObject, string,
	error) {
	list := newList(k)
	if err := c.List(ctx, list, listOptions(ns, sel)...); err != nil {
		return nil, "", fmt.Errorf("listing %s: %w", k.plural, err)
	}
	var found []listedObject
	if err := meta.EachListItem(list, func(o runtime.Object) error {
		obj, ok := o.(client.Object)
		if !ok {
			return fmt.Errorf("listing %s: unexpected item %T", k.plural, o)
		}
		found = append(found, listed(k, obj))
		return nil
	}); err != nil {
		return nil, "", err
	}
	slices.SortStableFunc(found, func(a, b listedObject) int {
		return cmp.Or(strings.Compare(a.obj.GetNamespace(), b.obj.GetNamespace()),
			strings.Compare(a.obj.GetName(), b.obj.GetName()))
	})
	return found, list.GetResourceVersion(), nil
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

// listHeader is the header of the table, with NAMESPACE when the objects come from all namespaces.
func listHeader(withNamespace bool) []string {
	h := []string{"NAME", "READY", "REASON", "AGE"}
	if withNamespace {
		h = append([]string{"NAMESPACE"}, h...)
	}
	return h
}

// listRow is the row of one object: kind/name, the Ready condition's status and reason, and the age.
func listRow(l listedObject, withNamespace bool, now time.Time) []string {
	ready, reason := "-", "-"
	if c := meta.FindStatusCondition(l.conditions, "Ready"); c != nil {
		ready, reason = string(c.Status), orDash(c.Reason)
		if c.ObservedGeneration != 0 && c.ObservedGeneration < l.obj.GetGeneration() {
			// The condition describes an older spec: the operator has not looked at the current one yet.
			reason += " (outdated)"
		}
	}
	row := []string{l.kind.ref(l.obj.GetName()), ready, reason, age(l.obj.GetCreationTimestamp().Time, now)}
	if withNamespace {
		row = append([]string{l.obj.GetNamespace()}, row...)
	}
	return row
}

// printList prints the header and one row per object.
func printList(w io.Writer, objs []listedObject, withNamespace bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	_, _ = fmt.Fprintln(tw, strings.Join(listHeader(withNamespace), "\t"))
	for _, l := range objs {
		_, _ = fmt.Fprintln(tw, strings.Join(listRow(l, withNamespace, now), "\t"))
	}
	return tw.Flush()
}
