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

package batch

import (
	"context"
	"time"

	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/runs"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// labelledJobs lists a ReactiveJob's Jobs from the API server by their UID
// label, standing in for the controller's indexed Job cache.
type labelledJobs struct{ client.Client }

func (l labelledJobs) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	o := &client.ListOptions{}
	o.ApplyOptions(opts)
	uid, _ := o.FieldSelector.RequiresExactMatch(reactiveJobOwnerIndex)
	return l.Client.List(ctx, list, client.InNamespace(o.Namespace),
		client.MatchingLabels{batchv1alpha1.ReactiveJobControllerUIDLabel: uid})
}

// newStaleReactiveJobReconciler returns a reconciler, outside any manager,
// whose reads of the ReactiveJob return what its client is told to serve.
func newStaleReactiveJobReconciler(initial *batchv1alpha1.ReactiveJob) (*ReactiveJobReconciler, *utils.StaleReads[*batchv1alpha1.ReactiveJob]) {
	c := utils.NewStaleReads(k8sClient, initial)
	return &ReactiveJobReconciler{
		Client:       c,
		Scheme:       k8sClient.Scheme(),
		Recorder:     events.NewFakeRecorder(100),
		Clock:        clock.RealClock{},
		apiReader:    k8sClient,
		jobs:         labelledJobs{k8sClient},
		expectations: runs.NewExpectations(),
		metrics:      newReactiveJobMetrics(time.Now()),
	}, c
}

func reconcileRequest(obj client.Object) ctrl.Request {
	return ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)}
}
