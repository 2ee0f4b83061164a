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

package quarksoutput

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
	"github.com/jobkeeper/jobkeeper/internal/podrefs"
	"github.com/jobkeeper/jobkeeper/internal/results"
	resultsquarksjob "github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// Event reasons of output persistence (QJ-30).
const (
	EventOutputPersisted        = "OutputPersisted"
	EventOutputRejected         = "OutputRejected"
	EventOutputConflict         = "OutputConflict"
	EventVersionedSecretsPruned = "VersionedSecretsPruned"
)

// The sink reads and writes output Secrets directly, reads the pod for its exit codes and records what became of
// the output on the run's Job, where the QuarksJob controller observes it.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;create;update;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Sink writes the output of a QuarksJob run into Secrets. It implements
// resultsquarksjob.OutputSink.
type Sink struct {
	// Client writes Secrets and the output result annotation of the run's Job.
	Client client.Client
	// Reader reads pods, Secrets and Jobs from the API server.
	Reader client.Reader
	// Recorder emits events.
	Recorder events.EventRecorder
	// AdoptLegacy adopts Secrets with neither a qjob-name label nor
	// ownerReferences whose container-name label matches (QJ-F18).
	AdoptLegacy bool
}

var (
	_ resultsquarksjob.OutputSink     = &Sink{}
	_ resultsquarksjob.OutputRejecter = &Sink{}
)

// RejectOutput records an upload that the routes refused before parsing it
// fully, such as a file over 1 MiB: the run fails with OutputInvalid and the
// message of e, nothing is written, and e is returned (QJ-X18).
func (s *Sink) RejectOutput(ctx context.Context, t *resultsquarksjob.Target, e *results.Error) error {
	return s.reject(ctx, t, e)
}

// PersistOutput checks every file of the upload, then writes the Secrets and
// records them in the run's status (QJ-21 to QJ-26, QJ-F17 to QJ-F19, QJ-F21).
// A rejected upload writes no Secret and fails the run with its reason.
func (s *Sink) PersistOutput(ctx context.Context, t *resultsquarksjob.Target, out *resultsquarksjob.Output) ([]string, error) {
	if r := outputResult(t.Job); r.Reason != "" {
		// A rejection is final: a later upload never turns the run into a success.
		return nil, results.Conflict(wire.ReasonRunNotActive, "the output of job %s was rejected: %s: %s",
			t.Job.Name, r.Reason, r.Message)
	}
	spec, err := OutputSpec(t.Job)
	if err != nil {
		return nil, s.reject(ctx, t, results.NewError(http.StatusBadRequest, wire.ReasonOutputInvalid, "%v", err))
	}
	// The exit codes come from the pod as it is now, not as the caller check may have remembered it (QJ-21).
	pod := &corev1.Pod{}
	if err := s.Reader.Get(ctx, client.ObjectKeyFromObject(t.Pod), pod); err != nil {
		return nil, results.FromAPIError(err, "pod "+t.Pod.Name+" no longer exists")
	}
	if pod.UID != t.Pod.UID {
		return nil, results.NotFound("pod %s no longer exists", t.Pod.Name)
	}
	p, err := makePlan(spec, t.QuarksJob.Name, pod, out.Files)
	if err != nil {
		if e, ok := errors.AsType[*results.Error](err); ok && e.Reason != wire.ReasonContainersRunning {
			return nil, s.reject(ctx, t, e)
		}
		return nil, err
	}

	// Check ownership of every target before anything is written (QJ-F18).
	writes := make([]*write, 0, len(p.secrets))
	for i := range p.secrets {
		w, err := s.prepare(ctx, t, &p.secrets[i])
		if err != nil {
			return nil, s.rejectIfAnswer(ctx, t, err)
		}
		writes = append(writes, w)
	}
	limit := quarksv1alpha1.DefaultVersionedSecretHistoryLimit
	if spec != nil && spec.VersionedSecretHistoryLimit != nil {
		limit = *spec.VersionedSecretHistoryLimit
	}
	written := make([]string, 0, len(writes))
	for _, w := range writes {
		name, err := s.apply(ctx, t, w, int(limit))
		if err != nil {
			return nil, err
		}
		written = append(written, name)
	}
	slices.Sort(written)
	written = slices.Compact(written)

	if err := s.recordResult(ctx, t, quarksv1alpha1.JobOutputResult{Secrets: written}); err != nil {
		return nil, err
	}
	s.Recorder.Eventf(t.QuarksJob, t.Job, corev1.EventTypeNormal, EventOutputPersisted, "Persist",
		"persisted the output of job %s into %s", t.Job.Name, strings.Join(written, ", "))
	for _, c := range p.emptyRemoteID {
		s.Recorder.Eventf(t.QuarksJob, t.Pod, corev1.EventTypeWarning, EventOutputPersisted, "Persist",
			"container %s sets %s to a value that is not a valid label value; its Secrets get no %s label",
			c, quarksv1alpha1.RemoteIDEnv, quarksv1alpha1.RemoteIDLabel)
	}
	return written, nil
}

