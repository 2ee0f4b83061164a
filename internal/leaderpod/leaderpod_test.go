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

package leaderpod_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jobkeeper/jobkeeper/internal/leaderpod"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// TestLabeler runs two replicas' labelers against a real API server: a restarted replica drops the label its pod
// kept, and the elected one labels its own pod and takes the label from a former leader that did not clean up.
func TestLabeler(t *testing.T) {
	assets, err := utils.EnvtestAssets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const ns = "default"
	newPod := func(name string, leader bool) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "manager"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "manager"}}},
		}
		if leader {
			pod.Labels[leaderpod.Label] = "true"
		}
		if err := c.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	labelled := func() []string {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{leaderpod.Label: "true"}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pods.Items {
			names = append(names, p.Name)
		}
		return names
	}
	waitFor := func(want string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
			got := labelled()
			return (want == "" && len(got) == 0) || (len(got) == 1 && got[0] == want), nil
		})
		if err != nil {
			t.Fatalf("labelled pods %v, want only %q", labelled(), want)
		}
	}

	// old-leader kept the label: its replica died without removing it. restarted lost the lease and its
	// container restarted with the label still on its pod.
	newPod("old-leader", true)
	newPod("restarted", true)
	newPod("next", false)

	start := func(name string, elected chan struct{}) {
		l := &leaderpod.Labeler{Client: c, Reader: c, Namespace: ns, PodName: name, Elected: elected}
		go func() { _ = l.Start(ctx) }()
	}
	start("restarted", make(chan struct{}))
	nextElected := make(chan struct{})
	start("next", nextElected)

	// Before any election only the pod of the replica that died keeps the label.
	waitFor("old-leader")
	close(nextElected)
	waitFor("next")
}
