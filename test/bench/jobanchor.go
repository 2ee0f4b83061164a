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
	"os"
	"path/filepath"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// jobControllerSettings are the kube-controller-manager client settings B7J runs the Job controller with.
var jobControllerSettings = []struct {
	name string
	args []string
}{
	// What a cluster whose controller manager's flags cannot be changed (most managed offerings) runs with.
	{"defaults (--kube-api-qps 20, --kube-api-burst 30)", nil},
	// What only a self-managed control plane can set: the client no longer paces the controller.
	{"--kube-api-qps 1000, --kube-api-burst 2000", []string{"--kube-api-qps=1000", "--kube-api-burst=2000"}},
}

// jobAnchor is B7J, the design alternative of a NodeJob run anchored on the Kubernetes Job controller, measured
// on B7's simulated nodes and pods: one Indexed Job per run (completions = nodes, parallelism 100, no retries),
// whose pods kube-controller-manager's Job controller creates, tracks with its finalizer and counts. It runs the
// Job controller once per client setting of jobControllerSettings. The design would also need each index
// pinned to its node by an admission webhook on the Job's pods; B7J leaves that out, so its figures are a
// lower bound for the design.
func (s *suite) jobAnchor(ctx context.Context) error {
	cl, tr, stop, err := s.nodeCluster(ctx, "B7J", "b7j")
	if err != nil {
		return err
	}
	defer stop()
	for i, setting := range jobControllerSettings {
		if err := s.jobAnchorWith(ctx, cl, tr, i, setting.name, setting.args); err != nil {
			return err
		}
	}
	return nil
}

// jobAnchorWith measures B7J with the i-th Job controller setting, named name, of extra flags args.
func (s *suite) jobAnchorWith(ctx context.Context, cl *cluster, tr *tracker, i int, name string, args []string) error {
	kcm, err := cl.startJobController(ctx, fmt.Sprintf("kube-controller-manager-%d", i), args)
	if err != nil {
		return err
	}
	defer kcm.stop()
	n, parallelism, podTime := s.cfg.nodes, b7Parallelism, s.cfg.podTime
	ideal := time.Duration(math.Ceil(float64(n)/float64(parallelism))) * podTime
	var figures, ideals, cpu series
	for r := range s.cfg.repeat {
		ns := fmt.Sprintf("b7j-%d-%d", i, r)
		if err := cl.namespace(ctx, ns); err != nil {
			return err
		}
		tr.kubelet.enableIndexed(ns, podTime, "b7j")
		cpu0, _ := kcm.cpuSeconds()
		t0 := time.Now()
		if err := cl.c.Create(ctx, indexedJob(ns, "on-every-node", n, parallelism)); err != nil {
			return err
		}
		end, outcome, err := cl.waitJob(ctx, ns, "on-every-node", max(waitTimeout, 8*ideal))
		if err != nil {
			return err
		}
		took := end.Sub(t0)
		cpu1, _ := kcm.cpuSeconds()
		log.Printf("B7J %s, rep %d: Job %s after %s (ideal %s), kube-controller-manager %.1f CPU-s",
			name, r, outcome, took.Round(time.Millisecond), ideal, cpu1-cpu0)
		if outcome != batchv1.JobComplete {
			figures = append(figures, math.NaN())
		} else {
			figures = append(figures, seconds(took))
		}
		ideals = append(ideals, seconds(ideal))
		cpu = append(cpu, cpu1-cpu0)
	}
	log.Printf("B7J %s: %d client-side throttling waits logged by kube-controller-manager", name,
		kcm.countLog("client-side throttling"))
	s.add(row{bench: "B7J", figure: fmt.Sprintf("Indexed Job on %d nodes, parallelism %d, pods of %s; Job controller %s",
		n, parallelism, podTime, name),
		unit: unitSeconds, values: figures, limitName: "ideal ⌈nodes/parallelism⌉ × pod time", limit: ideals,
		target: "≤ 1.2× (B7's target)", check: func(_, q float64) bool { return q <= 1.2 }})
	s.add(row{bench: "B7J", figure: "  kube-controller-manager CPU over the run", unit: unitSeconds, values: cpu})
	return nil
}

// indexedJob is the Job a run anchored on the Job controller would create: one index per node.
func indexedJob(ns, name string, completions, parallelism int) *batchv1.Job {
	spec := podSpec()
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			CompletionMode:       new(batchv1.IndexedCompletion),
			Completions:          new(int32(completions)),
			Parallelism:          new(int32(parallelism)),
			BackoffLimitPerIndex: new(int32(0)),
			Template: corev1.PodTemplateSpec{
				// The label the tracker's pod informer selects on, as on a NodeJob's pods.
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1alpha1.NodeJobRunNameLabel: name}},
				Spec:       spec,
			},
		},
	}
}

// waitJob waits for the Job to be Complete or Failed and returns when the benchmark saw it, polling as waitRun
// does so that B7 and B7J are timed alike.
func (cl *cluster) waitJob(ctx context.Context, ns, name string, timeout time.Duration) (time.Time, batchv1.JobConditionType, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		job, err := cl.cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return time.Time{}, "", err
		}
		for _, c := range job.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return time.Now(), c.Type, nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return time.Time{}, "", fmt.Errorf("the Job %s/%s did not end within %s", ns, name, timeout)
}

// startJobController starts kube-controller-manager with only the Job controller and extra flags args.
func (cl *cluster) startJobController(ctx context.Context, name string, args []string) (*process, error) {
	assets, err := utils.EnvtestAssets()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(assets, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("B7J needs kube-controller-manager beside kube-apiserver: run hack/build-k8s.sh kube-controller-manager (%w)", err)
	}
	return cl.startComponent(ctx, name, bin, append([]string{
		"--controllers=job", "--leader-elect=false", "--secure-port=0", "--v=2"}, args...))
}
