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

package v1alpha1

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
)

// quarksJobGroupKind names the kind in admission errors.
var quarksJobGroupKind = schema.GroupKind{Group: quarksv1alpha1.GroupVersion.Group, Kind: "QuarksJob"}

// legacyBackoffLimitWarning is returned when spec.template.backoffLimit is set.
const legacyBackoffLimitWarning = "spec.template.backoffLimit is misplaced; use spec.template.spec.backoffLimit"

// maxFileNameBytes is the longest file name most file systems accept.
const maxFileNameBytes = 255

// SetupQuarksJobWebhookWithManager registers the QuarksJob webhooks with the manager.
func SetupQuarksJobWebhookWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &quarksv1alpha1.QuarksJob{}).
		WithDefaulter(&QuarksJobCustomDefaulter{}).
		WithValidator(&QuarksJobCustomValidator{}).
		Complete()
}

// +kubebuilder:webhook:path=/mutate-quarks-cloudfoundry-org-v1alpha1-quarksjob,mutating=true,failurePolicy=fail,sideEffects=None,groups=quarks.cloudfoundry.org,resources=quarksjobs,verbs=create;update,versions=v1alpha1,name=mquarksjob-v1alpha1.kb.io,admissionReviewVersions=v1,patch=`{"matchConditions":[{"name":"create-or-spec-changed-beyond-trigger","expression":"request.operation == 'CREATE' || object.spec.exists(k, k != 'trigger' && (!(k in oldObject.spec) || object.spec[k] != oldObject.spec[k])) || oldObject.spec.exists(k, k != 'trigger' && !(k in object.spec))"}]}`

// QuarksJobCustomDefaulter sets the defaults of a QuarksJob. They are the same as the defaults of the CRD
// schema.
type QuarksJobCustomDefaulter struct{}

var _ admission.Defaulter[*quarksv1alpha1.QuarksJob] = &QuarksJobCustomDefaulter{}

// Default implements admission.Defaulter.
func (d *QuarksJobCustomDefaulter) Default(_ context.Context, qj *quarksv1alpha1.QuarksJob) error {
	defaultQuarksJob(qj)
	return nil
}

// defaultQuarksJob applies the defaults of the spec. The legacy spec.template.backoffLimit is left where it
// is; the controller applies it when it builds the Job.
func defaultQuarksJob(qj *quarksv1alpha1.QuarksJob) {
	spec := &qj.Spec
	if spec.Trigger.Strategy == "" {
		spec.Trigger.Strategy = quarksv1alpha1.StrategyManual
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = new(quarksv1alpha1.DefaultFailedJobsHistoryLimit)
	}
	if out := spec.Output; out != nil {
		if out.OutputMap == nil {
			out.OutputMap = quarksv1alpha1.OutputMap{}
		}
		if out.VersionedSecretHistoryLimit == nil {
			out.VersionedSecretHistoryLimit = new(quarksv1alpha1.DefaultVersionedSecretHistoryLimit)
		}
	}
}

// +kubebuilder:webhook:path=/validate-quarks-cloudfoundry-org-v1alpha1-quarksjob,mutating=false,failurePolicy=fail,sideEffects=None,groups=quarks.cloudfoundry.org,resources=quarksjobs,verbs=create;update,versions=v1alpha1,name=vquarksjob-v1alpha1.kb.io,admissionReviewVersions=v1,patch=`{"matchConditions":[{"name":"create-or-spec-changed-beyond-trigger","expression":"request.operation == 'CREATE' || object.spec.exists(k, k != 'trigger' && (!(k in oldObject.spec) || object.spec[k] != oldObject.spec[k])) || oldObject.spec.exists(k, k != 'trigger' && !(k in object.spec))"}]}`

// QuarksJobCustomValidator checks the rules of a QuarksJob that the CRD schema cannot express.
type QuarksJobCustomValidator struct{}

var _ admission.Validator[*quarksv1alpha1.QuarksJob] = &QuarksJobCustomValidator{}

