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
	"bytes"
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
)

// EventPodLogSaveFailed is the Warning event on a run whose pod logs could not be saved (NJ-31).
const EventPodLogSaveFailed = "PodLogSaveFailed"

// truncatedLine ends a log that was cut at maxLogSize.
const truncatedLine = "\n[truncated]\n"

// PodLogReader reads at most limit bytes of the log of a container.
type PodLogReader interface {
	ReadLog(ctx context.Context, namespace, pod, container string, limit int64) ([]byte, error)
}

// clientsetLogs reads logs through the pods/log subresource.
type clientsetLogs struct {
	clientset kubernetes.Interface
}

// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get

func (c clientsetLogs) ReadLog(ctx context.Context, namespace, pod, container string, limit int64) ([]byte, error) {
	stream, err := c.clientset.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, LimitBytes: &limit,
	}).Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stream.Close() }()
	return io.ReadAll(io.LimitReader(stream, limit))
}

// saveLogs stores the logs of every init container and container of a node's ended pod, each cut to maxLogSize
// (NJ-31), and reports whether they were saved. A failure is a Warning event and leaves logsSaved false; it
// never changes the node's outcome.
func (r *NodeJobRunReconciler) saveLogs(ctx context.Context, run *batchv1alpha1.NodeJobRun, n *reports.NodeRecord,
	pod *corev1.Pod) bool {
	if !run.Spec.SavePodLogs || n.LogsSaved || r.Logs == nil {
		return false
	}
	limit := reports.LimitsOf(run).MaxLogSize
	loc := reports.LocationOf(run)
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if err := r.saveLog(ctx, loc, n.Name, pod, c.Name, limit); err != nil {
			logf.FromContext(ctx).Error(err, "saving pod logs", "pod", pod.Name, "container", c.Name)
			r.Recorder.Eventf(run, pod, corev1.EventTypeWarning, EventPodLogSaveFailed, "SaveLogs",
				"the logs of container %s of pod %s could not be saved: %v", c.Name, pod.Name, err)
			return false
		}
	}
	return true
}

func (r *NodeJobRunReconciler) saveLog(ctx context.Context, loc reports.RunLocation, node string, pod *corev1.Pod,
	container string, limit int64) error {
	data, err := r.Logs.ReadLog(ctx, pod.Namespace, pod.Name, container, limit+1)
	if err != nil {
		return fmt.Errorf("reading the log: %w", err)
	}
	if int64(len(data)) > limit {
		data = append(bytes.Clone(data[:limit]), truncatedLine...)
	}
	return r.Reports.PutLog(loc, node, container, data)
}

// forgetRun removes what is kept for a deleted run: its series and its report directory (NJ-22, NJ-24).
func (r *NodeJobRunReconciler) forgetRun(namespace, name string) error {
	if r.Metrics != nil {
		r.Metrics.DeleteRun(namespace, name)
	}
	_, err := r.Reports.RemoveOrphans(func(m reports.RunMarker) bool { return m.Namespace != namespace || m.Run != name })
	return err
}

// removeOrphanReports removes, once the cache has synced, the report directories of runs that no longer exist
// (NJ-24). It runs on the leader only.
func (r *NodeJobRunReconciler) removeOrphanReports(ctx context.Context) error {
	var runs batchv1alpha1.NodeJobRunList
	if err := r.List(ctx, &runs); err != nil {
		return fmt.Errorf("listing runs: %w", err)
	}
	uids := make(map[string]bool, len(runs.Items))
	for _, run := range runs.Items {
		uids[run.Namespace+"/"+run.Name+"/"+string(run.UID)] = true
	}
	removed, err := r.Reports.RemoveOrphans(func(m reports.RunMarker) bool {
		return uids[m.Namespace+"/"+m.Run+"/"+string(m.UID)]
	})
	logf.FromContext(ctx).Info("removed the reports of deleted runs", "count", removed)
	return err
}
