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

// Package runs holds what every kind does with a run, so that each reconciler
// only says what its run is:
//
//   - Expectations: a freshness guard. A reconciler records the progress it
//     wrote to an object (a counter that never goes back, such as the number of
//     runs started) and acts again only once its cache shows that progress, the
//     way the Kubernetes Job controller waits to observe the pods it created.
//     A reconcile that reads an older copy does nothing; the watch event of the
//     write brings the next one. No extra reads of the API server are needed.
//   - CreateOrAdopt: creation by deterministic identity. AlreadyExists means
//     that an earlier attempt created the child; it is adopted only when it is
//     ours and not terminating, never when a foreign or dying object has the name.
//   - Request: a trigger is a request, not a field value. A token that differs
//     from the last handled one is one new request, even if it was used before.
package runs

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// Expectations remembers, per object UID, the least progress a cached copy
// must show before the object's reconciler may act on it again.
type Expectations struct {
	mu   sync.Mutex
	want map[types.UID]int64
}

// NewExpectations returns empty expectations.
func NewExpectations() *Expectations {
	return &Expectations{want: map[types.UID]int64{}}
}

// Expect records that the object has been written with progress p.
func (e *Expectations) Expect(uid types.UID, p int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p > e.want[uid] {
		e.want[uid] = p
	}
}

// Fresh reports whether a copy showing progress p is at least as new as
// everything recorded for uid, and forgets what it has seen.
func (e *Expectations) Fresh(uid types.UID, p int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	w, ok := e.want[uid]
	if !ok {
		return true
	}
	if p < w {
		return false
	}
	delete(e.want, uid)
	return true
}

// Pending reports whether something is expected for uid.
func (e *Expectations) Pending(uid types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.want[uid]
	return ok
}

// Forget drops what is expected for a deleted object.
func (e *Expectations) Forget(uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.want, uid)
}

// PendingPredicate passes the updates of objects with pending expectations, so
// that the status write a reconciler waits for brings its next reconcile even
// when the controller otherwise ignores status changes.
func (e *Expectations) PendingPredicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc:  func(ev event.UpdateEvent) bool { return e.Pending(ev.ObjectNew.GetUID()) },
	}
}

// ErrNotOurs is returned by CreateOrAdopt when an object with the identity
// exists and is not the run's: foreign, or being deleted.
var ErrNotOurs = errors.New("an object with this identity exists and is not this run's")

// CreateOrAdopt creates obj. When an object with its name already exists, it
// is read from reader (the API server, since the cache may not have it yet)
// into obj and adopted when ours says it is this run's and it is not being
// deleted; otherwise ErrNotOurs is returned (wrapped with the name). It reports
// whether obj was created by this call.
func CreateOrAdopt(ctx context.Context, c client.Writer, reader client.Reader, obj client.Object,
	ours func(existing client.Object) bool) (bool, error) {
	err := c.Create(ctx, obj)
	if err == nil {
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	existing, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return false, fmt.Errorf("copying %s", obj.GetName())
	}
	if err := reader.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		return false, fmt.Errorf("reading %s: %w", obj.GetName(), err)
	}
	if existing.GetDeletionTimestamp() != nil || !ours(existing) {
		return false, fmt.Errorf("%s: %w", obj.GetName(), ErrNotOurs)
	}
	if err := copyInto(existing, obj); err != nil {
		return false, err
	}
	return false, nil
}

// copyInto copies src into dst, two pointers to objects of the same type.
func copyInto(src, dst client.Object) error {
	s, d := reflect.ValueOf(src), reflect.ValueOf(dst)
	if s.Type() != d.Type() || s.Kind() != reflect.Pointer {
		return fmt.Errorf("copying %s: %T is not %T", dst.GetName(), src, dst)
	}
	d.Elem().Set(s.Elem())
	return nil
}

// NewRequest reports whether token is a new request against the last handled
// one: any non-empty token that differs from it, whether used before or not.
func NewRequest(token, lastHandled string) bool {
	return token != "" && token != lastHandled
}
