//go:build bench

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

package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// waitTimeout bounds every wait for the manager; a figure that times out is reported as missing.
const waitTimeout = 10 * time.Minute

// kind is a jobkeeper kind as B1 and B2 create it.
type kind struct {
	name, plural string
	// create creates one object of the kind, as the operator's user would.
	create func(ctx context.Context, cl *cluster, ns, name string) error
	// plain does the same API work as the operator for one object: the object, then its Job or pod (B1).
	plain func(ctx context.Context, cl *cluster, ns, name string) error
	// minimal does the API work for one object that the operator cannot avoid, on the object's twin of
	// twinGroup: create the object, create its Job, write its status once (B2).
	minimal func(ctx context.Context, cl *cluster, ns, name string) error
	// child is the kind that the tracker files the first Job or pod under.
	child string
}

var kinds = []kind{
	{
		name: "ReactiveJob", plural: "ReactiveJobs", child: "ReactiveJob",
		create: func(ctx context.Context, cl *cluster, ns, name string) error {
			return cl.c.Create(ctx, reactiveJob(ns, name))
		},
		plain: func(ctx context.Context, cl *cluster, ns, name string) error {
			rj := reactiveJob(ns, name)
			if err := cl.c.Create(ctx, rj); err != nil {
				return err
			}
			return cl.c.Create(ctx, ownedJob(rj, rj.Spec.JobTemplate.Spec))
		},
		minimal: minimalReactiveJob,
	},
	{
		name: "QuarksJob (once)", plural: "QuarksJobs (once)", child: "QuarksJob",
		create: func(ctx context.Context, cl *cluster, ns, name string) error {
			return cl.c.Create(ctx, quarksJob(ns, name, ""))
		},
		plain: func(ctx context.Context, cl *cluster, ns, name string) error {
			qj := quarksJob(ns, name, "")
			qj.Spec.Trigger.Strategy = quarksv1alpha1.StrategyManual // the manager, once started, leaves it be
			if err := cl.c.Create(ctx, qj); err != nil {
				return err
			}
			return cl.c.Create(ctx, ownedJob(qj, qj.Spec.Template.Spec))
		},
		minimal: minimalQuarksJob,
	},
	{
		name: "NodeJob (runOnCreate, pod)", plural: "NodeJobs", child: "NodeJob",
		create: func(ctx context.Context, cl *cluster, ns, name string) error {
			return cl.c.Create(ctx, nodeJob(ns, name, "b1", 1))
		},
		plain: plainNodeJob,
	},
}

// ownedJob is a Job controlled by owner.
func ownedJob(owner client.Object, spec batchv1.JobSpec) *batchv1.Job {
	gvk, _ := apiutil.GVKForObject(owner, scheme)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: owner.GetName() + "-plain", Namespace: owner.GetNamespace(),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)}},
		Spec: spec,
	}
}

// plainNodeJob does a NodeJob run's API work for one node: the NodeJob, its run, the run's status (one merge patch,
// as the operator writes it), the pod.
func plainNodeJob(ctx context.Context, cl *cluster, ns, name string) error {
	nj := nodeJob(ns, name, "b1", 1)
	nj.Spec.RunOnCreate = false // the manager, once started, leaves it be
	if err := cl.c.Create(ctx, nj); err != nil {
		return err
	}
	run := &batchv1alpha1.NodeJobRun{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: ns,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(nj, batchv1alpha1.GroupVersion.WithKind("NodeJob"))}},
		Spec: batchv1alpha1.NodeJobRunSpec{NodeJobName: name, ExecutionID: executionID, ScheduledTime: metav1.Now(),
			Trigger: batchv1alpha1.NodeJobRunTriggerOnCreate, NodeJobRunTemplate: nj.Spec.NodeJobRunTemplate},
	}
	if err := cl.c.Create(ctx, run); err != nil {
		return err
	}
	now := metav1.Now()
	unchanged := run.DeepCopy()
	run.Status.Phase, run.Status.StartTime, run.Status.Desired, run.Status.Active = batchv1alpha1.NodeJobRunPhaseRunning, &now, 1, 1
	if err := cl.c.Status().Patch(ctx, run, client.MergeFrom(unchanged)); err != nil {
		return err
	}
	spec := podSpec()
	spec.ServiceAccountName = "default"
	return cl.c.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: run.Name + "-b1-0000", Namespace: ns,
			Labels:      map[string]string{batchv1alpha1.NodeJobNameLabel: name, batchv1alpha1.NodeJobRunNameLabel: run.Name},
			Annotations: map[string]string{batchv1alpha1.NodeJobNodeNameAnnotation: "b1-0000"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(run,
				batchv1alpha1.GroupVersion.WithKind("NodeJobRun"))}},
		Spec: spec,
	})
}

