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
	"math"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	batchcontroller "github.com/jobkeeper/jobkeeper/internal/controller/batch"
)

// configFanOut is B5: one ConfigMap referenced by N QuarksJobs changes; the time until N new Jobs exist, next to
// the plain client doing, 32 at once, what the change cannot avoid for N existing twins of those QuarksJobs:
// create the new Job, write the status once.
func (s *suite) configFanOut(ctx context.Context) error {
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
	n := s.cfg.n
	const ns, cmName = "fanout", "shared-config"
	if err := cl.namespace(ctx, ns); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName, Namespace: ns}, Data: map[string]string{"version": "0"}}
	if err := cl.c.Create(ctx, cm); err != nil {
		return err
	}
	m, err := cl.startManager(ctx, s.bin, "fanout")
	if err != nil {
		return err
	}
	defer m.stop()
	log.Printf("B5 setup: %d QuarksJobs on ConfigMap %s, first runs completed", n, cmName)
	if err := parallel(ctx, n, func(i int) error {
		return cl.c.Create(ctx, quarksJob(ns, fmt.Sprintf("qj-%d", i), cmName))
	}); err != nil {
		return err
	}
	if _, err := tr.waitCount(ctx, ns, n); err != nil {
		return err
	}
	if err := cl.finishAll(ctx, ns, [3]int{0, n, 0}); err != nil {
		return err
	}

	var figures, plain series
	reqs := requestTable{bench: "B5", object: fmt.Sprintf("%d QuarksJobs re-run by a ConfigMap change", n),
		minimum: minimumFor("QuarksJob")}
	for r := range s.cfg.repeat {
		if _, err := m.settle(ctx, 3*time.Second, 2*time.Minute); err != nil {
			log.Printf("B5: %v", err)
		}
		// The limit: the same N QuarksJobs exist as twins (created before the window, first run done), and the
		// plain client does what a config change cannot avoid for each: create the new Job, write the status once.
		pns := fmt.Sprintf("b5-plain-%d", r)
		if err := cl.namespace(ctx, pns); err != nil {
			return err
		}
		twins := make([]*unstructured.Unstructured, n)
		spec := quarksJob(pns, "", cmName).Spec.Template.Spec
		if err := parallel(ctx, n, func(i int) error {
			u, _, err := cl.createQuarksJobTwin(ctx, pns, fmt.Sprintf("qj-%d", i), cmName)
			twins[i] = u
			return err
		}); err != nil {
			return fmt.Errorf("B5 plain: %w", err)
		}
		t0 := time.Now()
		if err := parallel(ctx, n, func(i int) error {
			return cl.quarksJobTwinRun(ctx, twins[i], spec, 2, quarksv1alpha1.RunTriggerConfigChange)
		}); err != nil {
			return fmt.Errorf("B5 plain: %w", err)
		}
		done := time.Now()
		last, err := tr.waitCount(ctx, pns, n)
		if err != nil {
			return err
		}
		if done.After(last) {
			last = done
		}
		plain = append(plain, seconds(last.Sub(t0)))

		seen := tr.countIn(ns)
		if r == 0 {
			s.prof.cpu(m, "b5-fanout", 30*time.Second)
			s.prof.apiServer(ctx, cl, "b5-fanout", 30*time.Second)
		}
		before, err := m.scrape()
		if err != nil {
			return err
		}
		t0 = time.Now()
		if err := cl.c.Patch(ctx, cm, client.RawPatch(client.Merge.Type(),
			[]byte(`{"data":{"version":"`+strconv.Itoa(r+1)+`"}}`))); err != nil {
			return err
		}
		last, err = tr.waitCount(ctx, ns, seen+n)
		if _, serr := m.settle(ctx, 2*time.Second, 2*time.Minute); serr != nil {
			log.Printf("B5 rep %d: %v", r, serr)
		}
		if after, serr := m.scrape(); serr == nil {
			log.Printf("B5 rep %d, manager: %s", r, activity(before, after))
			reqs.perRep = append(reqs.perRep, requestsPerObject(before, after, n))
		}
		if err != nil {
			log.Printf("B5 rep %d: %v", r, err)
			figures = append(figures, math.NaN())
		} else {
			figures = append(figures, seconds(last.Sub(t0)))
			log.Printf("B5 rep %d: %d new Jobs after %s (plain client: %s)", r, n, last.Sub(t0).Round(time.Millisecond),
				time.Duration(plain[r]*float64(time.Second)).Round(time.Millisecond))
		}
		if err := cl.finishAll(ctx, ns, [3]int{0, n, 0}); err != nil {
			return err
		}
	}
	s.prof.wait() // before the deferred stop of the manager
	s.add(row{bench: "B5", figure: fmt.Sprintf("ConfigMap of %d QuarksJobs changed → %d new Jobs exist", n, n),
		unit: unitSeconds, values: figures, limitName: fmt.Sprintf("plain client, minimal work of %d re-runs", n), limit: plain,
		target: "≤ 1.3×", check: func(_, q float64) bool { return q <= 1.3 }})
	s.requests = append(s.requests, reqs)
	return nil
}

// b7Parallelism is the parallelism of B7's NodeJob.
const b7Parallelism = 100

