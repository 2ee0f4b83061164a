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
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// tracker watches Jobs and NodeJob pods and remembers when the benchmark first saw each, by namespace and by
// the object that controls it. The watch delivery is part of every figure, the plain client's included.
type tracker struct {
	mu       sync.Mutex
	seen     map[string]time.Time
	byParent map[string]time.Time
	count    map[string]int
	notify   chan struct{}
	// runs is when the first NodeJobRun of each NodeJob was seen: where a NodeJob's latency splits between the
	// NodeJob controller and the run controller.
	runs map[string]time.Time

	kubelet *kubelet
}

func parentKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// startTracker starts the informers and waits for their first list.
func (cl *cluster) startTracker(ctx context.Context) (*tracker, error) {
	t := &tracker{seen: map[string]time.Time{}, byParent: map[string]time.Time{}, count: map[string]int{},
		runs: map[string]time.Time{}, notify: make(chan struct{}), kubelet: &kubelet{cl: cl, sem: make(chan struct{}, 16)}}
	jobs := informers.NewSharedInformerFactory(cl.cs, 0)
	if _, err := jobs.Batch().V1().Jobs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			job := obj.(*batchv1.Job)
			parent := ""
			if ref := metav1.GetControllerOf(job); ref != nil {
				parent = parentKey(ref.Kind, job.Namespace, ref.Name)
			}
			t.add(job.Namespace, job.Name, parent)
		},
	}); err != nil {
		return nil, err
	}
	pods := informers.NewSharedInformerFactoryWithOptions(cl.cs, 0, informers.WithTweakListOptions(
		func(o *metav1.ListOptions) { o.LabelSelector = batchv1alpha1.NodeJobRunNameLabel }))
	if _, err := pods.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			pod := obj.(*corev1.Pod)
			t.add(pod.Namespace, "pod/"+pod.Name, parentKey("NodeJob", pod.Namespace, pod.Labels[batchv1alpha1.NodeJobNameLabel]))
			t.kubelet.podAdded(ctx, pod)
		},
	}); err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cl.cfg)
	if err != nil {
		return nil, err
	}
	runs := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	if _, err := runs.ForResource(batchv1alpha1.GroupVersion.WithResource("nodejobruns")).Informer().AddEventHandler(
		cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
			run, ok := obj.(metav1.Object)
			if !ok {
				return
			}
			key := parentKey("NodeJob", run.GetNamespace(), run.GetLabels()[batchv1alpha1.NodeJobNameLabel])
			t.mu.Lock()
			if _, seen := t.runs[key]; !seen {
				t.runs[key] = time.Now()
			}
			t.mu.Unlock()
		}}); err != nil {
		return nil, err
	}
	jobs.Start(ctx.Done())
	pods.Start(ctx.Done())
	runs.Start(ctx.Done())
	for typ, ok := range runs.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("the %v informer did not sync", typ)
		}
	}
	for typ, ok := range jobs.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("the %v informer did not sync", typ)
		}
	}
	for typ, ok := range pods.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("the %v informer did not sync", typ)
		}
	}
	return t, nil
}

func (t *tracker) add(ns, name, parent string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	key := ns + "/" + name
	if _, ok := t.seen[key]; ok {
		return
	}
	t.seen[key] = now
	t.count[ns]++
	if _, ok := t.byParent[parent]; parent != "" && !ok {
		t.byParent[parent] = now
	}
	close(t.notify)
	t.notify = make(chan struct{})
}

