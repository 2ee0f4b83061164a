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
	"container/list"
	"context"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/jobkeeper/jobkeeper/internal/podrefs"
)

// refMemoBudget bounds the memory the memo of referenced data holds: the
// bytes of its keys and values plus refEntryOverhead per entry.
const (
	refMemoBudget    = 16 << 20
	refEntryOverhead = 256
)

// refKey names a referenced ConfigMap or Secret.
type refKey struct {
	namespace string
	kind      podrefs.Kind
	name      string
}

// refEntry is the data of one ConfigMap or Secret at one resourceVersion.
type refEntry struct {
	key  refKey
	rv   string
	data map[string][]byte // shared by every reader; never modified
	read time.Time         // when the API server answered with it
	size int
}

// refMemo remembers the data of referenced ConfigMaps and Secrets, read from
// the API server, by resourceVersion: the metadata cache tells the current
// resourceVersion, and a reconcile reads the data again only when it differs
// from the remembered one. So a change of a ConfigMap that many QuarksJobs
// reference is read once, not once per QuarksJob, and an unchanged one is not
// read at all. The least recently used entries go beyond refMemoBudget; a
// deleted object's entry goes at once. The data is never logged.
type refMemo struct {
	mu       sync.Mutex
	budget   int
	size     int
	lru      *list.List // of *refEntry, most recently used first
	entries  map[refKey]*list.Element
	inflight map[refKey]chan struct{}
}

func newRefMemo(budget int) *refMemo {
	return &refMemo{budget: budget, lru: list.New(), entries: map[refKey]*list.Element{}, inflight: map[refKey]chan struct{}{}}
}

// lookup returns the data remembered for key at resourceVersion rv, and when it was read.
func (m *refMemo) lookup(key refKey, rv string) (map[string][]byte, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.entries[key]
	if !ok || el.Value.(*refEntry).rv != rv {
		return nil, time.Time{}, false
	}
	m.lru.MoveToFront(el)
	e := el.Value.(*refEntry)
	return e.data, e.read, true
}

// store remembers data as key's at resourceVersion rv, read at read, replacing what was remembered.
func (m *refMemo) store(key refKey, rv string, data map[string][]byte, read time.Time) {
	size := refEntryOverhead + len(key.namespace) + len(key.name)
	for k, v := range data {
		size += len(k) + len(v)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(key)
	if size > m.budget {
		return
	}
	m.entries[key] = m.lru.PushFront(&refEntry{key: key, rv: rv, data: data, read: read, size: size})
	m.size += size
	for m.size > m.budget {
		m.removeLocked(m.lru.Back().Value.(*refEntry).key)
	}
}

// forget drops what is remembered for key.
func (m *refMemo) forget(key refKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(key)
}

func (m *refMemo) removeLocked(key refKey) {
	if el, ok := m.entries[key]; ok {
		m.size -= el.Value.(*refEntry).size
		m.lru.Remove(el)
		delete(m.entries, key)
	}
}

// len returns the number of entries.
func (m *refMemo) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// claim makes the caller the one reader of key from the API server and returns
// the function that ends its claim; when another reader holds it, claim
// returns nil and a channel that closes when that reader is done.
func (m *refMemo) claim(key refKey) (release func(), wait <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ch, ok := m.inflight[key]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	m.inflight[key] = ch
	return func() {
		m.mu.Lock()
		delete(m.inflight, key)
		m.mu.Unlock()
		close(ch)
	}, nil
}

// forgetOnDelete is an event handler that drops a deleted object's memo entry
// before it hands the event on.
type forgetOnDelete struct {
	handler.EventHandler
	memo *refMemo
	kind podrefs.Kind
}

// Delete implements handler.EventHandler.
func (h forgetOnDelete) Delete(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if e.Object != nil {
		h.memo.forget(refKey{namespace: e.Object.GetNamespace(), kind: h.kind, name: e.Object.GetName()})
	}
	h.EventHandler.Delete(ctx, e, q)
}

var _ handler.EventHandler = forgetOnDelete{}

// objectKey returns the object key of a memo key.
func (k refKey) objectKey() client.ObjectKey {
	return client.ObjectKey{Namespace: k.namespace, Name: k.name}
}
