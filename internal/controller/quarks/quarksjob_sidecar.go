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
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
)

// Defaults of the output-persist sidecar.
const (
	// DefaultOutputPersistImage is the sidecar image when none is configured.
	DefaultOutputPersistImage = "jobkeeper:latest"
	// DefaultPersistOutputTimeout is how long the sidecar waits when spec.output.timeoutSeconds is unset.
	DefaultPersistOutputTimeout = 24 * time.Hour
	// outputPersistBinary is the sidecar binary in the image.
	outputPersistBinary = "/output-persist"
	// resultsTokenExpirySeconds is the lifetime of the projected results token.
	resultsTokenExpirySeconds int64 = 3600
	// outputPersistTimeoutCode is the exit code of the sidecar when it gave up waiting (QJ-A7).
	outputPersistTimeoutCode = quarksv1alpha1.OutputPersistExitTimeout
	// sidecarUID is the non-root user the sidecar runs as.
	sidecarUID int64 = 65532
)

// SidecarConfig configures the output-persist sidecar of job pods.
type SidecarConfig struct {
	// Image is the sidecar image; DefaultOutputPersistImage when empty.
	Image string
	// ResultsNamespace is the namespace of the results API Service.
	ResultsNamespace string
	// Audience is the audience of the projected token; the results audience when empty.
	Audience string
	// Timeout is the wait timeout when spec.output.timeoutSeconds is unset; DefaultPersistOutputTimeout when 0.
	Timeout time.Duration
}

// hasOutput reports whether output has at least one mapped file (QJ-11, QJ-F15).
func hasOutput(output *quarksv1alpha1.Output) bool {
	if output == nil {
		return false
	}
	for _, files := range output.OutputMap {
		if len(files) > 0 {
			return true
		}
	}
	return false
}

// addSidecar adds the output-persist sidecar and the projected results volume
// to pod (QJ-11). Only the sidecar mounts the token.
func (cfg SidecarConfig) addSidecar(pod *corev1.PodSpec, namespace string, output *quarksv1alpha1.Output) {
	if !hasOutput(output) {
		return
	}
	image := cfg.Image
	if image == "" {
		image = DefaultOutputPersistImage
	}
	audience := cfg.Audience
	if audience == "" {
		audience = quarksv1alpha1.ResultsAudience
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultPersistOutputTimeout
	}
	if output.TimeoutSeconds != nil {
		timeout = time.Duration(*output.TimeoutSeconds) * time.Second
	}

	mounts := make([]corev1.VolumeMount, 0, len(pod.Containers)+1)
	for _, c := range pod.Containers {
		mounts = append(mounts, corev1.VolumeMount{
			Name: names.OutputVolume(c.Name), MountPath: path.Join(quarksv1alpha1.OutputMountPath, c.Name), ReadOnly: true,
		})
	}
	mounts = append(mounts, corev1.VolumeMount{
		Name: quarksv1alpha1.ResultsVolumeName, MountPath: quarksv1alpha1.ResultsMountPath, ReadOnly: true,
	})
	pod.Volumes = append(pod.Volumes, corev1.Volume{
		Name: quarksv1alpha1.ResultsVolumeName,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience: audience, ExpirationSeconds: new(resultsTokenExpirySeconds), Path: quarksv1alpha1.ResultsTokenFile,
			}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: quarksv1alpha1.ResultsCAConfigMapName},
				Items:                []corev1.KeyToPath{{Key: quarksv1alpha1.ResultsCAConfigMapKey, Path: quarksv1alpha1.ResultsCAFile}},
			}},
		}}},
	})
	pod.Containers = append(pod.Containers, corev1.Container{
		Name:    quarksv1alpha1.OutputPersistContainerName,
		Image:   image,
		Command: []string{outputPersistBinary},
		Args:    []string{quarksv1alpha1.OutputPersistCommand},
		Env: []corev1.EnvVar{
			{Name: quarksv1alpha1.NamespaceEnv, Value: namespace},
			{Name: quarksv1alpha1.ResultsAPIURLEnv,
				Value: "https://" + quarksv1alpha1.ResultsServiceName + "." + cfg.ResultsNamespace + ".svc"},
			{Name: quarksv1alpha1.ResultsTokenFileEnv,
				Value: path.Join(quarksv1alpha1.ResultsMountPath, quarksv1alpha1.ResultsTokenFile)},
			{Name: quarksv1alpha1.ResultsCAFileEnv, Value: path.Join(quarksv1alpha1.ResultsMountPath, quarksv1alpha1.ResultsCAFile)},
			{Name: quarksv1alpha1.PersistOutputTimeoutEnv, Value: timeout.String()},
		},
		VolumeMounts: mounts,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             new(true),
			RunAsUser:                new(sidecarUser(pod)),
			RunAsGroup:               sidecarGroup(pod),
			ReadOnlyRootFilesystem:   new(true),
			AllowPrivilegeEscalation: new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	})
}

// sidecarUser is the user the sidecar runs as: the user of the containers
// whose files it reads, when they all run as the same non-root user, so that
// files written under a restrictive umask (077) stay readable; otherwise the
// image's non-root user.
func sidecarUser(pod *corev1.PodSpec) int64 {
	var uid *int64
	for _, c := range pod.Containers {
		u := effectiveID(pod, c, func(sc *corev1.PodSecurityContext) *int64 { return sc.RunAsUser },
			func(sc *corev1.SecurityContext) *int64 { return sc.RunAsUser })
		if u == nil || *u == 0 || (uid != nil && *uid != *u) {
			return sidecarUID
		}
		uid = u
	}
	if uid == nil {
		return sidecarUID
	}
	return *uid
}

// sidecarGroup is the primary group of the containers whose files the sidecar
// reads, when they all share one; nil leaves the image's group.
func sidecarGroup(pod *corev1.PodSpec) *int64 {
	var gid *int64
	for _, c := range pod.Containers {
		g := effectiveID(pod, c, func(sc *corev1.PodSecurityContext) *int64 { return sc.RunAsGroup },
			func(sc *corev1.SecurityContext) *int64 { return sc.RunAsGroup })
		if g == nil || (gid != nil && *gid != *g) {
			return nil
		}
		gid = g
	}
	if gid == nil {
		return nil
	}
	return new(*gid)
}

// effectiveID is a container's run-as ID: its own setting, else the pod's.
func effectiveID(pod *corev1.PodSpec, c corev1.Container, ofPod func(*corev1.PodSecurityContext) *int64,
	ofContainer func(*corev1.SecurityContext) *int64) *int64 {
	if c.SecurityContext != nil {
		if id := ofContainer(c.SecurityContext); id != nil {
			return id
		}
	}
	if pod.SecurityContext != nil {
		return ofPod(pod.SecurityContext)
	}
	return nil
}
