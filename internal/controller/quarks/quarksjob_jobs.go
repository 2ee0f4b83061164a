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
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
	"github.com/jobkeeper/jobkeeper/internal/podrefs"
)

// quarksJobKind is the kind of the controller reference on a QuarksJob's Jobs.
const quarksJobKind = "QuarksJob"

// maxJobNamePrefix is the longest part of a QuarksJob name used in its Jobs' names.
const maxJobNamePrefix = 39

// runJobName is the deterministic name of the Job of run number n (QJ-8).
func runJobName(qj *quarksv1alpha1.QuarksJob, n int64) string {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s/%d", qj.UID, n)
	prefix := qj.Name
	if len(prefix) > maxJobNamePrefix {
		prefix = prefix[:maxJobNamePrefix]
	}
	return fmt.Sprintf("%s-%016x", prefix, h.Sum64())
}

// buildRunJob returns the Job of run number n (QJ-9, QJ-10, QJ-16, QJ-A9).
// rename maps versioned Secret references to the series member to use.
// The output-persist sidecar is added when the output map has entries (QJ-11).
func buildRunJob(qj *quarksv1alpha1.QuarksJob, n int64, rename map[string]string, sidecar SidecarConfig) (*batchv1.Job, error) {
	tmpl := qj.Spec.Template.DeepCopy()
	run := strconv.FormatInt(n, 10)

	labels := maps.Clone(tmpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[quarksv1alpha1.QuarksJobNameLabel] = qj.Name
	labels[quarksv1alpha1.RunNumberLabel] = run
	annotations := maps.Clone(tmpl.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	if qj.Spec.Output != nil {
		spec, err := json.Marshal(qj.Spec.Output)
		if err != nil {
			return nil, fmt.Errorf("encoding the output spec: %w", err)
		}
		annotations[quarksv1alpha1.OutputSpecAnnotation] = string(spec)
	}

	spec := tmpl.Spec
	if spec.BackoffLimit == nil && tmpl.BackoffLimit != nil {
		spec.BackoffLimit = tmpl.BackoffLimit
	}
	pod := &spec.Template
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[quarksv1alpha1.QuarksJobNameLabel] = qj.Name
	pod.Labels[quarksv1alpha1.RunNumberLabel] = run
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		vol := names.OutputVolume(c.Name)
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name: vol, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}},
		})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: quarksv1alpha1.OutputMountPath})
	}
	podrefs.RewriteSecretNames(&pod.Spec, rename)
	sidecar.addSidecar(&pod.Spec, qj.Namespace, qj.Spec.Output)
	addOutputFailurePolicy(&spec, qj.Spec.Output)

	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        runJobName(qj, n),
			Namespace:   qj.Namespace,
			Labels:      labels,
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(qj,
				quarksv1alpha1.GroupVersion.WithKind(quarksJobKind))},
		},
		Spec: spec,
	}, nil
}

// jobFinished returns the terminal condition of a Job, or nil while it runs (QJ-F10).
func jobFinished(job *batchv1.Job) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// ownedBy reports whether qj is the controller of job, by apiVersion, kind and UID (QJ-F11).
func ownedBy(job *batchv1.Job, qj *quarksv1alpha1.QuarksJob) bool {
	ref := metav1.GetControllerOf(job)
	return ref != nil && ref.UID == qj.UID && ref.Kind == quarksJobKind &&
		ref.APIVersion == quarksv1alpha1.GroupVersion.String()
}

// addOutputFailurePolicy fails the Job at once when the output-persist sidecar
// exits because the output was rejected or it gave up waiting: running the
// workload again, up to the backoff limit, cannot change either. The rule goes
// first, before the template's own rules. podFailurePolicy needs restartPolicy
// Never; with OnFailure the controller ends the run when it sees the rejection.
func addOutputFailurePolicy(spec *batchv1.JobSpec, output *quarksv1alpha1.Output) {
	if !hasOutput(output) || spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		return
	}
	rule := batchv1.PodFailurePolicyRule{
		Action: batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: new(quarksv1alpha1.OutputPersistContainerName),
			Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
			Values:        []int32{quarksv1alpha1.OutputPersistExitTimeout, quarksv1alpha1.OutputPersistExitRejected},
		},
	}
	if spec.PodFailurePolicy == nil {
		spec.PodFailurePolicy = &batchv1.PodFailurePolicy{}
	}
	spec.PodFailurePolicy.Rules = append([]batchv1.PodFailurePolicyRule{rule}, spec.PodFailurePolicy.Rules...)
}
