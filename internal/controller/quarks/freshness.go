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

package quarks

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// maxPendingWrites bounds the writes per namespace whose watch events are awaited.
const maxPendingWrites = 64

// cacheFreshness proves, without a request, that the QuarksJob cache of a
// namespace holds every QuarksJob write that completed before a point in
// time. It remembers this controller's own QuarksJob writes (the time the
// request was sent and the resourceVersion it produced) and watches the cache:
// once the cache has delivered an event of that namespace with a
// resourceVersion at least that of a write, the cache holds every QuarksJob
// write the API server committed before that write was sent, since a watch
// delivers a resource's events in resourceVersion order and the API server
// orders writes to one resource by resourceVersion. Only resourceVersions of
// QuarksJobs are compared with each other.
//
// A reconcile that decides from references it read at time t may start a run
// from the cached QuarksJob without reading it from the API server when the
// cache is proven fresh at a time after t: every QuarksJob change made before
// the data change that made the run due is then in the cache (QJ-5). A proof
// comes from a write of this manager, which it sends only while it leads, so a
// cache with a proof also holds the writes of a manager that led before.
type cacheFreshness struct {
	mu      sync.Mutex
	pending map[string][]pendingWrite
	fresh   map[string]time.Time
	now     func() time.Time
}

// pendingWrite is a QuarksJob write whose watch event has not been seen.
type pendingWrite struct {
	rv   string
	sent time.Time
}

func newCacheFreshness() *cacheFreshness {
	return &cacheFreshness{pending: map[string][]pendingWrite{}, fresh: map[string]time.Time{}, now: time.Now}
}

// wrote records a QuarksJob write in namespace, sent at sent, that produced rv.
func (f *cacheFreshness) wrote(namespace, rv string, sent time.Time) {
	if f == nil || rv == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := append(f.pending[namespace], pendingWrite{rv: rv, sent: sent})
	if len(p) > maxPendingWrites {
		p = p[len(p)-maxPendingWrites:] // forgetting a write only delays a proof
	}
	f.pending[namespace] = p
}

// observed records that the cache delivered a QuarksJob of namespace at rv.
func (f *cacheFreshness) observed(namespace, rv string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pending[namespace]
	kept := p[:0]
	for _, w := range p {
		if c, err := resourceversion.CompareResourceVersion(rv, w.rv); err == nil && c >= 0 {
			if w.sent.After(f.fresh[namespace]) {
				f.fresh[namespace] = w.sent
			}
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		delete(f.pending, namespace)
	} else {
		f.pending[namespace] = kept
	}
}

// covers reports whether the QuarksJob cache of namespace is proven to hold
// every QuarksJob write completed before t.
func (f *cacheFreshness) covers(namespace string, t time.Time) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fresh, ok := f.fresh[namespace]
	return ok && fresh.After(t)
}

// predicate observes every QuarksJob event the cache delivers; it passes all.
func (f *cacheFreshness) predicate() predicate.Predicate {
	see := func(o client.Object) bool {
		if o != nil {
			f.observed(o.GetNamespace(), o.GetResourceVersion())
		}
		return true
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return see(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return see(e.ObjectNew) },
		DeleteFunc:  func(e event.DeleteEvent) bool { return see(e.Object) },
		GenericFunc: func(event.GenericEvent) bool { return true },
	}
}