// rejectIfAnswer records a rejection when err is a 4xx answer and returns err.
func (s *Sink) rejectIfAnswer(ctx context.Context, t *resultsquarksjob.Target, err error) error {
	if e, ok := errors.AsType[*results.Error](err); ok && e.Code < http.StatusInternalServerError {
		return s.reject(ctx, t, e)
	}
	return err
}

// reject records the rejection on the run's Job, which fails the run, and
// emits an event; it returns e, or a 503 when the Job could not be written.
func (s *Sink) reject(ctx context.Context, t *resultsquarksjob.Target, e *results.Error) error {
	reason := e.Reason
	if reason == wire.ReasonTooLarge || reason == wire.ReasonInvalidRequest {
		reason = quarksv1alpha1.RunReasonOutputInvalid
	}
	if err := s.recordResult(ctx, t, quarksv1alpha1.JobOutputResult{Reason: reason, Message: e.Message}); err != nil {
		return err
	}
	event := EventOutputRejected
	if e.Reason == wire.ReasonOutputConflict {
		event = EventOutputConflict
	}
	s.Recorder.Eventf(t.QuarksJob, t.Job, corev1.EventTypeWarning, event, "Persist", "output of job %s rejected: %s",
		t.Job.Name, e.Message)
	return e
}

// outputResult reads the output result a Job carries; zero when none.
func outputResult(job *batchv1.Job) quarksv1alpha1.JobOutputResult {
	var r quarksv1alpha1.JobOutputResult
	if v := job.Annotations[quarksv1alpha1.OutputResultAnnotation]; v != "" {
		_ = json.Unmarshal([]byte(v), &r)
	}
	return r
}

// recordResult writes the output result onto the run's Job with an optimistic
// lock, reading the Job again on a conflict. A rejection already recorded is
// never replaced: a later result answers 409.
func (s *Sink) recordResult(ctx context.Context, t *resultsquarksjob.Target, result quarksv1alpha1.JobOutputResult) error {
	value, err := json.Marshal(result)
	if err != nil {
		return results.BadRequest("encoding the output result: %v", err)
	}
	job := t.Job.DeepCopy()
	first := true
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := s.Reader.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
				return err
			}
			if job.UID != t.Job.UID {
				return results.Conflict(wire.ReasonRunNotActive, "job %s no longer exists", t.Job.Name)
			}
		}
		first = false
		if prev := outputResult(job); prev.Reason != "" {
			return results.Conflict(wire.ReasonRunNotActive, "the output of job %s was rejected: %s: %s",
				job.Name, prev.Reason, prev.Message)
		}
		patch := client.MergeFromWithOptions(job.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if job.Annotations == nil {
			job.Annotations = map[string]string{}
		}
		job.Annotations[quarksv1alpha1.OutputResultAnnotation] = string(value)
		return s.Client.Patch(ctx, job, patch)
	})
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*results.Error](err); ok {
		return e
	}
	return results.FromAPIError(err, "job "+t.Job.Name+" no longer exists")
}

// write is a checked write of one desired Secret.
type write struct {
	want *desiredSecret
	// current is the existing Secret of a non-versioned output, nil when absent.
	current *corev1.Secret
	// members are the owned members of a versioned series, oldest first.
	members []seriesMember
}