// ValidateCreate implements admission.Validator.
func (v *QuarksJobCustomValidator) ValidateCreate(_ context.Context, qj *quarksv1alpha1.QuarksJob) (admission.Warnings, error) {
	if qj.DeletionTimestamp != nil {
		return nil, nil
	}
	return validateQuarksJob(qj)
}

// ValidateUpdate implements admission.Validator. Only a changed spec is checked, so objects that are being
// deleted, and updates of metadata alone, are never blocked.
func (v *QuarksJobCustomValidator) ValidateUpdate(_ context.Context, oldQJ, newQJ *quarksv1alpha1.QuarksJob) (admission.Warnings, error) {
	if newQJ.DeletionTimestamp != nil || equality.Semantic.DeepEqual(oldQJ.Spec, newQJ.Spec) {
		return nil, nil
	}
	// A change of the strategy alone, such as the operator's write-back of now
	// to manual or once to done, is valid by the schema's enum; it is never
	// denied for rules an older object predates.
	oldSpec, newSpec := oldQJ.Spec, newQJ.Spec
	oldSpec.Trigger, newSpec.Trigger = quarksv1alpha1.Trigger{}, quarksv1alpha1.Trigger{}
	if equality.Semantic.DeepEqual(oldSpec, newSpec) {
		return nil, nil
	}
	return validateQuarksJob(newQJ)
}

// ValidateDelete implements admission.Validator; DELETE is not registered.
func (v *QuarksJobCustomValidator) ValidateDelete(_ context.Context, _ *quarksv1alpha1.QuarksJob) (admission.Warnings, error) {
	return nil, nil
}

// validateQuarksJob returns the warnings for a QuarksJob and, when a rule is broken, an Invalid error.
func validateQuarksJob(qj *quarksv1alpha1.QuarksJob) (admission.Warnings, error) {
	warnings := quarksJobWarnings(qj)
	if errs := validateQuarksJobSpec(field.NewPath("spec"), &qj.Spec); len(errs) > 0 {
		return warnings, apierrors.NewInvalid(quarksJobGroupKind, qj.Name, errs)
	}
	return warnings, nil
}

// validateQuarksJobSpec checks the rules that need more than one field.
func validateQuarksJobSpec(specPath *field.Path, spec *quarksv1alpha1.QuarksJobSpec) field.ErrorList {
	templatePath := specPath.Child("template")
	podPath := templatePath.Child("spec", "template")
	pod := &spec.Template.Spec.Template

	var errs field.ErrorList
	errs = append(errs, validateMetadata(templatePath.Child("metadata"), spec.Template.Labels, spec.Template.Annotations)...)
	errs = append(errs, validateMetadata(podPath.Child("metadata"), pod.Labels, pod.Annotations)...)
	errs = append(errs, validateReservedNames(podPath.Child("spec"), &pod.Spec)...)
	if out := spec.Output; out != nil {
		outPath := specPath.Child("output")
		errs = append(errs, validateLabelKeys(outPath.Child("secretLabels"), out.SecretLabels)...)
		errs = append(errs, validateOutputMap(outPath.Child("outputMap"), out.OutputMap, &pod.Spec)...)
	}
	return errs
}

// validateMetadata checks the label and annotation keys and the label values that are copied to a Job or
// its pods (the API server would reject the Job otherwise).
func validateMetadata(metaPath *field.Path, labels, annotations map[string]string) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateLabelKeys(metaPath.Child("labels"), labels)...)
	errs = append(errs, validateLabelValues(metaPath.Child("labels"), labels)...)
	errs = append(errs, validateAnnotationKeys(metaPath.Child("annotations"), annotations)...)
	return errs
}

// validateLabelKeys checks that every key is a valid label key (QJ-X10).
func validateLabelKeys(labelsPath *field.Path, labels map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(labels) {
		for _, msg := range content.IsLabelKey(k) {
			errs = append(errs, field.Invalid(labelsPath.Key(k), k, msg))
		}
	}
	return errs
}

// validateLabelValues checks that every value is a valid label value.
func validateLabelValues(labelsPath *field.Path, labels map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(labels) {
		for _, msg := range content.IsLabelValue(labels[k]) {
			errs = append(errs, field.Invalid(labelsPath.Key(k), labels[k], msg))
		}
	}
	return errs
}

