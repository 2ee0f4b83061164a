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
	"errors"
	"fmt"
	"io/fs"
	"os"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// ReportingController is the reportingController of the Events that job pods send.
const ReportingController = "jobkeeper"

// StoreSink takes the validated reports of NodeJob pods (NJ-26 to NJ-30): it
// records them durably in the report store (the result body, which is also
// the node's receipt, and the node's record), keeps series in the metrics
// registry, creates the Events the pods send, and notes the run as changed so
// that the run controller, the only writer of the run's status, updates its
// counts. It never writes the run.
type StoreSink struct {
	// Client reads NodeJobs from the cache and creates Events.
	Client client.Client
	// Store holds result.json, the uploaded files and the node records.
	Store *reports.FileStore
	// Metrics exports the result series.
	Metrics *nodemetrics.Registry
	// Changes tells the run controller that a run's records changed; nil tells nobody.
	Changes *reports.Changes
	// Clock tells the time; nil uses the real clock.
	Clock clock.PassiveClock
	// Instance is the reportingInstance of Events; the host name when empty.
	Instance string
}

var _ Sink = &StoreSink{}

// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (s *StoreSink) now() metav1.Time {
	if s.Clock == nil {
		return metav1.Now()
	}
	return metav1.NewTime(s.Clock.Now())
}

// Result stores a node's result, synced to disk before it returns, then
// replaces the node's series (NJ-26). The stored result.json is also the
// receipt: from then on the node's record says resultReceived, with the time
// the result was written (reports.FileStore.PutResult), without a second write.
func (s *StoreSink) Result(ctx context.Context, t *Target, r *Result) error {
	if err := s.declare(ctx, t.Run); err != nil {
		return err
	}
	if err := s.Store.PutResult(t.Location, t.Node, r.Raw, t.Limits.MaxRunStorage); err != nil {
		return err
	}
	s.Metrics.SetResult(t.Run, t.Node, seriesOf(r))
	s.Changes.Note(t.Run.Namespace, t.Run.Name)
	return nil
}

// seriesOf keeps the declared labels of a result's series; the registry sets the implicit ones.
func seriesOf(r *Result) []nodemetrics.Series {
	out := make([]nodemetrics.Series, len(r.Series))
	for i, s := range r.Series {
		out[i] = nodemetrics.Series{Suffix: s.Suffix, Value: s.Value, Labels: s.Labels}
	}
	return out
}

// declare makes sure the run's NodeJob declares its families without conflict (NJ-X12).
func (s *StoreSink) declare(ctx context.Context, run *batchv1alpha1.NodeJobRun) error {
	nj := &batchv1alpha1.NodeJob{}
	if err := s.Client.Get(ctx, types.NamespacedName{Namespace: run.Namespace, Name: run.Spec.NodeJobName}, nj); err != nil {
		return results.FromAPIError(err, "NodeJob "+run.Spec.NodeJobName+" no longer exists")
	}
	if _, err := s.Metrics.Declare(nj); err != nil {
		return results.Conflict(wire.ReasonMetricConflict, "%v", err)
	}
	return nil
}

// FilesStored records the node's file count in its record (NJ-29).
func (s *StoreSink) FilesStored(_ context.Context, t *Target, _ []reports.StoredFile) error {
	files, _, err := s.Store.NodeFiles(t.Location, t.Node)
	if err != nil {
		return err
	}
	if _, err := s.Store.UpdateNode(t.Location, t.Node, func(rec *reports.NodeRecord) error {
		rec.Files = files
		return nil
	}); err != nil {
		return err
	}
	s.Changes.Note(t.Run.Namespace, t.Run.Name)
	return nil
}

// Event counts the event against the node's quota in its record and creates it regarding the pod, related to
// the run (NJ-30).
func (s *StoreSink) Event(ctx context.Context, t *Target, e *Event) error {
	if _, err := s.Store.UpdateNode(t.Location, t.Node, func(rec *reports.NodeRecord) error {
		if rec.Events >= t.Limits.MaxEventsPerNode {
			return results.TooManyRequests(0, "node %q has sent maxEventsPerNode (%d) events in run %s",
				t.Node, t.Limits.MaxEventsPerNode, t.Run.Name)
		}
		rec.Events++
		return nil
	}); err != nil {
		return err
	}
	now := s.now()
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: t.Pod.Namespace,
			Name:      fmt.Sprintf("%s.%x", t.Pod.Name, now.UnixNano()),
		},
		EventTime:           metav1.NewMicroTime(now.Time),
		ReportingController: ReportingController,
		ReportingInstance:   s.instance(),
		Action:              e.Action,
		Reason:              e.Reason,
		Type:                e.Type,
		Note:                e.Note,
		Regarding: corev1.ObjectReference{
			APIVersion: "v1", Kind: "Pod", Namespace: t.Pod.Namespace, Name: t.Pod.Name, UID: t.Pod.UID,
		},
		Related: &corev1.ObjectReference{
			APIVersion: batchv1alpha1.GroupVersion.String(), Kind: "NodeJobRun",
			Namespace: t.Run.Namespace, Name: t.Run.Name, UID: t.Run.UID,
		},
	}
	if err := s.Client.Create(ctx, ev); err != nil {
		logf.FromContext(ctx).Error(err, "creating an Event for a NodeJob pod", "pod", t.Pod.Name, "reason", e.Reason)
		return results.Unavailable(0, "the Event could not be created; retry later")
	}
	return nil
}

func (s *StoreSink) instance() string {
	if s.Instance != "" {
		return s.Instance
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return ReportingController
}

// SeriesLoader reads a node's stored result again after a restart (NJ-32). A result that no longer parses (the
// declarations changed) exports nothing.
func SeriesLoader(store *reports.FileStore) nodemetrics.Loader {
	return func(run *batchv1alpha1.NodeJobRun, node string) []nodemetrics.Series {
		data, err := store.ReadResult(reports.LocationOf(run), node)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				logf.Log.WithName("nodejob-results").Error(err, "reading a stored result", "run", run.Name, "node", node)
			}
			return nil
		}
		spec := ResultSpecFor(run, node)
		spec.MaxSize = int64(len(data))
		res, err := ParseResult(data, spec)
		if err != nil {
			return nil
		}
		return seriesOf(res)
	}
}
