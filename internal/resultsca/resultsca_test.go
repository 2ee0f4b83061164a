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

package resultsca

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// TestEnsure is a unit test with a fake client: it creates the ConfigMap,
// leaves it alone when it is current, and updates it when the CA rotates.
func TestEnsure(t *testing.T) {
	ctx := context.Background()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	writes := 0
	c := fake.NewClientBuilder().WithScheme(s).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			writes++
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			writes++
			return c.Update(ctx, obj, opts...)
		},
	}).Build()
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	write := func(s string) {
		if err := os.WriteFile(caFile, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &Publisher{Client: c, Reader: c, CAFile: caFile}
	read := func() string {
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: ConfigMapName}, cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data[Key]
	}

	write("ca-1")
	for range 2 {
		if err := p.Ensure(ctx, "ns"); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(); got != "ca-1" || writes != 1 {
		t.Fatalf("after two calls: data %q, %d writes; want ca-1 and 1 write", got, writes)
	}
	write("ca-2")
	if err := p.Ensure(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "ca-2" || writes != 2 {
		t.Fatalf("after rotation: data %q, %d writes; want ca-2 and 2 writes", got, writes)
	}
	var nilPublisher *Publisher
	if err := nilPublisher.Ensure(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
}

// TestRepublisher checks that a rotation signalled by the results server reaches the ConfigMap of every namespace
// that has one, and leaves other ConfigMaps and namespaces alone.
func TestRepublisher(t *testing.T) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	ours := func(ns string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ConfigMapName,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "jobkeeper"}},
			Data: map[string]string{Key: "ca-1"},
		}
	}
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "app-config",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "jobkeeper"}}, Data: map[string]string{Key: "ca-1"}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(ours("a"), ours("b"), other).
		WithIndex(&corev1.ConfigMap{}, "metadata.name", func(o client.Object) []string { return []string{o.GetName()} }).
		Build()
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, []byte("ca-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{}, 1)
	r := &Republisher{Publisher: &Publisher{Client: c, Reader: c, CAFile: caFile}, Changed: changed}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Start(ctx) }()

	data := func(ns, name string) string {
		cm := &corev1.ConfigMap{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data[Key]
	}
	wait := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for data("a", ConfigMapName) != want || data("b", ConfigMapName) != want {
			if time.Now().After(deadline) {
				t.Fatalf("ConfigMaps hold %q and %q, want %q", data("a", ConfigMapName), data("b", ConfigMapName), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("ca-2") // at start
	if err := os.WriteFile(caFile, []byte("ca-3"), 0o600); err != nil {
		t.Fatal(err)
	}
	changed <- struct{}{}
	wait("ca-3") // on a reload
	if got := data("a", "app-config"); got != "ca-1" {
		t.Errorf("another ConfigMap was changed to %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