// validateAnnotationKeys checks that every key is a valid annotation key and that the annotations are not
// too large.
func validateAnnotationKeys(annotationsPath *field.Path, annotations map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(annotations) {
		// Annotation keys follow the rules of label keys, except that case does not matter.
		for _, msg := range content.IsLabelKey(strings.ToLower(k)) {
			errs = append(errs, field.Invalid(annotationsPath.Key(k), k, msg))
		}
	}
	if err := apivalidation.ValidateAnnotationsSize(annotations); err != nil {
		errs = append(errs, field.TooLong(annotationsPath, "", apivalidation.TotalAnnotationSizeLimitB))
	}
	return errs
}

// validateReservedNames rejects the container name, volume names and mount paths the operator adds to
// every pod (QJ-X9).
func validateReservedNames(podSpecPath *field.Path, pod *corev1.PodSpec) field.ErrorList {
	var errs field.ErrorList
	for i, c := range pod.InitContainers {
		errs = append(errs, validateContainerName(podSpecPath.Child("initContainers").Index(i).Child("name"), c.Name)...)
	}
	for i, c := range pod.Containers {
		cPath := podSpecPath.Child("containers").Index(i)
		errs = append(errs, validateContainerName(cPath.Child("name"), c.Name)...)
		for j, m := range c.VolumeMounts {
			errs = append(errs, validateMountPath(cPath.Child("volumeMounts").Index(j).Child("mountPath"), m.MountPath)...)
		}
	}
	reserved := reservedVolumeNames(pod)
	for i, v := range pod.Volumes {
		if reserved[v.Name] {
			errs = append(errs, field.Invalid(podSpecPath.Child("volumes").Index(i).Child("name"), v.Name,
				"the volume name is reserved by the operator"))
		}
	}
	return errs
}

// validateContainerName rejects the name of the operator's sidecar.
func validateContainerName(namePath *field.Path, name string) field.ErrorList {
	if name == quarksv1alpha1.OutputPersistContainerName {
		return field.ErrorList{field.Invalid(namePath, name, "the container name is reserved by the operator")}
	}
	return nil
}

// validateMountPath rejects mounts at or below the output directory.
func validateMountPath(mountPath *field.Path, p string) field.ErrorList {
	clean := path.Clean("/" + p)
	if clean == quarksv1alpha1.OutputMountPath || strings.HasPrefix(clean, quarksv1alpha1.OutputMountPath+"/") {
		return field.ErrorList{field.Invalid(mountPath, p,
			fmt.Sprintf("%s is reserved by the operator", quarksv1alpha1.OutputMountPath))}
	}
	return nil
}

// reservedVolumeNames returns the names of the volumes the operator adds to the pod: the results volume and
// one output volume per container. Both spellings of an output volume name are reserved, the sanitised
// container name after the prefix and the sanitised whole name; they differ only for very long container
// names.
func reservedVolumeNames(pod *corev1.PodSpec) map[string]bool {
	reserved := map[string]bool{quarksv1alpha1.ResultsVolumeName: true}
	for _, c := range pod.Containers {
		reserved[quarksv1alpha1.OutputVolumePrefix+names.LabelValue(c.Name)] = true
		reserved[names.OutputVolume(c.Name)] = true
	}
	return reserved
}

// validateOutputMap checks that every key names a container of the pod and every file maps to a valid
// Secret (QJ-X5, QJ-X7, QJ-X8, QJ-X10).
func validateOutputMap(mapPath *field.Path, outputMap quarksv1alpha1.OutputMap, pod *corev1.PodSpec) field.ErrorList {
	var errs field.ErrorList
	for _, c := range sortedKeys(outputMap) {
		cPath := mapPath.Key(c)
		if !slices.ContainsFunc(pod.Containers, func(ct corev1.Container) bool { return ct.Name == c }) {
			errs = append(errs, field.Invalid(cPath, c, "container not found in template"))
		}
		files := outputMap[c]
		for _, f := range sortedKeys(files) {
			fPath := cPath.Key(f)
			errs = append(errs, validateFileName(fPath, f)...)
			errs = append(errs, validateSecretOptions(fPath, files[f])...)
		}
	}
	return errs
}

