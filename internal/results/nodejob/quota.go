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
	"io"
	"path"

	"github.com/jobkeeper/jobkeeper/internal/results"
)

// RunQuota is what the files of one upload may write to a run before any of
// them is stored: the run's maxRunStorage minus what it holds, plus what the
// files they replace hold (NJ-29). It is checked while the files are
// written, so that an upload is cut off at the first byte beyond it instead
// of filling temporary files up to maxFileSize each; Commit checks the run's
// storage again once the upload is complete.
type RunQuota struct {
	// Run names the run in messages.
	Run string
	// MaxRunStorage is the run's limit.
	MaxRunStorage int64
	// Remaining is MaxRunStorage minus the bytes the run holds.
	Remaining int64
	// NodeBytes is what the node's files hold: the most an upload can free by replacing them.
	NodeBytes int64
	// Replaced returns the size of the node's stored file that a file of this name replaces, or 0.
	Replaced func(name string) int64
}

// quotaFor returns the quota of an upload for a target.
func (r *Routes) quotaFor(t *Target) (RunQuota, error) {
	used, err := r.store.Usage(t.Location)
	if err != nil {
		return RunQuota{}, err
	}
	_, nodeBytes, err := r.store.NodeFiles(t.Location, t.Node)
	if err != nil {
		return RunQuota{}, err
	}
	loc, node := t.Location, t.Node
	return RunQuota{
		Run:           t.Run.Name,
		MaxRunStorage: t.Limits.MaxRunStorage,
		Remaining:     t.Limits.MaxRunStorage - used,
		NodeBytes:     nodeBytes,
		Replaced: func(name string) int64 {
			o, err := r.store.Open(loc, path.Join("nodes", node, "files", name))
			if err != nil || o.File == nil {
				return 0
			}
			defer func() { _ = o.File.Close() }()
			return o.Info.Size()
		},
	}, nil
}

// tooLarge is the answer for an upload beyond the quota.
func (q RunQuota) tooLarge() error {
	return results.TooLarge("upload exceeds maxRunStorage (%d bytes) of run %s", q.MaxRunStorage, q.Run)
}

// Admit checks the Content-Length of an upload before anything is read: a
// body longer than what the run may still take, even with every file of the
// node replaced, is 413.
func (q RunQuota) Admit(contentLength int64) error {
	if contentLength > q.Remaining+q.NodeBytes {
		return q.tooLarge()
	}
	return nil
}

// WithQuota returns a Receiver that passes every file to rc through a reader
// that fails with 413 as soon as the files of the upload would take more than
// q allows.
func WithQuota(rc Receiver, q RunQuota) Receiver {
	return &quotaReceiver{rc: rc, quota: q, net: map[string]int64{}}
}

type quotaReceiver struct {
	rc    Receiver
	quota RunQuota
	// net is, per file name, the bytes written minus the bytes of the stored file it replaces.
	net map[string]int64
}

func (q *quotaReceiver) Add(name string, content io.Reader) error {
	var replaced int64
	if q.quota.Replaced != nil {
		replaced = q.quota.Replaced(name)
	}
	// A later file of the same name replaces an earlier one of the same upload.
	allowed := q.quota.Remaining + replaced
	for n, b := range q.net {
		if n != name {
			allowed -= b
		}
	}
	if allowed < 0 {
		return q.quota.tooLarge()
	}
	lr := &sizeLimit{r: content, n: allowed, over: q.quota.tooLarge()}
	if err := q.rc.Add(name, lr); err != nil {
		return err
	}
	q.net[name] = allowed - lr.n - replaced
	return nil
}
