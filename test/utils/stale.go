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

package utils

import (
	"context"
	"reflect"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// StaleReads is a client whose reads of objects of type T return a copy it
// is told to serve, as a lagging informer does for a moment after a write;
// everything else goes to the wrapped client. Reconcilers built on it show
// what they do when their cache has not yet seen their own last write.
type StaleReads[T client.Object] struct {
	client.Client
	mu   sync.Mutex
	copy T
}

// NewStaleReads returns a StaleReads over c that serves initial.
func NewStaleReads[T client.Object](c client.Client, initial T) *StaleReads[T] {
	s := &StaleReads[T]{Client: c}
	s.Serve(initial)
	return s
}

// Serve makes the reads of T return a copy of obj.
func (s *StaleReads[T]) Serve(obj T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.copy = obj.DeepCopyObject().(T)
}

// Get implements client.Reader.
func (s *StaleReads[T]) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(T); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(s.copy.DeepCopyObject()).Elem())
		return nil
	}
	return s.Client.Get(ctx, key, obj, opts...)
}