// validateFileName checks that a file name is a plain base name, so the sidecar never reads outside the
// output directory (QJ-X7).
func validateFileName(filePath *field.Path, name string) field.ErrorList {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > maxFileNameBytes {
		return field.ErrorList{field.Invalid(filePath, name, "must be a file name without path separators")}
	}
	return nil
}

// validateSecretOptions checks the Secret name, labels and annotations of one output file (QJ-X8, QJ-X10).
func validateSecretOptions(optsPath *field.Path, opts quarksv1alpha1.SecretOptions) field.ErrorList {
	var errs field.ErrorList
	namePath := optsPath.Child("name")
	switch {
	case opts.Name == "":
		errs = append(errs, field.Required(namePath, "the Secret name is required"))
	case names.Subdomain(opts.Name) == "":
		errs = append(errs, field.Invalid(namePath, opts.Name,
			"must contain at least one lower-case letter or digit, so that it is a valid Secret name after sanitising"))
	}
	errs = append(errs, validateLabelKeys(optsPath.Child("secretLabels"), opts.SecretLabels)...)
	errs = append(errs, validateAnnotationKeys(optsPath.Child("secretAnnotations"), opts.SecretAnnotations)...)
	return errs
}

// quarksJobWarnings returns the warnings for values that are accepted but have no effect or are misplaced
// (QJ-A8, QJ-A9).
func quarksJobWarnings(qj *quarksv1alpha1.QuarksJob) admission.Warnings {
	spec := &qj.Spec
	var warnings admission.Warnings
	if spec.Template.BackoffLimit != nil {
		warnings = append(warnings, legacyBackoffLimitWarning)
	}
	if spec.UpdateOnConfigChange &&
		(spec.Trigger.Strategy == "" || spec.Trigger.Strategy == quarksv1alpha1.StrategyManual) {
		warnings = append(warnings, fmt.Sprintf(
			"spec.updateOnConfigChange: has no effect while spec.trigger.strategy is %q", quarksv1alpha1.StrategyManual))
	}
	podLabels := spec.Template.Spec.Template.Labels
	if podLabels[quarksv1alpha1.DeletePodLabel] == quarksv1alpha1.DeletePodValue {
		warnings = append(warnings, fmt.Sprintf(
			"spec.template.spec.template.metadata.labels[%s]: %q has no effect; the pods of a succeeded Job are always removed",
			quarksv1alpha1.DeletePodLabel, quarksv1alpha1.DeletePodLabel+": "+quarksv1alpha1.DeletePodValue))
	}
	if out := spec.Output; out != nil {
		if out.OutputType != "" && out.OutputType != "json" {
			warnings = append(warnings, fmt.Sprintf(
				"spec.output.outputType: only \"json\" is supported; %q is stored and ignored", out.OutputType))
		}
		warnings = append(warnings, labelValueWarnings(field.NewPath("spec", "output", "secretLabels"), out.SecretLabels)...)
		for _, c := range sortedKeys(out.OutputMap) {
			for _, f := range sortedKeys(out.OutputMap[c]) {
				labelsPath := field.NewPath("spec", "output", "outputMap").Key(c).Key(f).Child("secretLabels")
				warnings = append(warnings, labelValueWarnings(labelsPath, out.OutputMap[c][f].SecretLabels)...)
			}
		}
	}
	return warnings
}

// labelValueWarnings names the Secret label values that the operator changes when it sanitises them.
func labelValueWarnings(labelsPath *field.Path, labels map[string]string) admission.Warnings {
	var warnings admission.Warnings
	for _, k := range sortedKeys(labels) {
		if v, sanitized := labels[k], names.LabelValue(labels[k]); v != sanitized {
			warnings = append(warnings, fmt.Sprintf("%s: %q is written as %q; label values of output Secrets are sanitised",
				labelsPath.Key(k), v, sanitized))
		}
	}
	return warnings
}

// sortedKeys returns the keys of a map in order, so errors and warnings come in a stable order.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	return slices.Sorted(maps.Keys(m))
}
