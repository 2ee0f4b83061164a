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
	"cmp"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// jobNameAlphabet is the alphabet of API-server generated name suffixes.
const jobNameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// maxJobNamePrefix is the longest part of a ReactiveJob name used in its Jobs' names.
const maxJobNamePrefix = 57

// reactiveJobJobName returns candidate i of the name of run n's Job:
// deterministic, so a retry after a restart, a stale cache or a conflict finds
// the Job it already created, and different for every run, so a rerun token
// used before (a, b, a) gets a Job of its own.
func reactiveJobJobName(rj *batchv1alpha1.ReactiveJob, run int64, i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/run/%d/%d", rj.UID, run, i))
	suffix := make([]byte, 5)
	for k := range suffix {
		suffix[k] = jobNameAlphabet[int(sum[k])%len(jobNameAlphabet)]
	}
	prefix := rj.Name
	if len(prefix) > maxJobNamePrefix {
		prefix = prefix[:maxJobNamePrefix]
	}
	return prefix + "-" + string(suffix)
}

// buildReactiveJobJob returns the Job of §1.6 for the current template.
func buildReactiveJobJob(rj *batchv1alpha1.ReactiveJob, name string, run int64, token, hash, legacyHash string) *batchv1.Job {
	tmpl := rj.Spec.JobTemplate.DeepCopy()
	labels := map[string]string{}
	maps.Copy(labels, tmpl.Labels)
	labels[batchv1alpha1.ReactiveJobControllerUIDLabel] = string(rj.UID)
	labels[batchv1alpha1.ReactiveJobControllerNameLabel] = rj.Name
	annotations := map[string]string{}
	maps.Copy(annotations, tmpl.Annotations)
	annotations[batchv1alpha1.ReactiveJobGenerationAnnotation] = strconv.FormatInt(rj.Generation, 10)
	annotations[batchv1alpha1.ReactiveJobRunAnnotation] = strconv.FormatInt(run, 10)
	annotations[batchv1alpha1.ReactiveJobLegacyHashAnnotation] = legacyHash
	annotations[batchv1alpha1.ReactiveJobTemplateHashAnnotation] = hash
	if token != "" {
		annotations[batchv1alpha1.ReactiveJobRerunAnnotation] = token
	} else {
		delete(annotations, batchv1alpha1.ReactiveJobRerunAnnotation)
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   rj.Namespace,
			Labels:      labels,
			Annotations: annotations,
			Finalizers:  tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rj,
				batchv1alpha1.GroupVersion.WithKind("ReactiveJob"))},
		},
		Spec: tmpl.Spec,
	}
}

// jobGeneration reads the ReactiveJob generation a Job was created for.
func jobGeneration(job *batchv1.Job) (int64, bool) {
	v, ok := job.Annotations[batchv1alpha1.ReactiveJobGenerationAnnotation]
	if !ok {
		return 0, false
	}
	g, err := strconv.ParseInt(v, 10, 64)
	return g, err == nil
}

// selectCurrentJob returns the current Job (RJ-1): the one named in status when
// it exists, otherwise the highest generation, then the newest, then the
// greatest name. jobs must hold only Jobs with a valid generation annotation.
func selectCurrentJob(currentName string, jobs []*batchv1.Job) *batchv1.Job {
	if len(jobs) == 0 {
		return nil
	}
	if currentName != "" {
		for _, j := range jobs {
			if j.Name == currentName {
				return j
			}
		}
	}
	return slices.MaxFunc(jobs, func(a, b *batchv1.Job) int {
		ga, _ := jobGeneration(a)
		gb, _ := jobGeneration(b)
		return cmp.Or(
			cmp.Compare(ga, gb),
			a.CreationTimestamp.Compare(b.CreationTimestamp.Time),
			cmp.Compare(a.Name, b.Name),
		)
	})
}

// jobFinished returns the terminal condition of a Job, or nil while it runs.
func jobFinished(job *batchv1.Job) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// jobSuspended reports whether a Job is suspended.
func jobSuspended(job *batchv1.Job) bool {
	if job.Spec.Suspend != nil && *job.Spec.Suspend {
		return true
	}
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobSuspended && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// jobsToPrune returns the finished Jobs other than the current one that exceed
// the history limits, oldest completion first (RJ-18).
func jobsToPrune(jobs []*batchv1.Job, current string, succeededLimit, failedLimit *int32) []*batchv1.Job {
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		if j.Name == current || j.DeletionTimestamp != nil {
			continue
		}
		switch c := jobFinished(j); {
		case c == nil:
		case c.Type == batchv1.JobComplete:
			succeeded = append(succeeded, j)
		default:
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	for _, g := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{succeeded, succeededLimit}, {failed, failedLimit}} {
		if g.limit == nil || len(g.jobs) <= int(*g.limit) {
			continue
		}
		slices.SortFunc(g.jobs, func(a, b *batchv1.Job) int {
			return cmp.Or(finishTime(a).Compare(finishTime(b).Time), cmp.Compare(a.Name, b.Name))
		})
		out = append(out, g.jobs[:len(g.jobs)-int(*g.limit)]...)
	}
	return out
}

// finishTime is a Job's completionTime, or the time of its terminal condition.
func finishTime(j *batchv1.Job) metav1.Time {
	if j.Status.CompletionTime != nil {
		return *j.Status.CompletionTime
	}
	if c := jobFinished(j); c != nil {
		return c.LastTransitionTime
	}
	return j.CreationTimestamp
}
