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

package results

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults of the caller pod reader.
const (
	DefaultPodCacheTTL  = 10 * time.Second
	DefaultPodCacheSize = 4096
)

// PodReader reads the pod of a caller with a direct GET and remembers it for a
// short time, keyed by UID. No informer is needed, nothing lists or watches
// pods, and a pod that keeps reporting costs at most one GET per TTL.
type PodReader struct {
	reader client.Reader
	ttl    time.Duration
	cache  *cache.LRUExpireCache
}

// NewPodReader returns a PodReader over reader (a direct API reader). A ttl of
// 0 means DefaultPodCacheTTL; a negative ttl reads the pod on every call.
func NewPodReader(reader client.Reader, ttl time.Duration, clk clock.PassiveClock) *PodReader {
	if ttl == 0 {
		ttl = DefaultPodCacheTTL
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &PodReader{reader: reader, ttl: ttl, cache: cache.NewLRUExpireCacheWithClock(DefaultPodCacheSize, clk)}
}

// CallerPod returns the caller's pod. It is 401 when the pod no longer exists
// or has another UID than the token, and 503 when the API cannot be read. The
// pod must not be modified.
func (p *PodReader) CallerPod(ctx context.Context, caller Caller) (*corev1.Pod, error) {
	if v, ok := p.cache.Get(caller.PodUID); ok {
		return v.(*corev1.Pod), nil
	}
	pod := &corev1.Pod{}
	if err := p.reader.Get(ctx, types.NamespacedName{Namespace: caller.Namespace, Name: caller.PodName}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, Unauthenticated("the pod of the token no longer exists")
		}
		return nil, FromAPIError(err, "")
	}
	if pod.UID != caller.PodUID || pod.DeletionTimestamp != nil {
		return nil, Unauthenticated("the pod of the token no longer exists")
	}
	if p.ttl > 0 {
		p.cache.Add(caller.PodUID, pod, p.ttl)
	}
	return pod, nil
}
