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

package kindmetrics

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Run is one run of an object, as the Tracker counts it.
type Run struct {
	// UID identifies the run.
	UID types.UID
	// Result is ResultSucceeded or ResultFailed once the run finished, else "".
	Result string
	// Start and End bound a finished run; End zero means unknown, Start zero means no duration.
	Start, End time.Time
}

// Tracker counts each run's end once per process: only runs that end after the
// process started are counted, so a restart does not count old runs again.
type Tracker struct {
	kind    *Kind
	started time.Time

	mu      sync.Mutex
	counted map[types.NamespacedName]map[types.UID]bool
}

// NewTracker returns a tracker for the runs of k; started is the start of the process.
func (k *Kind) NewTracker(started time.Time) *Tracker {
	// API times have a resolution of one second.
	return &Tracker{kind: k, started: started.Truncate(time.Second), counted: map[types.NamespacedName]map[types.UID]bool{}}
}

// Observe records the current runs of one object: it counts runs that ended
// since the last call and sets the number of active runs.
func (t *Tracker) Observe(key types.NamespacedName, runs []Run) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.counted[key]
	next := make(map[types.UID]bool, len(runs))
	active := 0
	for _, r := range runs {
		switch {
		case r.Result == "":
			active++
		case prev[r.UID]:
			next[r.UID] = true
		case !r.End.IsZero() && r.End.Before(t.started):
		default:
			seconds := -1.0
			if !r.Start.IsZero() && !r.End.IsZero() {
				seconds = r.End.Sub(r.Start).Seconds()
			}
			t.kind.Finished(key.Namespace, key.Name, r.Result, seconds)
			next[r.UID] = true
		}
	}
	t.counted[key] = next
	t.kind.Active.WithLabelValues(key.Namespace, key.Name).Set(float64(active))
}

// Forget removes the series of a deleted object.
func (t *Tracker) Forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.counted, key)
	t.kind.Forget(key.Namespace, key.Name)
}
