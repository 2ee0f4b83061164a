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
	"slices"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

func newRerunCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "rerun rjob NAME",
		Short: "Run a ReactiveJob's Job once more",
		Long: `Ask a ReactiveJob for one more Job by setting its annotation ` + batchv1alpha1.ReactiveJobRerunAnnotation + `
to a fresh, timestamp-based value. The operator creates one Job for the current generation, honouring
the concurrencyPolicy, and records the value in status.lastHandledRerun.`,
		Example: `  kubectl jobkeeper rerun rjob my-migration`,
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, name, err := parseKindName(args, kindReactiveJob)
			if err != nil {
				return withCommandHint(args, err)
			}
			rj := &batchv1alpha1.ReactiveJob{}
			token, err := o.requestRun(cmd.Context(), rj, name, batchv1alpha1.ReactiveJobRerunAnnotation,
				func() string { return rj.Status.LastHandledRerun })
			if err != nil {
				return err
			}
			_, _ = fmt.Fprintf(o.Out, "%s: rerun requested (%s=%s)\n",
				kindReactiveJob.ref(name), batchv1alpha1.ReactiveJobRerunAnnotation, token)
			return nil
		},
	}
}

func newTriggerCommand(o *options) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "trigger njob NAME",
		Short: "Start a NodeJob run now",
		Long: `Ask a NodeJob for one run by setting its annotation ` + batchv1alpha1.NodeJobRunRequestAnnotation + `
to a fresh token, and print the token. The operator creates one NodeJobRun with the trigger Manual,
honouring suspend and the concurrencyPolicy, and records the token in status.lastHandledRunRequest.`,
		Example: `  kubectl jobkeeper trigger njob node-check
  kubectl jobkeeper runs njob node-check`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, name, err := parseKindName(args, kindNodeJob)
			if err != nil {
				return withCommandHint(args, err)
			}
			nj := &batchv1alpha1.NodeJob{}
			token, err := o.requestRun(cmd.Context(), nj, name, batchv1alpha1.NodeJobRunRequestAnnotation,
				func() string { return nj.Status.LastHandledRunRequest })
			if err != nil {
				return err
			}
			if quiet {
				_, _ = fmt.Fprintln(o.Out, token)
				return nil
			}
			_, _ = fmt.Fprintf(o.Out, "%s: run requested with token %s\n", kindNodeJob.ref(name), token)
			if nj.Spec.Suspend {
				_, _ = fmt.Fprintf(o.ErrOut, "warning: %s is suspended; the run starts once spec.suspend is cleared\n", name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the token")
	return cmd
}

// requestRun reads obj, then sets its annotation key to a token that differs from its current value and from
// the value the operator last handled, and returns the token.
func (o *options) requestRun(ctx context.Context, obj client.Object, name, key string, lastHandled func() string) (string, error) {
	c, ns, err := o.client()
	if err != nil {
		return "", err
	}
	k, err := kindOf(o, obj)
	if err != nil {
		return "", err
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("%s not found in namespace %s", k.ref(name), ns)
		}
		return "", err
	}
	token := freshToken(o.clock.Now(), obj.GetAnnotations()[key], lastHandled())
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[key] = token
	obj.SetAnnotations(annotations)
	if err := c.Patch(ctx, obj, patch); err != nil {
		return "", fmt.Errorf("setting %s on %s: %w", key, k.ref(name), err)
	}
	return token, nil
}

// kindOf returns the kind of a typed object of the project.
func kindOf(o *options, obj client.Object) (kind, error) {
	gvks, _, err := o.scheme.ObjectKinds(obj)
	if err != nil {
		return kind{}, err
	}
	for _, k := range allKinds {
		if slices.Contains(gvks, k.gvk) {
			return k, nil
		}
	}
	return kind{}, fmt.Errorf("%T is not a jobkeeper kind", obj)
}

// tokenLayout is the layout of run tokens: RFC 3339 in UTC with a fixed microsecond fraction.
const tokenLayout = "2006-01-02T15:04:05.000000Z07:00"

// freshToken returns a timestamp-based token that differs from every value in used.
func freshToken(now time.Time, used ...string) string {
	taken := sets.New(used...)
	t := now.UTC()
	for {
		token := t.Format(tokenLayout)
		if !taken.Has(token) {
			return token
		}
		t = t.Add(time.Microsecond)
	}
}
