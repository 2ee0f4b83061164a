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

	"k8s.io/apimachinery/pkg/types"
)

// maxDeletedJobs bounds the Jobs remembered as deleted; forgetting one only
// costs a repeated deletion, which the API server answers with NotFound.
const maxDeletedJobs = 4096

// deletedJobs remembers the UIDs of the Jobs this controller deleted, so that a
// reconcile whose Job cache has not yet seen a deletion does not send it (and
// its Event) again.
type deletedJobs struct {
	mu    sync.Mutex
	uids  map[types.UID]struct{}
	order []types.UID
}

func newDeletedJobs() *deletedJobs {
	return &deletedJobs{uids: map[types.UID]struct{}{}}
}

// add remembers uid as deleted.
func (d *deletedJobs) add(uid types.UID) {
	if d == nil || uid == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.uids[uid]; ok {
		return
	}
	d.uids[uid] = struct{}{}
	d.order = append(d.order, uid)
	if len(d.order) > maxDeletedJobs {
		delete(d.uids, d.order[0])
		d.order = d.order[1:]
	}
}

// has reports whether uid was deleted by this controller.
func (d *deletedJobs) has(uid types.UID) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.uids[uid]
	return ok
}