type seriesMember struct {
	name    string
	version int
}

// prepare reads what exists under the name of want and checks that the
// QuarksJob owns it (QJ-F18).
func (s *Sink) prepare(ctx context.Context, t *resultsquarksjob.Target, want *desiredSecret) (*write, error) {
	qj := t.QuarksJob
	if !want.versioned {
		cur := &corev1.Secret{}
		err := s.Reader.Get(ctx, client.ObjectKey{Namespace: qj.Namespace, Name: want.name}, cur)
		switch {
		case apierrors.IsNotFound(err):
			return &write{want: want}, nil
		case err != nil:
			return nil, results.FromAPIError(err, "")
		}
		if !s.owns(qj, &cur.ObjectMeta, want.container) {
			return nil, conflict(want, cur.Name)
		}
		return &write{want: want, current: cur}, nil
	}

	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := s.Reader.List(ctx, &list, client.InNamespace(qj.Namespace)); err != nil {
		return nil, results.FromAPIError(err, "")
	}
	w := &write{want: want}
	for i := range list.Items {
		m := &list.Items[i]
		prefix, v, ok := podrefs.VersionedSeries(m.Name)
		if !ok || prefix != want.name {
			continue
		}
		if !s.owns(qj, &m.ObjectMeta, want.container) {
			return nil, conflict(want, m.Name)
		}
		if lv, err := strconv.Atoi(m.Labels[quarksv1alpha1.SecretVersionLabel]); err == nil {
			v = lv
		}
		w.members = append(w.members, seriesMember{name: m.Name, version: v})
	}
	slices.SortFunc(w.members, func(a, b seriesMember) int { return a.version - b.version })
	return w, nil
}

func conflict(want *desiredSecret, name string) *results.Error {
	return results.Conflict(wire.ReasonOutputConflict, "container %s, file %s: Secret %s exists and is not owned by this QuarksJob",
		want.container, want.file, name)
}

// owns reports whether qj owns the Secret with meta, or may adopt it as a
// legacy output of container (QJ-F18).
func (s *Sink) owns(qj *quarksv1alpha1.QuarksJob, meta *metav1.ObjectMeta, container string) bool {
	ref := metav1.GetControllerOfNoCopy(meta)
	if ref != nil && ref.UID == qj.UID {
		return true
	}
	if meta.Labels[quarksv1alpha1.QuarksJobNameLabel] == qj.Name && ref == nil {
		return true
	}
	_, labelled := meta.Labels[quarksv1alpha1.QuarksJobNameLabel]
	return s.AdoptLegacy && !labelled && len(meta.OwnerReferences) == 0 &&
		meta.Labels[quarksv1alpha1.ContainerNameLabel] == names.LabelValue(container)
}

// apply writes one checked Secret and returns its name.
func (s *Sink) apply(ctx context.Context, t *resultsquarksjob.Target, w *write, limit int) (string, error) {
	if w.want.versioned {
		return s.applyVersioned(ctx, t, w, limit)
	}
	want := w.want
	if w.current == nil {
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: want.name, Namespace: t.QuarksJob.Namespace,
				Labels: want.labels, Annotations: want.annotations},
			Type: corev1.SecretTypeOpaque,
			Data: want.data,
		}
		if err := s.Client.Create(ctx, sec); err != nil {
			return "", writeError(err, want)
		}
		return want.name, nil
	}
	sec := w.current.DeepCopy()
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	maps.Copy(sec.Labels, want.labels)
	if len(want.annotations) > 0 && sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	maps.Copy(sec.Annotations, want.annotations)
	sec.Data = want.data
	sec.StringData = nil
	// Update sends the resourceVersion that was read, so a change in between is a conflict.
	if err := s.Client.Update(ctx, sec); err != nil {
		return "", writeError(err, want)
	}
	return want.name, nil
}

