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
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

type runFlags struct {
	force   bool
	wait    bool
	timeout time.Duration
}

func newRunCommand(o *options) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run qjob NAME",
		Short: "Run a QuarksJob errand now",
		Long: `Run a QuarksJob now by setting spec.trigger.strategy to now; the operator starts one run and sets
the strategy back to manual.

A one-off QuarksJob whose run has happened (strategy done) is only run again with --force: the
annotation ` + quarksv1alpha1.RunRequestAnnotation + ` is then set to a new token, so the operator runs
it once more; its strategy stays done, so it stays a one-off and keeps re-running on configuration
changes when updateOnConfigChange is set. A QuarksJob whose
strategy is now or once already has a run due; nothing is changed.

With --wait, the command watches the QuarksJob until the run has finished, prints the outcome and
exits non-zero when the run failed.`,
		Example: `  kubectl jobkeeper run qjob my-errand --wait
  kubectl jobkeeper run qjob/my-one-off --force`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, name, err := parseKindName(args, kindQuarksJob)
			if err != nil {
				return withCommandHint(args, err)
			}
			return o.runQuarksJob(cmd.Context(), name, f)
		},
	}
	cmd.Flags().BoolVar(&f.force, "force", false, "run a one-off QuarksJob (strategy done) again")
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait until the run has finished and print its outcome")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 0, "how long --wait waits; 0 waits until the run has finished")
	return cmd
}

// withCommandHint points at the command that starts a run of the kind the user named.
func withCommandHint(args []string, err error) error {
	if len(args) == 0 {
		return err
	}
	kindArg, _, _ := strings.Cut(args[0], "/")
	k, kerr := resolveKind(kindArg)
	if kerr != nil {
		return err
	}
	switch k.gvk {
	case kindQuarksJob.gvk:
		return fmt.Errorf("%w; to run a QuarksJob use: kubectl jobkeeper run qjob NAME", err)
	case kindReactiveJob.gvk:
		return fmt.Errorf("%w; to run a ReactiveJob again use: kubectl jobkeeper rerun rjob NAME", err)
	case kindNodeJob.gvk:
		return fmt.Errorf("%w; to run a NodeJob now use: kubectl jobkeeper trigger njob NAME", err)
	}
	return err
}

// errRunStarting is returned when the operator has started a run and not yet written the strategy back.
var errRunStarting = errors.New("a run has just started and the operator has not yet written the strategy back; try again in a moment")

// runPlan is what `run` does with a QuarksJob: the strategy to set ("" sets nothing) or a run request to make, and
// what to tell the user.
type runPlan struct {
	strategy quarksv1alpha1.Strategy
	// request sets the run-request annotation to a new token (its value is put in place of %s in message).
	request bool
	message string
}

// planRun decides how to run qj. The operator starts a run for the strategy now or once unless
// status.lastRun.generation equals metadata.generation, then writes back manual or done.
func planRun(qj *quarksv1alpha1.QuarksJob, force bool) (runPlan, error) {
	handled := qj.Status.LastRun != nil && qj.Status.LastRun.Generation == qj.Generation
	ref := kindQuarksJob.ref(qj.Name)
	switch s := qj.Spec.Trigger.Strategy; s {
	case quarksv1alpha1.StrategyManual, "":
		return runPlan{
			strategy: quarksv1alpha1.StrategyNow,
			message:  fmt.Sprintf("%s: strategy set to now; the operator starts one run and sets it back to manual", ref),
		}, nil
	case quarksv1alpha1.StrategyNow, quarksv1alpha1.StrategyOnce:
		if handled {
			return runPlan{}, fmt.Errorf("%s (strategy %s): %w", ref, s, errRunStarting)
		}
		return runPlan{message: fmt.Sprintf("%s: a run is already due (strategy %s); nothing changed", ref, s)}, nil
	case quarksv1alpha1.StrategyDone:
		// A once set again over done would ask for the spec and data of the run that has happened, which the
		// operator treats as re-applied and runs nothing for; a run request always runs.
		if !force {
			return runPlan{}, fmt.Errorf("%s is a one-off whose run has happened (strategy done); "+
				"use --force to run it again (a run request; the strategy stays done)", ref)
		}
		return runPlan{
			request: true,
			message: ref + ": run requested (" + quarksv1alpha1.RunRequestAnnotation +
				"=%s); the operator runs it once more and it stays a one-off",
		}, nil
	default:
		return runPlan{}, fmt.Errorf("%s has the unknown strategy %q", ref, s)
	}
}

