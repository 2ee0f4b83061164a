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

package reports

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Changes tells the run controller which runs' records changed, so that it
// recomputes their status. Note never blocks: keys noted before the
// controller starts wait in a set, and afterwards go to the controller's
// queue, which holds each key once however often it is noted until a
// reconcile takes it; many node changes so become one status write.
type Changes struct {
	mu      sync.Mutex
	pending map[types.NamespacedName]struct{}
	add     func(types.NamespacedName)
}

// NewChanges returns Changes with no receiver yet.
func NewChanges() *Changes {
	return &Changes{pending: map[types.NamespacedName]struct{}{}}
}

// Note records that the records of a run changed.
func (c *Changes) Note(namespace, name string) {
	if c == nil {
		return
	}
	key := types.NamespacedName{Namespace: namespace, Name: name}
	c.mu.Lock()
	add := c.add
	if add == nil {
		c.pending[key] = struct{}{}
	}
	c.mu.Unlock()
	if add != nil {
		add(key)
	}
}

// Start sends every key noted so far, and from now on every noted key, to add.
func (c *Changes) Start(add func(types.NamespacedName)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add = add
	for key := range c.pending {
		add(key)
	}
	clear(c.pending)
}