// wait blocks until cond (called with the lock held) holds, or timeout passes.
func (t *tracker) wait(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.After(timeout)
	for {
		t.mu.Lock()
		ok, ch := cond(), t.notify
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("timed out after %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// runSeen is when the first NodeJobRun of a NodeJob was seen.
func (t *tracker) runSeen(ns, name string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.runs[parentKey("NodeJob", ns, name)]
	return at, ok
}

// waitParent waits until a child of the parent is seen and returns when it was seen.
func (t *tracker) waitParent(ctx context.Context, timeout time.Duration, kind, ns, name string) (time.Time, error) {
	key := parentKey(kind, ns, name)
	var at time.Time
	err := t.wait(ctx, timeout, func() bool {
		var ok bool
		at, ok = t.byParent[key]
		return ok
	})
	return at, err
}

// waitCount waits until n children are seen in ns, at most waitTimeout, and returns when the last was seen.
func (t *tracker) waitCount(ctx context.Context, ns string, n int) (time.Time, error) {
	err := t.wait(ctx, waitTimeout, func() bool { return t.count[ns] >= n })
	if err != nil {
		t.mu.Lock()
		err = fmt.Errorf("%d of %d in %s: %w", t.count[ns], n, ns, err)
		t.mu.Unlock()
		return time.Time{}, err
	}
	return t.last(ns), nil
}

// last is when the latest child in ns was seen.
func (t *tracker) last(ns string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	prefix := ns + "/"
	for k, at := range t.seen {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix && at.After(last) {
			last = at
		}
	}
	return last
}

func (t *tracker) countIn(ns string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count[ns]
}

// kubelet plays the scheduler and the kubelet for NodeJob pods in the namespaces it is enabled for: it binds a
// new pod to its node, reports it Running, and Succeeded podTime after the benchmark saw it.
type kubelet struct {
	cl      *cluster
	sem     chan struct{}
	mu      sync.Mutex
	podTime map[string]time.Duration
	// pools are the node pools of namespaces whose pods are an Indexed Job's: index i runs on <pool>-<i>.
	pools map[string]string
	wg    sync.WaitGroup
}

// enable simulates the pods of ns, each running for podTime.
func (k *kubelet) enable(ns string, podTime time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.podTime == nil {
		k.podTime = map[string]time.Duration{}
	}
	k.podTime[ns] = podTime
}

// enableIndexed simulates the pods of an Indexed Job in ns, each running for podTime on the node of pool whose
// number is the pod's completion index (as createNodes names them).
func (k *kubelet) enableIndexed(ns string, podTime time.Duration, pool string) {
	k.enable(ns, podTime)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pools == nil {
		k.pools = map[string]string{}
	}
	k.pools[ns] = pool
}

// nodeOf is the node a pod runs on: the one its NodeJob annotation names, or for an Indexed Job's pod the node
// of its index.
func (k *kubelet) nodeOf(pod *corev1.Pod) (string, error) {
	if name := pod.Annotations[batchv1alpha1.NodeJobNodeNameAnnotation]; name != "" {
		return name, nil
	}
	k.mu.Lock()
	pool := k.pools[pod.Namespace]
	k.mu.Unlock()
	i, err := strconv.Atoi(pod.Annotations[batchv1.JobCompletionIndexAnnotation])
	if pool == "" || err != nil {
		return "", fmt.Errorf("pod %s names no node", pod.Name)
	}
	return nodeName(pool, i), nil
}

func (k *kubelet) podAdded(ctx context.Context, pod *corev1.Pod) {
	k.mu.Lock()
	d, ok := k.podTime[pod.Namespace]
	k.mu.Unlock()
	if !ok || pod.Spec.NodeName != "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return
	}
	seen := time.Now()
	k.wg.Go(func() {
		if err := k.run(ctx, pod, seen.Add(d)); err != nil && ctx.Err() == nil {
			log.Printf("simulating pod %s/%s: %v", pod.Namespace, pod.Name, err)
		}
	})
}

func (k *kubelet) call(f func() error) error {
	k.sem <- struct{}{}
	defer func() { <-k.sem }()
	return f()
}

func (k *kubelet) run(ctx context.Context, pod *corev1.Pod, end time.Time) error {
	pods := k.cl.cs.CoreV1().Pods(pod.Namespace)
	nodeName, err := k.nodeOf(pod)
	if err != nil {
		return err
	}
	if err := k.call(func() error {
		return pods.Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: nodeName},
		}, metav1.CreateOptions{})
	}); err != nil {
		return fmt.Errorf("binding: %w", err)
	}
	started := metav1.Now()
	running := fmt.Sprintf(`{"status":{"phase":"Running","startTime":%q,"containerStatuses":[`+
		`{"name":"main","image":"busybox","imageID":"","ready":true,"restartCount":0,"started":true,`+
		`"state":{"running":{"startedAt":%q}}}]}}`, started.UTC().Format(time.RFC3339), started.UTC().Format(time.RFC3339))
	if err := k.call(func() error {
		_, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(running), metav1.PatchOptions{}, "status")
		return err
	}); err != nil {
		return fmt.Errorf("reporting Running: %w", err)
	}
	select {
	case <-time.After(time.Until(end)):
	case <-ctx.Done():
		return nil
	}
	finished := metav1.Now()
	succeeded := fmt.Sprintf(`{"status":{"phase":"Succeeded","containerStatuses":[`+
		`{"name":"main","image":"busybox","imageID":"","ready":false,"restartCount":0,"started":false,`+
		`"state":{"terminated":{"exitCode":0,"reason":"Completed","startedAt":%q,"finishedAt":%q}}}]}}`,
		started.UTC().Format(time.RFC3339), finished.UTC().Format(time.RFC3339))
	return k.call(func() error {
		_, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(succeeded), metav1.PatchOptions{}, "status")
		return err
	})
}
