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
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

const mib = 1 << 20

// finished counts the ReactiveJobs, QuarksJobs and NodeJobs of ns whose last run succeeded.
func (cl *cluster) finished(ctx context.Context, ns string) (rj, qj, nj int, err error) {
	var rjs batchv1alpha1.ReactiveJobList
	var qjs quarksv1alpha1.QuarksJobList
	var njs batchv1alpha1.NodeJobList
	for _, l := range []client.ObjectList{&rjs, &qjs, &njs} {
		if err := cl.c.List(ctx, l, client.InNamespace(ns)); err != nil {
			return 0, 0, 0, err
		}
	}
	for _, o := range rjs.Items {
		if o.Status.Succeeded > 0 && o.Status.Active == 0 {
			rj++
		}
	}
	for _, o := range qjs.Items {
		if o.Status.LastRun != nil && o.Status.LastRun.Result == quarksv1alpha1.RunResultSucceeded {
			qj++
		}
	}
	for _, o := range njs.Items {
		if o.Status.LastRun != nil && o.Status.LastRun.Phase == batchv1alpha1.NodeJobRunPhaseSucceeded {
			nj++
		}
	}
	return rj, qj, nj, nil
}

// finishAll completes the Jobs of ns until want ReactiveJobs, QuarksJobs and NodeJobs have finished.
func (cl *cluster) finishAll(ctx context.Context, ns string, want [3]int) error {
	deadline := time.Now().Add(waitTimeout)
	for {
		if _, err := cl.completeJobs(ctx, ns); err != nil {
			return err
		}
		rj, qj, nj, err := cl.finished(ctx, ns)
		if err != nil {
			return err
		}
		if rj >= want[0] && qj >= want[1] && nj >= want[2] {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("finished: %d/%d ReactiveJobs, %d/%d QuarksJobs, %d/%d NodeJobs", rj, want[0], qj, want[1], nj, want[2])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// settle waits until the manager has reconciled nothing for quiet, and returns how long that took.
func (m *manager) settle(ctx context.Context, quiet, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	last, lastChange := -1.0, time.Now()
	for time.Since(start) < limit {
		sc, err := m.scrape()
		if err != nil {
			return 0, err
		}
		if n := sc.reconciles(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) >= quiet {
			return lastChange.Sub(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return time.Since(start), fmt.Errorf("still reconciling after %s", limit)
}

// idleAndMemory runs B3 and B4: N finished objects of each kind and 10×N Secrets and 10×N ConfigMaps; then a
// fresh manager process per repetition, its write requests once settled, and its peak RSS.
func (s *suite) idleAndMemory(ctx context.Context) error {
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
	const ns = "idle"
	if err := s.finishedObjects(ctx, cl, tr, ns); err != nil {
		return err
	}
	if err := s.unrelatedObjects(ctx, cl, "unrelated"); err != nil {
		return err
	}
	managed, err := cl.jsonSize(ctx, ns)
	if err != nil {
		return err
	}
	all, err := cl.jsonSize(ctx, "")
	if err != nil {
		return err
	}
	log.Printf("B3/B4: JSON size of the objects in %s: %.1f MiB; in the cluster: %.1f MiB", ns, managed/mib, all/mib)

	var idleWrites, startupWrites, startupTime, hwm, heap, cpu, fileRSS series
	for r := range s.cfg.repeat {
		f, err := s.idleManager(ctx, cl, r)
		if err != nil {
			return err
		}
		idleWrites, startupWrites = append(idleWrites, f.idleWrites), append(startupWrites, f.startupWrites)
		startupTime, cpu = append(startupTime, f.startupTime), append(cpu, f.cpu)
		hwm, heap, fileRSS = append(hwm, f.hwm), append(heap, f.heap), append(fileRSS, f.fileRSS)
	}
	n := s.cfg.n
	s.add(row{bench: "B3", figure: fmt.Sprintf("idle API writes by the manager, %d finished objects of each kind", n),
		unit: unitPerMin, values: idleWrites, limitName: "plain client: 0", target: "0/min",
		check: func(v, _ float64) bool { return v == 0 }})
	s.add(row{bench: "B3", figure: "  manager CPU while idle", unit: unitCPU, values: cpu})
	s.add(row{bench: "B3", figure: "  writes during start-up until settled", unit: unitCount, values: startupWrites,
		limitName: "plain client: 0"})
	s.add(row{bench: "B3", figure: "  start-up until settled (10 s without reconciles)", unit: unitSeconds, values: startupTime})
	s.add(row{bench: "B4", figure: fmt.Sprintf("manager peak RSS (VmHWM), + %d Secrets and %d ConfigMaps", 10*n, 10*n),
		unit: unitMiB, values: hwm, limitName: "JSON size of the managed objects", limit: series{managed / mib},
		target: "≤ 80 MiB", check: func(v, _ float64) bool { return v <= 80 }})
	s.add(row{bench: "B4", figure: "  manager Go heap in use after the idle window", unit: unitMiB, values: heap,
		limitName: "JSON size of the managed objects", limit: series{managed / mib}})
	s.add(row{bench: "B4", figure: "  resident pages of the manager's binary after the idle window (RssFile)", unit: unitMiB,
		values: fileRSS})
	return nil
}

func diff(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// jsonSize is the size of the JSON of the jobkeeper objects, Jobs and pods in ns ("" for all namespaces, which
// adds Secrets and ConfigMaps).
func (cl *cluster) jsonSize(ctx context.Context, ns string) (float64, error) {
	lists := []client.ObjectList{&batchv1alpha1.ReactiveJobList{}, &quarksv1alpha1.QuarksJobList{},
		&batchv1alpha1.NodeJobList{}, &batchv1alpha1.NodeJobRunList{}, &batchv1.JobList{}, &corev1.PodList{}}
	if ns == "" {
		lists = append(lists, &corev1.SecretList{}, &corev1.ConfigMapList{})
	}
	var total float64
	for _, l := range lists {
		if err := cl.c.List(ctx, l, client.InNamespace(ns)); err != nil {
			return 0, err
		}
		data, err := json.Marshal(l)
		if err != nil {
			return 0, err
		}
		total += float64(len(data))
	}
	return total, nil
}

// finishedObjects creates N ReactiveJobs, QuarksJobs and NodeJobs in ns and runs them to completion with a manager
// that is stopped afterwards.
func (s *suite) finishedObjects(ctx context.Context, cl *cluster, tr *tracker, ns string) error {
	n := s.cfg.n
	if err := cl.namespace(ctx, ns); err != nil {
		return err
	}
	if err := cl.createNodes(ctx, "idle", 1); err != nil {
		return err
	}
	tr.kubelet.enable(ns, 0)
	log.Printf("B3/B4 setup: %d ReactiveJobs, QuarksJobs and NodeJobs, run to completion", n)
	setup, err := cl.startManager(ctx, s.bin, "idle-setup")
	if err != nil {
		return err
	}
	defer setup.stop()
	for _, create := range []func(i int) client.Object{
		func(i int) client.Object { return reactiveJob(ns, fmt.Sprintf("rj-%d", i)) },
		func(i int) client.Object { return quarksJob(ns, fmt.Sprintf("qj-%d", i), "") },
		func(i int) client.Object { return nodeJob(ns, fmt.Sprintf("nj-%d", i), "idle", 1) },
	} {
		if err := parallel(ctx, n, func(i int) error { return cl.c.Create(ctx, create(i)) }); err != nil {
			return err
		}
	}
	if _, err := tr.waitCount(ctx, ns, 3*n); err != nil {
		return fmt.Errorf("waiting for the Jobs and pods: %w", err)
	}
	if err := cl.finishAll(ctx, ns, [3]int{n, n, n}); err != nil {
		return err
	}
	if _, err := setup.settle(ctx, 10*time.Second, 5*time.Minute); err != nil {
		log.Printf("B3/B4 setup: %v", err)
	}
	return nil
}

// unrelatedObjects creates 10×N Secrets and 10×N ConfigMaps of 1 KiB in ns.
func (s *suite) unrelatedObjects(ctx context.Context, cl *cluster, ns string) error {
	n := 10 * s.cfg.n
	if err := cl.namespace(ctx, ns); err != nil {
		return err
	}
	log.Printf("B3/B4 setup: %d Secrets and %d ConfigMaps of 1 KiB each", n, n)
	payload := strings.Repeat("x", 1024)
	return parallel(ctx, n, func(i int) error {
		if err := cl.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%d", i), Namespace: ns},
			StringData: map[string]string{"data": payload}}); err != nil {
			return err
		}
		return cl.c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c-%d", i), Namespace: ns},
			Data: map[string]string{"data": payload}})
	})
}

// idleFigures are what one manager process of B3 and B4 measured.
type idleFigures struct {
	idleWrites, startupWrites, startupTime, cpu, hwm, heap, fileRSS float64
}

// idleManager starts a fresh manager, waits until it settles, and measures it over the idle window.
func (s *suite) idleManager(ctx context.Context, cl *cluster, r int) (idleFigures, error) {
	var f idleFigures
	m, err := cl.startManager(ctx, s.bin, fmt.Sprintf("idle-%d", r))
	if err != nil {
		return f, err
	}
	defer m.stop()
	took, err := m.settle(ctx, 10*time.Second, 5*time.Minute)
	if err != nil {
		log.Printf("B3: %v", err)
	}
	before, err := m.scrape()
	if err != nil {
		return f, err
	}
	cpu0, _ := m.cpuSeconds()
	if r == 0 {
		s.prof.cpu(m, "b3-idle", s.cfg.idle)
	}
	select {
	case <-ctx.Done():
		return f, ctx.Err()
	case <-time.After(s.cfg.idle):
	}
	after, err := m.scrape()
	if err != nil {
		return f, err
	}
	cpu1, _ := m.cpuSeconds()
	peak, err := m.procStatus("VmHWM")
	if err != nil {
		return f, err
	}
	// What the resident set is made of now: the Go runtime's anonymous memory, and the pages of the binary.
	anon, _ := m.procStatus("RssAnon")
	file, _ := m.procStatus("RssFile")
	log.Printf("B4 rep %d: resident now: anonymous %.1f MiB, file-backed %.1f MiB", r, anon/mib, file/mib)
	f = idleFigures{
		idleWrites:    (after.writes() - before.writes()) / s.cfg.idle.Minutes(),
		startupWrites: before.writes(),
		startupTime:   seconds(took),
		cpu:           (cpu1 - cpu0) / s.cfg.idle.Minutes(),
		hwm:           peak / mib,
		heap:          after.sum("go_memstats_heap_inuse_bytes", nil) / mib,
		fileRSS:       file / mib,
	}
	log.Printf("B3/B4 rep %d: settled after %s with %.0f requests, %.0f writes %v; idle: %.0f requests, "+
		"writes %.1f/min %v; VmHWM %.1f MiB", r, took.Round(time.Second), before.requests(), before.writes(),
		before.writesByVerb(), after.requests()-before.requests(), f.idleWrites,
		diff(after.writesByVerb(), before.writesByVerb()), f.hwm)
	if r == 0 {
		s.prof.wait()
		s.prof.heap(m, "b4-manager")
	}
	return f, nil
}
