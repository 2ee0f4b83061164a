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

package nodejob

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/labelcache"
	"github.com/jobkeeper/jobkeeper/internal/results"
)

// podByAddress identifies a request without a token by its source address
// (callerIdentity PodIP): the caller is the one pod in the run pod cache that
// has that IP, is not on the host network, has not ended, and belongs to a run
// whose callerIdentity is PodIP. The request then goes through the same
// checks as a token's pod (Authorize): the pod must still exist with that UID
// and be the pod the operator recorded for the node.
//
// A pod's first request can come before the cache has its IP: the kubelet
// reports the IP in the pod's status while the containers already start. So
// when no pod has the address yet, the lookup is repeated on the cache for up
// to addressWait before the request is refused.
func (r *Routes) podByAddress(ctx context.Context, req *http.Request) (results.Caller, error) {
	addr, ok := sourceAddr(req)
	if !ok {
		return results.Caller{}, results.Unauthenticated("missing bearer token in the Authorization header")
	}
	wait := r.opts.AddressWait
	if wait == 0 {
		wait = DefaultAddressWait
	}
	deadline := time.Now().Add(wait)
	for {
		caller, found, err := r.lookUpAddress(ctx, addr)
		if err != nil || found {
			return caller, err
		}
		if !time.Now().Before(deadline) {
			return results.Caller{}, results.Unauthenticated("missing bearer token in the Authorization header "+
				"(no running pod of a NodeJob with callerIdentity PodIP has address %s)", addr)
		}
		select {
		case <-ctx.Done():
			return results.Caller{}, results.Unauthenticated("missing bearer token in the Authorization header")
		case <-time.After(addressPoll):
		}
	}
}

// DefaultAddressWait is how long a request without a token waits for the pod cache to learn its address.
const DefaultAddressWait = 5 * time.Second

// addressPoll is how often the pod cache is asked again while a request waits for its address.
const addressPoll = 100 * time.Millisecond

// lookUpAddress finds the one pod in the cache that may be identified by addr.
func (r *Routes) lookUpAddress(ctx context.Context, addr string) (results.Caller, bool, error) {
	var pods corev1.PodList
	if err := r.opts.PodsByIP.List(ctx, &pods, client.MatchingFields{labelcache.PodIPIndex: addr},
		client.UnsafeDisableDeepCopy); err != nil {
		return results.Caller{}, false, results.FromAPIError(err, "the pods cannot be read")
	}
	var found *corev1.Pod
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !r.identifiedByAddress(ctx, pod) {
			continue
		}
		if found != nil {
			return results.Caller{}, false, results.Unauthenticated(
				"more than one pod has address %s; send the pod's token (CALLBACK_SERVICE_TOKEN_FILE)", addr)
		}
		found = pod
	}
	if found == nil {
		return results.Caller{}, false, nil
	}
	return results.Caller{Namespace: found.Namespace, PodName: found.Name, PodUID: found.UID,
		ServiceAccount: found.Spec.ServiceAccountName}, true, nil
}

// identifiedByAddress says whether pod may be identified by its address: it
// runs (not on the host network, not ended, not being deleted) for a run with
// callerIdentity PodIP.
func (r *Routes) identifiedByAddress(ctx context.Context, pod *corev1.Pod) bool {
	if pod.Spec.HostNetwork || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "NodeJobRun" || groupOf(ref.APIVersion) != batchv1alpha1.GroupVersion.Group {
		return false
	}
	run := &batchv1alpha1.NodeJobRun{}
	if err := r.opts.RunReader.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}, run); err != nil {
		return false
	}
	return run.UID == ref.UID && run.Spec.CallerIdentity == batchv1alpha1.NodeJobCallerIdentityPodIP
}

// sourceAddr is the request's source IP in the canonical form of PodIPIndex.
func sourceAddr(req *http.Request) (string, bool) {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return "", false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "", false
	}
	return addr.Unmap().String(), true
}