// applyVersioned writes a new member of a versioned series unless the newest
// one holds the same content, then prunes the series (QJ-25, QJ-F19).
func (s *Sink) applyVersioned(ctx context.Context, t *resultsquarksjob.Target, w *write, limit int) (string, error) {
	want, qj := w.want, t.QuarksJob
	next := 1
	if n := len(w.members); n > 0 {
		newest := &corev1.Secret{}
		err := s.Reader.Get(ctx, client.ObjectKey{Namespace: qj.Namespace, Name: w.members[n-1].name}, newest)
		if err != nil && !apierrors.IsNotFound(err) {
			return "", results.FromAPIError(err, "")
		}
		if err == nil && sameVersionContent(newest, want) {
			return newest.Name, nil
		}
		next = w.members[n-1].version + 1
	}
	labels := maps.Clone(want.labels)
	labels[quarksv1alpha1.SecretKindLabel] = quarksv1alpha1.SecretKindVersioned
	labels[quarksv1alpha1.SecretVersionLabel] = strconv.Itoa(next)
	annotations := maps.Clone(want.annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[quarksv1alpha1.SourceDescriptionAnnotation] = quarksv1alpha1.SourceDescriptionQuarksJob
	ref := metav1.NewControllerRef(qj, quarksv1alpha1.GroupVersion.WithKind("QuarksJob"))
	ref.BlockOwnerDeletion = new(false)
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-v%d", want.name, next), Namespace: qj.Namespace,
			Labels: labels, Annotations: annotations, OwnerReferences: []metav1.OwnerReference{*ref},
		},
		Type: corev1.SecretTypeOpaque,
		Data: want.data,
	}
	if err := s.Client.Create(ctx, sec); err != nil {
		return "", writeError(err, want)
	}
	s.prune(ctx, t, append(w.members, seriesMember{name: sec.Name, version: next}), limit)
	return sec.Name, nil
}

// prune deletes the oldest members beyond limit; the newest is never deleted (QJ-F19).
// A failed delete is retried with the next version.
func (s *Sink) prune(ctx context.Context, t *resultsquarksjob.Target, members []seriesMember, limit int) {
	limit = max(limit, 1)
	if len(members) <= limit {
		return
	}
	var pruned []string
	for _, m := range members[:len(members)-limit] {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: m.name, Namespace: t.QuarksJob.Namespace}}
		if err := s.Client.Delete(ctx, sec); client.IgnoreNotFound(err) == nil {
			pruned = append(pruned, m.name)
		}
	}
	if len(pruned) > 0 {
		s.Recorder.Eventf(t.QuarksJob, nil, corev1.EventTypeNormal, EventVersionedSecretsPruned, "Prune",
			"deleted old versions %s", strings.Join(pruned, ", "))
	}
}

// sameVersionContent compares a series member with what would be written,
// ignoring the kind and version labels and the last-reconcile annotation (QJ-25).
func sameVersionContent(cur *corev1.Secret, want *desiredSecret) bool {
	labels := maps.Clone(cur.Labels)
	delete(labels, quarksv1alpha1.SecretKindLabel)
	delete(labels, quarksv1alpha1.SecretVersionLabel)
	annotations := maps.Clone(cur.Annotations)
	delete(annotations, quarksv1alpha1.LastReconcileAnnotation)
	delete(annotations, quarksv1alpha1.SourceDescriptionAnnotation)
	wantAnnotations := maps.Clone(want.annotations)
	delete(wantAnnotations, quarksv1alpha1.LastReconcileAnnotation)
	wantLabels := want.labels
	if _, ok := cur.Labels[quarksv1alpha1.QuarksJobNameLabel]; !ok {
		// A member written by an earlier operator, which set no qjob-name label:
		// the same content is no reason for a new version after a migration.
		wantLabels = maps.Clone(want.labels)
		delete(wantLabels, quarksv1alpha1.QuarksJobNameLabel)
	}
	return maps.Equal(labels, wantLabels) && maps.Equal(annotations, wantAnnotations) &&
		maps.EqualFunc(cur.Data, want.data, func(a, b []byte) bool { return string(a) == string(b) })
}

// writeError turns a failed write into an answer: a conflict or an existing
// object means someone else wrote in between, and the client retries.
func writeError(err error, want *desiredSecret) error {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return results.Unavailable(0, "Secret %s changed while it was written; retry", want.name)
	}
	return results.FromAPIError(err, "")
}
