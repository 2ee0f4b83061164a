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

package batch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/nodejob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// ReportingController is the reportingController of the Events that job pods send.
const ReportingController = "jobkeeper"

// NodeJobResults takes the validated reports of NodeJob pods from the results
// API: it keeps series in the metrics registry, records what each node sent in
// its run's status and creates the Events the pods send (NJ-26 to NJ-30). It
// implements nodejob.Sink.
type NodeJobResults struct {
	// Client reads NodeJobs from the cache and writes run status and Events.
	Client client.Client
	// APIReader reads runs from the API server when a status write conflicts.
	APIReader client.Reader
	// Store holds result.json and the uploaded files.
	Store *reports.FileStore
	// Metrics exports the result series.
	Metrics *nodemetrics.Registry
	// Clock tells the time; nil uses the real clock.
	Clock clock.PassiveClock
	// Instance is the reportingInstance of Events; the host name when empty.
	Instance string
}

var _ nodejob.Sink = &NodeJobResults{}

// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (s *NodeJobResults) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// Result stores a node's result, records it in the run status and replaces the node's series (NJ-26).
func (s *NodeJobResults) Result(ctx context.Context, t *nodejob.Target, r *nodejob.Result) error {
	if err := s.declare(ctx, t.Run); err != nil {
		return err
	}
	if err := s.Store.PutResult(t.Location, t.Node, r.Raw, t.Limits.MaxRunStorage); err != nil {
		return err
	}
	_, runBytes, err := s.Store.NodeFiles(t.Location, t.Node)
	if err != nil {
		return err
	}
	now := metav1.NewTime(s.now())
	run, err := s.updateNode(ctx, t, func(n *batchv1alpha1.NodeJobRunNode, st *batchv1alpha1.NodeJobRunStatus) error {
		n.ResultReceived, n.ResultTime = true, &now
		st.StorageBytes = runBytes
		return nil
	})
	if err != nil {
		return err
	}
	s.Metrics.SetResult(run, t.Node, seriesOf(r))
	return nil
}

// seriesOf keeps the declared labels of a result's series; the registry sets the implicit ones.
func seriesOf(r *nodejob.Result) []nodemetrics.Series {
	out := make([]nodemetrics.Series, len(r.Series))
	for i, s := range r.Series {
		out[i] = nodemetrics.Series{Suffix: s.Suffix, Value: s.Value, Labels: s.Labels}
	}
	return out
}

// declare makes sure the run's NodeJob declares its families without conflict (NJ-X12).
func (s *NodeJobResults) declare(ctx context.Context, run *batchv1alpha1.NodeJobRun) error {
	nj := &batchv1alpha1.NodeJob{}
	if err := s.Client.Get(ctx, types.NamespacedName{Namespace: run.Namespace, Name: run.Spec.NodeJobName}, nj); err != nil {
		return results.FromAPIError(err, "NodeJob "+run.Spec.NodeJobName+" no longer exists")
	}
	if _, err := s.Metrics.Declare(nj); err != nil {
		return results.Conflict(wire.ReasonMetricConflict, "%v", err)
	}
	return nil
}

// FilesStored records the node's file count and the run's storage (NJ-29).
func (s *NodeJobResults) FilesStored(ctx context.Context, t *nodejob.Target, _ []reports.StoredFile) error {
	files, runBytes, err := s.Store.NodeFiles(t.Location, t.Node)
	if err != nil {
		return err
	}
	_, err = s.updateNode(ctx, t, func(n *batchv1alpha1.NodeJobRunNode, st *batchv1alpha1.NodeJobRunStatus) error {
		n.Files = int32(min(files, int(^uint32(0)>>1)))
		st.StorageBytes = runBytes
		return nil
	})
	return err
}

// Event counts the event against the node's quota and creates it regarding the pod, related to the run (NJ-30).
func (s *NodeJobResults) Event(ctx context.Context, t *nodejob.Target, e *nodejob.Event) error {
	run, err := s.updateNode(ctx, t, func(n *batchv1alpha1.NodeJobRunNode, _ *batchv1alpha1.NodeJobRunStatus) error {
		if int(n.Events) >= t.Limits.MaxEventsPerNode {
			return results.TooManyRequests(0, "node %q has sent maxEventsPerNode (%d) events in run %s",
				t.Node, t.Limits.MaxEventsPerNode, t.Run.Name)
		}
		n.Events++
		return nil
	})
	if err != nil {
		return err
	}
	now := s.now()
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: t.Pod.Namespace,
			Name:      fmt.Sprintf("%s.%x", t.Pod.Name, now.UnixNano()),
		},
		EventTime:           metav1.NewMicroTime(now),
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
			Namespace: run.Namespace, Name: run.Name, UID: run.UID,
		},
	}
	if err := s.Client.Create(ctx, ev); err != nil {
		logf.FromContext(ctx).Error(err, "creating an Event for a NodeJob pod", "pod", t.Pod.Name, "reason", e.Reason)
		return results.Unavailable(0, "the Event could not be created; retry later")
	}
	return nil
}

func (s *NodeJobResults) instance() string {
	if s.Instance != "" {
		return s.Instance
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return ReportingController
}

// updateNode applies change to the node's entry of the run and writes the status, re-reading the run from the
// API server when the write conflicts. It returns the run as written.
func (s *NodeJobResults) updateNode(ctx context.Context, t *nodejob.Target,
	change func(*batchv1alpha1.NodeJobRunNode, *batchv1alpha1.NodeJobRunStatus) error) (*batchv1alpha1.NodeJobRun, error) {
	run := t.Run.DeepCopy()
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			run = &batchv1alpha1.NodeJobRun{}
			if err := s.APIReader.Get(ctx, client.ObjectKeyFromObject(t.Run), run); err != nil {
				return err
			}
			if run.UID != t.Run.UID {
				return apierrors.NewNotFound(batchv1alpha1.GroupVersion.WithResource("nodejobruns").GroupResource(), t.Run.Name)
			}
		}
		first = false
		before := run.DeepCopy()
		var entry *batchv1alpha1.NodeJobRunNode
		for i := range run.Status.Nodes {
			if run.Status.Nodes[i].Name == t.Node {
				entry = &run.Status.Nodes[i]
			}
		}
		if entry == nil {
			return results.Forbidden("node %q is not a node of run %s", t.Node, run.Name)
		}
		if err := change(entry, &run.Status); err != nil {
			return err
		}
		setRunCounts(&run.Status)
		return s.Client.Status().Patch(ctx, run, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
	if err == nil {
		return run, nil
	}
	if _, ok := errors.AsType[*results.Error](err); ok {
		return nil, err
	}
	return nil, results.FromAPIError(err, "run "+t.Run.Name+" no longer exists")
}

// loadSeries reads a node's stored result again after a restart (NJ-32). A result that no longer parses (the
// declarations changed) exports nothing.
func loadSeries(store *reports.FileStore) nodemetrics.Loader {
	return func(run *batchv1alpha1.NodeJobRun, node string) []nodemetrics.Series {
		data, err := store.ReadResult(reports.LocationOf(run), node)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				logf.Log.WithName("nodejob-results").Error(err, "reading a stored result", "run", run.Name, "node", node)
			}
			return nil
		}
		spec := nodejob.ResultSpecFor(run, node)
		spec.MaxSize = int64(len(data))
		res, err := nodejob.ParseResult(data, spec)
		if err != nil {
			return nil
		}
		return seriesOf(res)
	}
}
