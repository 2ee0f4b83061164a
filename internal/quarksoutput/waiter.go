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

package quarksoutput

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/labelcache"
	"github.com/jobkeeper/jobkeeper/internal/results"
	resultsquarksjob "github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// The waiter watches the pods of QuarksJob runs.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// Waiter answers the long poll of the output-persist sidecar from a watch of
// the pods labelled with a QuarksJob name (QJ-20, QJ-F16). Every pod event
// wakes the requests waiting on that pod; nothing polls the API server. It
// implements resultsquarksjob.Waiter and runs on every replica.
type Waiter struct {
	pods cache.Cache

	mu      sync.Mutex
	waiting map[types.UID]map[chan struct{}]struct{}
}

var _ resultsquarksjob.Waiter = &Waiter{}

// NewWaiter creates a Waiter with its own pod cache, restricted to pods
// labelled quarks.cloudfoundry.org/qjob-name in namespaces (all when empty),
// and adds it to the manager.
func NewWaiter(mgr manager.Manager, namespaces []string) (*Waiter, error) {
	pods, err := labelcache.New(mgr, &corev1.Pod{}, quarksv1alpha1.QuarksJobNameLabel, namespaces)
	if err != nil {
		return nil, err
	}
	w := &Waiter{pods: pods, waiting: map[types.UID]map[chan struct{}]struct{}{}}
	if err := mgr.Add(w); err != nil {
		return nil, err
	}
	return w, nil
}

// NeedLeaderElection is false: every replica answers its own long polls.
func (w *Waiter) NeedLeaderElection() bool { return false }

// Start registers the pod event handler and runs until ctx ends.
func (w *Waiter) Start(ctx context.Context) error {
	inf, err := w.pods.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("getting the pod informer: %w", err)
	}
	notify := func(obj any) {
		if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if pod, ok := obj.(*corev1.Pod); ok {
			w.wake(pod.UID)
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, obj any) { notify(obj) },
		DeleteFunc: notify,
	})
	if err != nil {
		return fmt.Errorf("adding the pod event handler: %w", err)
	}
	<-ctx.Done()
	return inf.RemoveEventHandler(reg)
}

// wake signals every request waiting on the pod with uid.
func (w *Waiter) wake(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiting[uid] {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending
		}
	}
}

func (w *Waiter) subscribe(uid types.UID) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting[uid] == nil {
		w.waiting[uid] = map[chan struct{}]struct{}{}
	}
	w.waiting[uid][ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.waiting[uid], ch)
		if len(w.waiting[uid]) == 0 {
			delete(w.waiting, uid)
		}
	}
}

// Wait returns the exit codes of the user containers once all have
// terminated, with the files of the Job's output-spec snapshot, or nil when
// timeout passes first (QJ-20, QJ-F15, QJ-F21).
func (w *Waiter) Wait(ctx context.Context, t *resultsquarksjob.Target, timeout time.Duration) (*wire.WaitResponse, error) {
	spec, err := OutputSpec(t.Job)
	if err != nil {
		return nil, results.NewError(400, wire.ReasonOutputInvalid, "%v", err)
	}
	wake, cancel := w.subscribe(t.Pod.UID)
	defer cancel()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	pod := t.Pod
	for {
		cur := &corev1.Pod{}
		if err := w.pods.Get(ctx, client.ObjectKeyFromObject(t.Pod), cur); err == nil && cur.UID == t.Pod.UID {
			pod = cur
		}
		if resp := ended(pod, spec); resp != nil {
			return resp, nil
		}
		select {
		case <-wake:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// ended returns the answer of the long poll when every user container of pod
// has terminated, else nil.
func ended(pod *corev1.Pod, spec *quarksv1alpha1.Output) *wire.WaitResponse {
	statuses := map[string]*corev1.ContainerStateTerminated{}
	for _, s := range pod.Status.ContainerStatuses {
		statuses[s.Name] = s.State.Terminated
	}
	resp := &wire.WaitResponse{Containers: map[string]wire.ContainerState{}, Files: []wire.WaitFile{}}
	for _, c := range pod.Spec.Containers {
		if c.Name == quarksv1alpha1.OutputPersistContainerName {
			continue
		}
		term := statuses[c.Name]
		if term == nil {
			return nil
		}
		resp.Containers[c.Name] = wire.ContainerState{ExitCode: term.ExitCode}
	}
	if spec != nil {
		for _, c := range slices.Sorted(maps.Keys(spec.OutputMap)) {
			for _, f := range slices.Sorted(maps.Keys(spec.OutputMap[c])) {
				resp.Files = append(resp.Files, wire.WaitFile{Container: c, File: f})
			}
		}
	}
	return resp
}