// nodeJobRun is B7: a NodeJob on BENCH_NODES simulated nodes, parallelism 100, pods that run podTime; the run's
// duration next to the ideal ceil(nodes/100) × podTime, and the size of the run object when it has ended.
func (s *suite) nodeJobRun(ctx context.Context) error {
	cl, tr, stop, err := s.nodeCluster(ctx, "B7", "b7")
	if err != nil {
		return err
	}
	defer stop()
	n, parallelism, podTime := s.cfg.nodes, b7Parallelism, s.cfg.podTime
	nodesBy := ""
	if s.cfg.nodeSim == "kwok" {
		stopNodes, err := cl.kwokNodes(ctx, "b7", n, podTime)
		if err != nil {
			return err
		}
		defer stopNodes()
		nodesBy = ", kwok nodes and kube-scheduler"
	}
	bin := s.bin
	if n > batchcontroller.DefaultMaxNodesPerRun {
		// A run of more nodes than the default limit is refused (TooManyNodes): raise the limit as an operator
		// running such a run would.
		bin.args = append(slices.Clone(bin.args), fmt.Sprintf("--max-nodes-per-run=%d", n))
	}
	m, err := cl.startManager(ctx, bin, "nodejob")
	if err != nil {
		return err
	}
	defer m.stop()
	ideal := time.Duration(math.Ceil(float64(n)/float64(parallelism))) * podTime
	var figures, ideals, sizes series
	for r := range s.cfg.repeat {
		ns := fmt.Sprintf("b7-%d", r)
		if err := cl.namespace(ctx, ns); err != nil {
			return err
		}
		if s.cfg.nodeSim == "bench" {
			tr.kubelet.enable(ns, podTime)
		}
		if r == 0 {
			s.prof.cpu(m, "b7-nodejob", ideal)
			s.prof.apiServer(ctx, cl, "b7-nodejob", ideal)
		}
		before, err := m.scrape()
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := cl.c.Create(ctx, nodeJob(ns, "on-every-node", "b7", parallelism)); err != nil {
			return err
		}
		end, phase, err := cl.waitRun(ctx, ns)
		if err != nil {
			return err
		}
		if after, serr := m.scrape(); serr == nil {
			log.Printf("B7 rep %d, manager: %s", r, activity(before, after))
		}
		took := end.Sub(t0)
		size, err := cl.runSize(ctx, ns)
		if err != nil {
			return err
		}
		sizes = append(sizes, float64(size)/1024)
		log.Printf("B7 rep %d: run %s after %s (ideal %s), run object %d bytes", r, phase, took.Round(time.Millisecond),
			ideal, size)
		if phase != batchv1alpha1.NodeJobRunPhaseSucceeded {
			figures = append(figures, math.NaN())
		} else {
			figures = append(figures, seconds(took))
		}
		ideals = append(ideals, seconds(ideal))
	}
	s.prof.wait() // before the deferred stop of the manager
	s.add(row{bench: "B7", figure: fmt.Sprintf("NodeJob run on %d nodes, parallelism %d, pods of %s%s", n, parallelism, podTime, nodesBy),
		unit: unitSeconds, values: figures, limitName: "ideal ⌈nodes/parallelism⌉ × pod time", limit: ideals,
		target: "≤ 1.2×", check: func(_, q float64) bool { return q <= 1.2 }})
	s.add(row{bench: "B7", figure: "  NodeJobRun object at the end (JSON from the API server)", unit: unitKiB,
		values: sizes, target: "< 64 KiB", check: func(v, _ float64) bool { return v < 64 }})
	return nil
}

// nodeCluster starts a control plane with the benchmark's tracker and BENCH_NODES Ready nodes of pool, named
// <pool>-<i>; stop ends the tracker, then the control plane.
func (s *suite) nodeCluster(ctx context.Context, bench, pool string) (cl *cluster, tr *tracker, stop func(), err error) {
	if cl, err = startCluster(ctx, s.dir); err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stop = func() { cancel(); cl.stop() }
	tr, err = cl.startTracker(ctx)
	if err == nil {
		log.Printf("%s setup: %d nodes", bench, s.cfg.nodes)
		err = cl.createNodes(ctx, pool, s.cfg.nodes)
	}
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return cl, tr, stop, nil
}

// runSize returns the size in bytes of the JSON of the NodeJobRun in ns as the API server sends it.
func (cl *cluster) runSize(ctx context.Context, ns string) (int, error) {
	var runs batchv1alpha1.NodeJobRunList
	if err := cl.c.List(ctx, &runs, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	if len(runs.Items) != 1 {
		return 0, fmt.Errorf("%d runs in %s, want 1", len(runs.Items), ns)
	}
	data, err := cl.cs.Discovery().RESTClient().Get().
		AbsPath("/apis", batchv1alpha1.GroupVersion.Group, batchv1alpha1.GroupVersion.Version, "namespaces", ns,
			"nodejobruns", runs.Items[0].Name).
		SetHeader("Accept", "application/json").DoRaw(ctx)
	return len(data), err
}

// waitRun waits until the NodeJobRun in ns ends and returns when the benchmark saw that, and its phase.
func (cl *cluster) waitRun(ctx context.Context, ns string) (time.Time, batchv1alpha1.NodeJobRunPhase, error) {
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		var runs batchv1alpha1.NodeJobRunList
		if err := cl.c.List(ctx, &runs, client.InNamespace(ns)); err != nil {
			return time.Time{}, "", err
		}
		for _, run := range runs.Items {
			if p := run.Status.Phase; p == batchv1alpha1.NodeJobRunPhaseSucceeded || p == batchv1alpha1.NodeJobRunPhaseFailed {
				return time.Now(), p, nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return time.Time{}, "", fmt.Errorf("the run in %s did not end within %s", ns, waitTimeout)
}
