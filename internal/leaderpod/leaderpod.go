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

// Package leaderpod labels the pod of the manager replica that leads, so that
// a Service can route to the leader alone: the results API keeps NodeJob
// reports on the leader's volume and in its process, and a job pod that
// reached another replica would only be told to retry.
//
// A replica removes the label from its own pod when it starts (a container
// restarted after losing the lease keeps its pod and its labels), and once
// elected it labels its pod and removes the label from every other pod of the
// manager, so that a leader that died without cleaning up is not selected.
package leaderpod

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Label marks the pod of the leading replica; the results Service selects it.
const Label = "jobkeeper.io/leader"

// The labeler reads and patches the pods of the manager's namespace.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;patch

// Labeler is a manager Runnable that runs on every replica.
type Labeler struct {
	// Client patches pods.
	Client client.Client
	// Reader lists the manager's pods; a direct API reader, since the manager's cache holds no pods.
	Reader client.Reader
	// Namespace and PodName name this replica's pod (from the downward API).
	Namespace, PodName string
	// Elected is closed when this replica leads (the manager's Elected channel).
	Elected <-chan struct{}
	// Backoff spaces the retries of a failed patch; a default when zero.
	Backoff wait.Backoff
}

var (
	_ manager.Runnable               = (*Labeler)(nil)
	_ manager.LeaderElectionRunnable = (*Labeler)(nil)
)

// NeedLeaderElection is false: the label is removed before the election, and set after it.
func (l *Labeler) NeedLeaderElection() bool { return false }

// Start removes the label from this replica's pod, waits for the election, then labels this pod and unlabels the
// others. It retries API errors until ctx ends and returns nil then.
func (l *Labeler) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("leaderpod").WithValues("pod", l.Namespace+"/"+l.PodName)
	if err := l.retry(ctx, func() error { return l.set(ctx, l.PodName, false) }); err != nil {
		return nil //nolint:nilerr // ctx ended
	}
	select {
	case <-ctx.Done():
		return nil
	case <-l.Elected:
	}
	err := l.retry(ctx, func() error {
		if err := l.set(ctx, l.PodName, true); err != nil {
			return err
		}
		return l.unlabelOthers(ctx)
	})
	if err == nil {
		log.Info("labelled the leader's pod", "label", Label)
	}
	return nil
}

// unlabelOthers removes the label from every other pod that has it.
func (l *Labeler) unlabelOthers(ctx context.Context) error {
	var pods corev1.PodList
	if err := l.Reader.List(ctx, &pods, client.InNamespace(l.Namespace),
		client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(labels.Set{Label: "true"})}); err != nil {
		return fmt.Errorf("listing labelled pods: %w", err)
	}
	for i := range pods.Items {
		if name := pods.Items[i].Name; name != l.PodName {
			if err := l.set(ctx, name, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// set adds (on) or removes the label of a pod with a merge patch; a pod that is gone needs nothing.
func (l *Labeler) set(ctx context.Context, name string, on bool) error {
	value := "null"
	if on {
		value = `"true"`
	}
	patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, Label, value))
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name = l.Namespace, name
	if err := l.Client.Patch(ctx, pod, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if client.IgnoreNotFound(err) == nil && !on {
			return nil
		}
		return fmt.Errorf("labelling pod %s/%s: %w", l.Namespace, name, err)
	}
	return nil
}

// retry calls f until it succeeds or ctx ends, logging failures.
func (l *Labeler) retry(ctx context.Context, f func() error) error {
	b := l.Backoff
	if b.Duration == 0 {
		b = wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 1 << 30, Cap: 10 * time.Second}
	}
	return wait.ExponentialBackoffWithContext(ctx, b, func(ctx context.Context) (bool, error) {
		if err := f(); err != nil {
			logf.FromContext(ctx).Error(err, "updating the leader label; retrying")
			return false, nil
		}
		return true, nil
	})
}
