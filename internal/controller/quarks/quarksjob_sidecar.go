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
	outputPersistTimeoutCode = 2
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
			RunAsUser:                new(sidecarUID),
			ReadOnlyRootFilesystem:   new(true),
			AllowPrivilegeEscalation: new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	})
}