// latencyAndBurst runs B1 and B2 on one control plane. The plain-client latencies of B1 are measured before the
// manager starts (the manager would react to the plain client's objects); B2's plain bursts work on twins of the
// objects in a group the manager does not watch, so they alternate with the operator's bursts.
func (s *suite) latencyAndBurst(ctx context.Context) error {
	cl, err := startCluster(ctx, s.dir)
	if err != nil {
		return err
	}
	defer cl.stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tr, err := cl.startTracker(ctx)
	if err != nil {
		return err
	}
	if err := cl.createNodes(ctx, "b1", 1); err != nil {
		return err
	}
	samples := max(10, s.cfg.n/10)

	plain := map[string][]series{}
	if s.cfg.selected["B1"] {
		for _, k := range kinds {
			p50, p99 := series{}, series{}
			for r := range s.cfg.repeat {
				ns := fmt.Sprintf("b1-plain-%d-%d", len(plain), r)
				lat, err := s.latencies(ctx, cl, tr, ns, samples, k, k.plain)
				if err != nil {
					return fmt.Errorf("B1 plain %s: %w", k.name, err)
				}
				p50, p99 = append(p50, millis(percentile(lat, 50))), append(p99, millis(percentile(lat, 99)))
			}
			plain[k.name] = []series{p50, p99}
		}
	}

	m, err := cl.startManager(ctx, s.bin, "b1b2")
	if err != nil {
		return err
	}
	defer m.stop()
	time.Sleep(5 * time.Second) // the manager's first reconciles of the plain client's objects

	if s.cfg.selected["B1"] {
		for i, k := range kinds {
			p50, p99 := series{}, series{}
			reqs := requestTable{bench: "B1", object: fmt.Sprintf("%s, %d sequential", k.name, samples+1),
				minimum: minimumFor(k.child)}
			for r := range s.cfg.repeat {
				ns := fmt.Sprintf("b1-%d-%d", i, r)
				if r == 0 && s.prof != nil {
					s.prof.wait()
					s.prof.cpu(m, "b1-"+strings.ToLower(k.child), 10*time.Second)
				}
				before, err := m.scrape()
				if err != nil {
					return err
				}
				lat, err := s.latencies(ctx, cl, tr, ns, samples, k, k.create)
				if err != nil {
					return fmt.Errorf("B1 %s: %w", k.name, err)
				}
				if _, err := m.settle(ctx, time.Second, time.Minute); err != nil {
					log.Printf("B1 %s rep %d: %v", k.name, r, err)
				}
				if after, serr := m.scrape(); serr == nil {
					log.Printf("B1 %s rep %d, manager: %s", k.name, r, activity(before, after))
					reqs.perRep = append(reqs.perRep, requestsPerObject(before, after, samples+1))
				}
				p50, p99 = append(p50, millis(percentile(lat, 50))), append(p99, millis(percentile(lat, 99)))
			}
			s.requests = append(s.requests, reqs)
			child := "Job created"
			if k.child == "NodeJob" {
				child = "pod created"
			}
			limit := plain[k.name]
			s.add(row{bench: "B1", figure: fmt.Sprintf("%s create → %s, p50 (%d sequential)", k.name, child, samples),
				unit: unitMillis, values: p50, limitName: "plain client, same writes", limit: limit[0],
				target: "≤ 50 ms", check: func(v, _ float64) bool { return v <= 50 }})
			s.add(row{bench: "B1", figure: fmt.Sprintf("%s create → %s, p99", k.name, child),
				unit: unitMillis, values: p99, limitName: "plain client, same writes", limit: limit[1],
				target: "≤ 250 ms", check: func(v, _ float64) bool { return v <= 250 }})
		}
	}

	if s.cfg.selected["B2"] {
		if err := s.burst(ctx, cl, tr, m); err != nil {
			return err
		}
	}
	s.prof.wait() // before the deferred stop of the manager
	return nil
}

// latencies creates samples objects one after the other with create and measures each until its Job or pod is seen.
func (s *suite) latencies(ctx context.Context, cl *cluster, tr *tracker, ns string, samples int, k kind,
	create func(context.Context, *cluster, string, string) error) ([]time.Duration, error) {
	if err := cl.namespace(ctx, ns); err != nil {
		return nil, err
	}
	var out, toRun, runToPod []time.Duration
	for i := range samples + 1 {
		name := fmt.Sprintf("lat-%d", i)
		t0 := time.Now()
		if err := create(ctx, cl, ns, name); err != nil {
			return nil, err
		}
		at, err := tr.waitParent(ctx, time.Minute, k.child, ns, name)
		if err != nil {
			return nil, fmt.Errorf("waiting for the child of %s/%s: %w; %s", ns, name, err, cl.describe(ctx, ns))
		}
		if i == 0 { // the first object of a kind also pays for the client's discovery of the kind
			continue
		}
		out = append(out, at.Sub(t0))
		if run, ok := tr.runSeen(ns, name); ok {
			toRun, runToPod = append(toRun, run.Sub(t0)), append(runToPod, at.Sub(run))
		}
	}
	if len(toRun) > 0 {
		log.Printf("B1 %s in %s: create → run seen p50 %.1f ms, run seen → pod seen p50 %.1f ms", k.name, ns,
			millis(percentile(toRun, 50)), millis(percentile(runToPod, 50)))
	}
	return out, nil
}

