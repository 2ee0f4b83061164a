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
	"sync"
	"sync/atomic"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// workers is how many requests the benchmark sends at once when it creates objects "at once".
const workers = 32

// podSpec is the pod of every job the benchmarks create; nothing runs it.
func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		TerminationGracePeriodSeconds: new(int64(1)),
		Containers:                    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"true"}}},
	}
}

func reactiveJob(ns, name string) *batchv1alpha1.ReactiveJob {
	return &batchv1alpha1.ReactiveJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1alpha1.ReactiveJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			BackoffLimit: new(int32(0)),
			Template:     corev1.PodTemplateSpec{Spec: podSpec()},
		}}},
	}
}

// quarksJob is a QuarksJob of strategy once; with configMap it references the ConfigMap and re-runs when it changes.
func quarksJob(ns, name, configMap string) *quarksv1alpha1.QuarksJob {
	spec := podSpec()
	qj := &quarksv1alpha1.QuarksJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: quarksv1alpha1.QuarksJobSpec{
			Trigger: quarksv1alpha1.Trigger{Strategy: quarksv1alpha1.StrategyOnce},
		},
	}
	if configMap != "" {
		qj.Spec.UpdateOnConfigChange = true
		spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}},
		}}}
		spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}}
	}
	qj.Spec.Template.Spec = batchv1.JobSpec{BackoffLimit: new(int32(0)), Template: corev1.PodTemplateSpec{Spec: spec}}
	return qj
}

// poolLabel selects the simulated nodes of a benchmark.
const poolLabel = "bench.jobkeeper.io/pool"

// nodeJob is a NodeJob that runs once on creation on the nodes of pool, parallelism at a time.
func nodeJob(ns, name, pool string, parallelism int) *batchv1alpha1.NodeJob {
	return &batchv1alpha1.NodeJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1alpha1.NodeJobSpec{
			RunOnCreate: true,
			NodeJobRunTemplate: batchv1alpha1.NodeJobRunTemplate{
				NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{poolLabel: pool}},
				Parallelism:  new(intstr.FromInt32(int32(parallelism))),
				Template:     corev1.PodTemplateSpec{Spec: podSpec()},
			},
		},
	}
}

// node is a Ready simulated node of pool.
func node(name, pool string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		poolLabel: pool, corev1.LabelHostname: name, corev1.LabelOSStable: "linux",
	}}}
}

// nodeName is the name of the i-th node of pool.
func nodeName(pool string, i int) string { return fmt.Sprintf("%s-%04d", pool, i) }

// createNodes creates n Ready nodes of pool, named <pool>-<i>.
func (cl *cluster) createNodes(ctx context.Context, pool string, n int) error {
	return parallel(ctx, n, func(i int) error {
		nd := node(nodeName(pool, i), pool)
		if err := cl.c.Create(ctx, nd); err != nil {
			return err
		}
		now := metav1.Now()
		nd.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
		// What a kubelet reports, so that kube-scheduler can place pods on the node (BENCH_NODE_SIM=kwok).
		nd.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"),
			corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi")}
		nd.Status.Allocatable = nd.Status.Capacity
		if err := cl.c.Status().Update(ctx, nd); err != nil {
			return err
		}
		// The API server taints new nodes not-ready; the node lifecycle controller lifts the taint once the
		// node is Ready. No such controller runs here.
		nd.Spec.Taints = nil
		return cl.c.Update(ctx, nd)
	})
}

// parallel calls f(0..n-1) from workers goroutines and returns the first error.
func parallel(ctx context.Context, n int, f func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// completeJobs sets the status the Job controller would set on every unfinished Job in ns: succeeded.
// It returns how many Jobs it completed.
func (cl *cluster) completeJobs(ctx context.Context, ns string) (int, error) {
	var jobs batchv1.JobList
	if err := cl.c.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	var todo []*batchv1.Job
	for i := range jobs.Items {
		if !jobFinished(&jobs.Items[i]) && jobs.Items[i].DeletionTimestamp == nil {
			todo = append(todo, &jobs.Items[i])
		}
	}
	err := parallel(ctx, len(todo), func(i int) error {
		job := todo[i]
		now := metav1.Now()
		job.Status.StartTime, job.Status.CompletionTime = &now, &now
		job.Status.Succeeded, job.Status.Active = 1, 0
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached",
				Message: "Reached expected number of succeeded pods", LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached",
				Message: "Reached expected number of succeeded pods", LastTransitionTime: now, LastProbeTime: now},
		}
		err := cl.c.Status().Update(ctx, job)
		return client.IgnoreNotFound(err)
	})
	return len(todo), err
}

func jobFinished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