func (o *options) runQuarksJob(ctx context.Context, name string, f *runFlags) error {
	c, ns, err := o.client()
	if err != nil {
		return err
	}
	var (
		qj   quarksv1alpha1.QuarksJob
		plan runPlan
		// runsBefore is the run count the wait compares against.
		runsBefore int64
	)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &qj); err != nil {
			return err
		}
		runsBefore = qj.Status.RunCount
		var err error
		if plan, err = planRun(&qj, f.force); err != nil || (plan.strategy == "" && !plan.request) {
			return err
		}
		// The resourceVersion precondition makes the plan hold for the object it was made from.
		patch := client.MergeFromWithOptions(qj.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if plan.request {
			token := freshToken(o.clock.Now(), qj.Annotations[quarksv1alpha1.RunRequestAnnotation],
				qj.Status.LastHandledRunRequest)
			if qj.Annotations == nil {
				qj.Annotations = map[string]string{}
			}
			qj.Annotations[quarksv1alpha1.RunRequestAnnotation] = token
			plan.message = fmt.Sprintf(plan.message, token)
		} else {
			qj.Spec.Trigger.Strategy = plan.strategy
		}
		return c.Patch(ctx, &qj, patch)
	})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s not found in namespace %s", kindQuarksJob.ref(name), ns)
		}
		return err
	}
	_, _ = fmt.Fprintln(o.Out, plan.message)
	if !f.wait {
		return nil
	}
	ctx, cancel := watchtools.ContextWithOptionalTimeout(ctx, f.timeout)
	defer cancel()
	last, err := o.waitForRun(ctx, c, ns, name, qj.Generation, runsBefore)
	if err != nil {
		if wait.Interrupted(err) || errors.Is(err, watchtools.ErrWatchClosed) {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s waiting for the run of %s", f.timeout, kindQuarksJob.ref(name))
			}
			return fmt.Errorf("stopped waiting for the run of %s", kindQuarksJob.ref(name))
		}
		return err
	}
	return printRunOutcome(o.Out, name, last)
}

// runProgress is what a QuarksJob says about the run a `run` asked for.
type runProgress struct {
	// run is the run, once it has started.
	run *quarksv1alpha1.RunStatus
	// runNumber is the number of that run.
	runNumber int64
	// finished is true once the run has succeeded or failed.
	finished bool
	// waiting says why no run has started yet, when the QuarksJob says so.
	waiting string
}

// observeRun reads the run that started at or after generation gen, after runsBefore runs.
func observeRun(qj *quarksv1alpha1.QuarksJob, gen, runsBefore int64) (runProgress, error) {
	if lr := qj.Status.LastRun; lr != nil && qj.Status.RunCount > runsBefore && lr.Generation >= gen {
		return runProgress{
			run: lr, runNumber: qj.Status.RunCount,
			finished: lr.Result == quarksv1alpha1.RunResultSucceeded || lr.Result == quarksv1alpha1.RunResultFailed,
		}, nil
	}
	if qj.Status.ObservedGeneration < gen {
		return runProgress{}, nil
	}
	if c := meta.FindStatusCondition(qj.Status.Conditions, quarksv1alpha1.ConditionStalled); c != nil &&
		c.Status == metav1.ConditionTrue && c.Reason == quarksv1alpha1.ReasonInvalidSpec {
		return runProgress{}, fmt.Errorf("%s cannot run: %s: %s", kindQuarksJob.ref(qj.Name), c.Reason, c.Message)
	}
	if c := meta.FindStatusCondition(qj.Status.Conditions, quarksv1alpha1.ConditionReconciling); c != nil &&
		c.Status == metav1.ConditionTrue && c.Reason != quarksv1alpha1.ReasonRunActive {
		return runProgress{waiting: c.Reason + ": " + c.Message}, nil
	}
	return runProgress{}, nil
}

// waitForRun watches the QuarksJob until the run asked for at generation gen has finished.
func (o *options) waitForRun(ctx context.Context, c client.WithWatch, ns, name string, gen, runsBefore int64) (runProgress, error) {
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			list := &quarksv1alpha1.QuarksJobList{}
			return list, c.List(ctx, list, client.InNamespace(ns), &client.ListOptions{Raw: &opts})
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return c.Watch(ctx, &quarksv1alpha1.QuarksJobList{}, client.InNamespace(ns), &client.ListOptions{Raw: &opts})
		},
	}
	var (
		last      runProgress
		announced string
	)
	_, err := watchtools.UntilWithSync(ctx, lw, &quarksv1alpha1.QuarksJob{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("%s was deleted", kindQuarksJob.ref(name))
		}
		qj, ok := ev.Object.(*quarksv1alpha1.QuarksJob)
		if !ok {
			return false, nil
		}
		p, err := observeRun(qj, gen, runsBefore)
		if err != nil {
			return false, err
		}
		last = p
		note := p.waiting
		if p.run != nil {
			note = fmt.Sprintf("run %d started: job %s", p.runNumber, p.run.Name)
		}
		if note != "" && note != announced {
			announced = note
			_, _ = fmt.Fprintln(o.ErrOut, note)
		}
		return p.finished, nil
	})
	return last, err
}

// errRunFailed is returned by `run --wait` when the run failed.
var errRunFailed = errors.New("run failed")

// printRunOutcome prints how a finished run ended; it returns errRunFailed for a failed run.
func printRunOutcome(w io.Writer, name string, p runProgress) error {
	r := p.run
	took := ""
	if r.StartTime != nil && r.CompletionTime != nil {
		took = " in " + duration.HumanDuration(r.CompletionTime.Sub(r.StartTime.Time))
	}
	ref := kindQuarksJob.ref(name)
	if r.Result == quarksv1alpha1.RunResultFailed {
		_, _ = fmt.Fprintf(w, "%s: run %d (job %s) failed%s: %s: %s\n", ref, p.runNumber, r.Name, took, r.Reason, r.Message)
		return errRunFailed
	}
	_, _ = fmt.Fprintf(w, "%s: run %d (job %s) succeeded%s\n", ref, p.runNumber, r.Name, took)
	if len(r.OutputSecrets) > 0 {
		_, _ = fmt.Fprintf(w, "output secrets: %s\n", strings.Join(r.OutputSecrets, ", "))
	}
	return nil
}