// burst is B2: N objects created at once, until all N Jobs exist; next to the plain client doing, 32 objects at
// once, the minimal work of the same N objects on their twins (create the object, create its Job, write its status
// once) in the same repetition, right before.
func (s *suite) burst(ctx context.Context, cl *cluster, tr *tracker, m *manager) error {
	n := s.cfg.n
	plain := map[string]series{}
	figures := map[string]series{}
	creates := map[string]series{}
	reqs := map[string]*requestTable{}
	for _, k := range kinds[:2] {
		reqs[k.name] = &requestTable{bench: "B2", object: fmt.Sprintf("%d %s at once", n, k.plural),
			minimum: minimumFor(k.child)}
	}
	for r := range s.cfg.repeat {
		for _, k := range kinds[:2] {
			pns := fmt.Sprintf("b2-plain-%s-%d", strings.ToLower(k.child), r)
			if err := cl.namespace(ctx, pns); err != nil {
				return err
			}
			if r == 0 && s.prof != nil {
				s.prof.wait() // one CPU profile at a time
				s.prof.apiServer(ctx, cl, "b2-plain-"+strings.ToLower(k.child), 10*time.Second)
			}
			t0 := time.Now()
			if err := parallel(ctx, n, func(i int) error { return k.minimal(ctx, cl, pns, fmt.Sprintf("burst-%d", i)) }); err != nil {
				return fmt.Errorf("B2 plain %s: %w", k.name, err)
			}
			done := time.Now()
			last, err := tr.waitCount(ctx, pns, n)
			if err != nil {
				return err
			}
			took := last.Sub(t0)
			if done.After(last) {
				took = done.Sub(t0)
			}
			plain[k.name] = append(plain[k.name], seconds(took))
			log.Printf("B2 plain %s, minimal work on twins: %s", k.name, took.Round(time.Millisecond))

			ns := fmt.Sprintf("b2-%s-%d", strings.ToLower(k.child), r)
			if err := cl.namespace(ctx, ns); err != nil {
				return err
			}
			if r == 0 && s.prof != nil {
				s.prof.wait() // one CPU profile at a time
				s.prof.cpu(m, "b2-"+strings.ToLower(k.child), 30*time.Second)
				s.prof.apiServer(ctx, cl, "b2-"+strings.ToLower(k.child), 20*time.Second)
			}
			before, err := m.scrape()
			if err != nil {
				return err
			}
			t0 = time.Now()
			if err := parallel(ctx, n, func(i int) error { return k.create(ctx, cl, ns, fmt.Sprintf("burst-%d", i)) }); err != nil {
				return err
			}
			created := time.Since(t0)
			last, err = tr.waitCount(ctx, ns, n)
			if _, serr := m.settle(ctx, 2*time.Second, 2*time.Minute); serr != nil {
				log.Printf("B2 %s: %v", k.name, serr)
			}
			if after, serr := m.scrape(); serr == nil {
				log.Printf("B2 %s, manager: %s", k.name, activity(before, after))
				reqs[k.name].perRep = append(reqs[k.name].perRep, requestsPerObject(before, after, n))
			}
			if err != nil {
				log.Printf("B2 %s: %v", k.name, err)
				figures[k.name] = append(figures[k.name], nan)
				continue
			}
			figures[k.name] = append(figures[k.name], seconds(last.Sub(t0)))
			creates[k.name] = append(creates[k.name], seconds(created))
			log.Printf("B2 %s: %d created in %s, all Jobs after %s", k.name, n, created.Round(time.Millisecond),
				last.Sub(t0).Round(time.Millisecond))
		}
	}
	for _, k := range kinds[:2] {
		limit := fmt.Sprintf("plain client, minimal work of %d %s", n, k.plural)
		s.add(row{bench: "B2", figure: fmt.Sprintf("%d %s at once → all Jobs exist", n, k.plural), unit: unitSeconds,
			values: figures[k.name], limitName: limit, limit: plain[k.name],
			target: "≤ 1.3×", check: func(_, q float64) bool { return q <= 1.3 }})
		s.add(row{bench: "B2", figure: fmt.Sprintf("  of which: creating the %d %s (admission included)", n, k.plural),
			unit: unitSeconds, values: creates[k.name]})
		s.requests = append(s.requests, *reqs[k.name])
	}
	return nil
}

// describe summarises the jobkeeper objects of ns, for errors.
func (cl *cluster) describe(ctx context.Context, ns string) string {
	var b strings.Builder
	var njs batchv1alpha1.NodeJobList
	var runs batchv1alpha1.NodeJobRunList
	if cl.c.List(ctx, &njs, client.InNamespace(ns)) == nil && cl.c.List(ctx, &runs, client.InNamespace(ns)) == nil {
		for _, o := range njs.Items {
			fmt.Fprintf(&b, "NodeJob %s: %+v; ", o.Name, o.Status)
		}
		for _, o := range runs.Items {
			fmt.Fprintf(&b, "NodeJobRun %s: %+v; ", o.Name, o.Status)
		}
	}
	return b.String()
}
