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

package v1alpha1

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// countingReader counts its reads and passes them on.
type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}

// TestNodeJobRunValidatorReadsTheAPIServerOnlyOnACacheMiss: a run of a NodeJob that the cache holds with the named
// UID is admitted without a request; a UID the cache does not hold is checked against the API server.
func TestNodeJobRunValidatorReadsTheAPIServerOnlyOnACacheMiss(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := batchv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cached := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "nj", UID: "uid-1"}}
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(cached).Build()
	// The API server holds a newer NodeJob of the same name, created after the cache's.
	live := &batchv1alpha1.NodeJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "nj", UID: "uid-2"}}
	api := &countingReader{Reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(live).Build()}
	v := &NodeJobRunCustomValidator{Cache: cache, Reader: api}

	run := func(uid types.UID) *batchv1alpha1.NodeJobRun {
		yes := true
		return &batchv1alpha1.NodeJobRun{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "nj-1", OwnerReferences: []metav1.OwnerReference{{
				APIVersion: batchv1alpha1.GroupVersion.String(), Kind: "NodeJob", Name: "nj", UID: uid, Controller: &yes}}},
			Spec: batchv1alpha1.NodeJobRunSpec{NodeJobName: "nj"},
		}
	}
	if _, err := v.ValidateCreate(context.Background(), run("uid-1")); err != nil {
		t.Fatalf("a run of the cached NodeJob was denied: %v", err)
	}
	if api.gets != 0 {
		t.Fatalf("the API server was read %d times for a NodeJob the cache holds", api.gets)
	}
	if _, err := v.ValidateCreate(context.Background(), run("uid-2")); err != nil {
		t.Fatalf("a run of the NodeJob only the API server holds yet was denied: %v", err)
	}
	if api.gets != 1 {
		t.Fatalf("the API server was read %d times on a cache miss, want 1", api.gets)
	}
	if _, err := v.ValidateCreate(context.Background(), run("uid-3")); err == nil {
		t.Fatal("a run naming a UID no NodeJob has was admitted")
	}
}
