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

package labelcache

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Transform is the transform of the label caches: it drops what StripMetadata drops from every object, and from Jobs and pods
// the parts of their pod specs that no reader of the caches uses. What stays:
//
//   - pods: the node, the host-network flag, the restart policy and, of every container and init container, its name
//     and environment (the output sidecar reads REMOTE_ID from it); the whole status and metadata;
//   - Jobs: every field of the Job's spec but its pod template, and of the template's pod spec the restart policy and
//     the names of the containers; the whole status and metadata.
//
// Every write of a cached pod or Job is a patch computed from two copies of the cached object, so what is dropped
// here is never written back. The objects are the caches' own, so they are changed in place.
func Transform(obj any) (any, error) {
	obj, err := StripMetadata(obj)
	if err != nil {
		return obj, err
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Spec = slimPodSpec(&o.Spec, true)
	case *batchv1.Job:
		o.Spec.Template.ObjectMeta = slimTemplateMeta(o.Spec.Template.ObjectMeta)
		o.Spec.Template.Spec = slimPodSpec(&o.Spec.Template.Spec, false)
	}
	return obj, nil
}

var _ toolscache.TransformFunc = Transform

// lastApplied is the annotation in which client-side kubectl apply keeps a whole copy of the object it applied.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// StripMetadata drops what no reader of the manager's caches uses from every object's metadata: managedFields and
// the last-applied-configuration annotation of client-side apply, a second copy of the object (its spec included).
func StripMetadata(obj any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(obj)
	if err != nil {
		return obj, err
	}
	if o, ok := obj.(metav1.Object); ok {
		if ann := o.GetAnnotations(); ann != nil {
			if _, has := ann[lastApplied]; has {
				delete(ann, lastApplied)
				o.SetAnnotations(ann)
			}
		}
	}
	return obj, nil
}

var _ toolscache.TransformFunc = StripMetadata

// slimPodSpec returns the fields of spec that the readers of the caches use; env is kept when withEnv is set.
func slimPodSpec(spec *corev1.PodSpec, withEnv bool) corev1.PodSpec {
	slim := corev1.PodSpec{
		NodeName:      spec.NodeName,
		HostNetwork:   spec.HostNetwork,
		RestartPolicy: spec.RestartPolicy,
	}
	slim.InitContainers = slimContainers(spec.InitContainers, withEnv)
	slim.Containers = slimContainers(spec.Containers, withEnv)
	return slim
}

func slimContainers(cs []corev1.Container, withEnv bool) []corev1.Container {
	if cs == nil {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i := range cs {
		out[i].Name = cs[i].Name
		if withEnv {
			out[i].Env = cs[i].Env
		}
	}
	return out
}

// slimTemplateMeta keeps the labels of a Job's pod template (they select its pods) and drops the rest.
func slimTemplateMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Labels: m.Labels}
}
