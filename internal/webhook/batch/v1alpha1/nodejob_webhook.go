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
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	// The time zone database is embedded so that spec.timeZone is checked the same way on every host.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var (
	// metricPrefixPattern is the syntax of spec.metrics.prefix, a Prometheus metric name.
	metricPrefixPattern = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	// metricNamePattern is the syntax of gauge suffixes and label names.
	metricNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// parallelismPercentPattern is the syntax of a percentage parallelism.
	parallelismPercentPattern = regexp.MustCompile(`^([1-9][0-9]?|100)%$`)
)

// cronDescriptors are the schedule descriptors a NodeJob accepts besides "@every <duration>".
var cronDescriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// SetupNodeJobWebhookWithManager registers the NodeJob webhooks with the manager. The validator finds NodeJobs that
// declare the same metric families through NodeJobMetricFamilyIndex, which this adds to the informer of NodeJobs in
// the manager's cache.
func SetupNodeJobWebhookWithManager(mgr ctrl.Manager) error {
	inf, err := mgr.GetCache().GetInformer(context.Background(), &batchv1alpha1.NodeJob{})
	if err != nil {
		return fmt.Errorf("getting the informer of NodeJobs: %w", err)
	}
	sii, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return fmt.Errorf("the informer of NodeJobs is a %T, not a SharedIndexInformer", inf)
	}
	if err := sii.AddIndexers(toolscache.Indexers{NodeJobMetricFamilyIndex: NodeJobMetricFamilyValues}); err != nil {
		return fmt.Errorf("indexing NodeJobs by metric family: %w", err)
	}
	return ctrl.NewWebhookManagedBy(mgr, &batchv1alpha1.NodeJob{}).
		WithDefaulter(&NodeJobCustomDefaulter{}).
		WithValidator(&NodeJobCustomValidator{Families: sii.GetIndexer(), FamiliesSynced: func(ctx context.Context) bool {
			return toolscache.WaitForCacheSync(ctx.Done(), sii.HasSynced)
		}}).
		Complete()
}

// +kubebuilder:webhook:path=/mutate-batch-cs-sap-com-v1alpha1-nodejob,mutating=true,failurePolicy=fail,sideEffects=None,groups=batch.cs.sap.com,resources=nodejobs,verbs=create;update,versions=v1alpha1,name=mnodejob-v1alpha1.kb.io,admissionReviewVersions=v1,patch=`{"matchConditions":[{"name":"create-or-spec-changed","expression":"request.operation == 'CREATE' || object.spec != oldObject.spec"}]}`

// NodeJobCustomDefaulter sets the defaults of a NodeJob, the same ones the CRD schema declares.
type NodeJobCustomDefaulter struct{}

var _ admission.Defaulter[*batchv1alpha1.NodeJob] = &NodeJobCustomDefaulter{}

// Default implements admission.Defaulter.
func (d *NodeJobCustomDefaulter) Default(_ context.Context, nj *batchv1alpha1.NodeJob) error {
	defaultNodeJobSpec(&nj.Spec)
	return nil
}

// defaultNodeJobSpec fills in every unset field of spec that has a default.
func defaultNodeJobSpec(spec *batchv1alpha1.NodeJobSpec) {
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1alpha1.ForbidConcurrent
	}
	if spec.SuccessfulRunsHistoryLimit == nil {
		spec.SuccessfulRunsHistoryLimit = ptr.To(batchv1alpha1.DefaultNodeJobSuccessfulRunsHistoryLimit)
	}
	if spec.FailedRunsHistoryLimit == nil {
		spec.FailedRunsHistoryLimit = ptr.To(batchv1alpha1.DefaultNodeJobFailedRunsHistoryLimit)
	}
	defaultNodeJobRunTemplate(&spec.NodeJobRunTemplate)
}

// defaultNodeJobRunTemplate fills in the defaults of the fields copied into every run.
func defaultNodeJobRunTemplate(rt *batchv1alpha1.NodeJobRunTemplate) {
	if rt.Parallelism == nil {
		rt.Parallelism = new(intstr.FromInt32(batchv1alpha1.DefaultNodeJobParallelism))
	}
	if rt.FailurePolicy == "" {
		rt.FailurePolicy = batchv1alpha1.NodeJobFailurePolicyContinue
	}
	if rt.Metrics.Prefix == "" {
		rt.Metrics.Prefix = batchv1alpha1.DefaultNodeJobMetricsPrefix
	}
	defaultNodeJobResultLimits(&rt.ResultLimits)
}

// defaultNodeJobResultLimits fills in the unset result limits.
func defaultNodeJobResultLimits(l *batchv1alpha1.NodeJobResultLimits) {
	defaultQuantity(&l.MaxResultSize, batchv1alpha1.DefaultNodeJobMaxResultSize)
	defaultQuantity(&l.MaxFileSize, batchv1alpha1.DefaultNodeJobMaxFileSize)
	defaultQuantity(&l.MaxRunStorage, batchv1alpha1.DefaultNodeJobMaxRunStorage)
	defaultQuantity(&l.MaxLogSize, batchv1alpha1.DefaultNodeJobMaxLogSize)
	if l.MaxFilesPerNode == nil {
		l.MaxFilesPerNode = ptr.To(batchv1alpha1.DefaultNodeJobMaxFilesPerNode)
	}
	if l.MaxEventsPerNode == nil {
		l.MaxEventsPerNode = ptr.To(batchv1alpha1.DefaultNodeJobMaxEventsPerNode)
	}
	if l.MaxSeriesPerNode == nil {
		l.MaxSeriesPerNode = ptr.To(batchv1alpha1.DefaultNodeJobMaxSeriesPerNode)
	}
}

// defaultQuantity sets *q to def when it is unset.
func defaultQuantity(q **resource.Quantity, def string) {
	if *q == nil {
		*q = new(resource.MustParse(def))
	}
}

// +kubebuilder:webhook:path=/validate-batch-cs-sap-com-v1alpha1-nodejob,mutating=false,failurePolicy=fail,sideEffects=None,groups=batch.cs.sap.com,resources=nodejobs,verbs=create;update,versions=v1alpha1,name=vnodejob-v1alpha1.kb.io,admissionReviewVersions=v1,patch=`{"matchConditions":[{"name":"create-or-spec-changed","expression":"request.operation == 'CREATE' || object.spec != oldObject.spec"}]}`

// NodeJobCustomValidator checks what the CRD schema cannot: cron and time zone parsing, reserved environment
// variables, volumes and metric names, the bounds of quantities, and metric families that another NodeJob declares
// differently (NJ-X12).
type NodeJobCustomValidator struct {
	// Families finds NodeJobs by NodeJobMetricFamilyIndex: the indexer of the manager's informer of NodeJobs.
	// Without it, metric families are not compared across NodeJobs.
	Families FamilyIndex
	// FamiliesSynced waits, at most until ctx ends, until Families holds every NodeJob, and reports whether it does.
	// The webhook server serves before the manager's caches have synced: a start-up admission waits for them, as a
	// read from the cache would. Nil means always synced.
	FamiliesSynced func(ctx context.Context) bool
}

var _ admission.Validator[*batchv1alpha1.NodeJob] = &NodeJobCustomValidator{}

// ValidateCreate implements admission.Validator.
func (v *NodeJobCustomValidator) ValidateCreate(ctx context.Context, nj *batchv1alpha1.NodeJob) (admission.Warnings, error) {
	if nj.DeletionTimestamp != nil {
		return nil, nil
	}
	return nil, v.validate(ctx, nil, nj)
}

// ValidateUpdate implements admission.Validator. Only a changed spec is validated, so that objects admitted under
// older rules can still get their metadata updated and be deleted.
func (v *NodeJobCustomValidator) ValidateUpdate(ctx context.Context, oldNJ, newNJ *batchv1alpha1.NodeJob) (admission.Warnings, error) {
	if newNJ.DeletionTimestamp != nil || equality.Semantic.DeepEqual(oldNJ.Spec, newNJ.Spec) {
		return nil, nil
	}
	return nil, v.validate(ctx, oldNJ, newNJ)
}

// validate checks nj on its own and then, when it is valid, its metric families against the other NodeJobs.
func (v *NodeJobCustomValidator) validate(ctx context.Context, old, nj *batchv1alpha1.NodeJob) error {
	if err := validateNodeJob(nj); err != nil {
		return err
	}
	if v.Families != nil && v.FamiliesSynced != nil && !v.FamiliesSynced(ctx) {
		return apierrors.NewServiceUnavailable(
			"the operator has not yet read the NodeJobs of the cluster to compare metric families; retry")
	}
	errs, err := metricConflicts(v.Families, old, nj)
	if err != nil {
		return err
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(batchv1alpha1.GroupVersion.WithKind("NodeJob").GroupKind(), nj.Name, errs)
}

// ValidateDelete implements admission.Validator; DELETE is not registered.
func (v *NodeJobCustomValidator) ValidateDelete(_ context.Context, _ *batchv1alpha1.NodeJob) (admission.Warnings, error) {
	return nil, nil
}

// validateNodeJob returns an Invalid error listing every problem of nj, or nil.
func validateNodeJob(nj *batchv1alpha1.NodeJob) error {
	errs := validateNodeJobName(field.NewPath("metadata", "name"), nj.Name)
	errs = append(errs, validateNodeJobSpec(field.NewPath("spec"), &nj.Spec)...)
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(batchv1alpha1.GroupVersion.WithKind("NodeJob").GroupKind(), nj.Name, errs)
}

// validateNodeJobName checks that run and pod names derived from name fit in 63 characters.
func validateNodeJobName(path *field.Path, name string) field.ErrorList {
	if len(name) > batchv1alpha1.NodeJobMaxNameLength {
		return field.ErrorList{field.TooLongCharacters(path, name, batchv1alpha1.NodeJobMaxNameLength)}
	}
	return nil
}

// validateNodeJobSpec checks the spec of a NodeJob.
func validateNodeJobSpec(path *field.Path, spec *batchv1alpha1.NodeJobSpec) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateSchedule(path.Child("schedule"), spec.Schedule)...)
	errs = append(errs, validateTimeZone(path.Child("timeZone"), spec.TimeZone)...)
	errs = append(errs, validateNodeJobRunTemplate(path, &spec.NodeJobRunTemplate)...)
	return errs
}

// validateNodeJobRunTemplate checks the fields copied into every run. path is the spec that holds them.
func validateNodeJobRunTemplate(path *field.Path, rt *batchv1alpha1.NodeJobRunTemplate) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateParallelism(path.Child("parallelism"), rt.Parallelism)...)
	errs = append(errs, validatePodDeadline(path, rt)...)
	errs = append(errs, validateNodeJobPodSpec(path.Child("template", "spec"), &rt.Template.Spec)...)
	errs = append(errs, validateMetrics(path.Child("metrics"), &rt.Metrics)...)
	errs = append(errs, validateResultLimits(path.Child("resultLimits"), &rt.ResultLimits)...)
	return errs
}

// validateSchedule checks that schedule is a 5-field cron expression or a descriptor, without a time zone prefix.
func validateSchedule(path *field.Path, schedule string) field.ErrorList {
	if schedule == "" {
		return nil
	}
	if strings.HasPrefix(schedule, "TZ=") || strings.HasPrefix(schedule, "CRON_TZ=") {
		return field.ErrorList{field.Invalid(path, schedule,
			"time zone prefixes are not supported, use spec.timeZone instead")}
	}
	if err := parseSchedule(schedule); err != nil {
		return field.ErrorList{field.Invalid(path, schedule, fmt.Sprintf(
			"unparsable: %v; expected 5 fields (minute hour day-of-month month day-of-week), "+
				"one of %s, or @every <duration>", err, strings.Join(cronDescriptors, ", ")))}
	}
	return nil
}

// parseSchedule parses a schedule without a time zone prefix. The parser is guarded against panics, because the
// schedule comes straight from the user.
func parseSchedule(schedule string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot be parsed")
		}
	}()
	if after, ok := strings.CutPrefix(schedule, "@every "); ok {
		d, perr := time.ParseDuration(strings.TrimSpace(after))
		if perr != nil {
			return perr
		}
		if d <= 0 {
			return fmt.Errorf("@every needs a positive duration")
		}
		return nil
	}
	if strings.HasPrefix(schedule, "@") && !slices.Contains(cronDescriptors, schedule) {
		return fmt.Errorf("unknown descriptor %q", schedule)
	}
	_, err = cron.ParseStandard(schedule)
	return err
}

// validateTimeZone checks that timeZone, when set, names a loadable IANA time zone other than Local.
func validateTimeZone(path *field.Path, timeZone *string) field.ErrorList {
	if timeZone == nil {
		return nil
	}
	tz := *timeZone
	if tz == "" || tz == "Local" {
		return field.ErrorList{field.Invalid(path, tz,
			`must be an IANA time zone name such as "Europe/Berlin" or "UTC"; "" and "Local" are not allowed`)}
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return field.ErrorList{field.Invalid(path, tz, fmt.Sprintf("unknown time zone: %v", err))}
	}
	return nil
}

// validateParallelism checks that parallelism is an integer of at least 1 or a percentage from 1% to 100%.
func validateParallelism(path *field.Path, parallelism *intstr.IntOrString) field.ErrorList {
	if parallelism == nil {
		return nil
	}
	switch parallelism.Type {
	case intstr.Int:
		if parallelism.IntVal < 1 {
			return field.ErrorList{field.Invalid(path, parallelism.IntVal, "must be at least 1")}
		}
	case intstr.String:
		if !parallelismPercentPattern.MatchString(parallelism.StrVal) {
			return field.ErrorList{field.Invalid(path, parallelism.StrVal,
				`must be an integer of at least 1 or a percentage from "1%" to "100%"`)}
		}
	default:
		return field.ErrorList{field.Invalid(path, parallelism.String(), "must be an integer or a percentage")}
	}
	return nil
}

// validatePodDeadline checks that a template restarting on failure has a pod deadline, because a pod that keeps
// failing would otherwise never end. path is the spec holding the fields.
func validatePodDeadline(path *field.Path, rt *batchv1alpha1.NodeJobRunTemplate) field.ErrorList {
	if rt.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure ||
		rt.PodActiveDeadlineSeconds != nil || rt.Template.Spec.ActiveDeadlineSeconds != nil {
		return nil
	}
	return field.ErrorList{field.Required(path.Child("podActiveDeadlineSeconds"),
		"restartPolicy OnFailure needs podActiveDeadlineSeconds or template.spec.activeDeadlineSeconds, "+
			"otherwise a pod that keeps failing never ends")}
}

// validateNodeJobPodSpec checks the pod spec of the template: its restart policy, and that it does not use the
// names the operator adds to every pod.
func validateNodeJobPodSpec(path *field.Path, spec *corev1.PodSpec) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateRestartPolicy(path.Child("restartPolicy"), spec.RestartPolicy)...)
	errs = append(errs, validateReservedEnv(path.Child("initContainers"), spec.InitContainers)...)
	errs = append(errs, validateReservedEnv(path.Child("containers"), spec.Containers)...)
	errs = append(errs, validateResultsMount(path.Child("initContainers"), spec.InitContainers)...)
	errs = append(errs, validateResultsMount(path.Child("containers"), spec.Containers)...)
	errs = append(errs, validateResultsVolume(path.Child("volumes"), spec.Volumes)...)
	return errs
}

// validateRestartPolicy checks that the pods restart Never (used when unset) or OnFailure.
func validateRestartPolicy(path *field.Path, policy corev1.RestartPolicy) field.ErrorList {
	switch policy {
	case "", corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure:
		return nil
	}
	return field.ErrorList{field.NotSupported(path, policy,
		[]corev1.RestartPolicy{corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure})}
}

// validateReservedEnv checks that no container defines an environment variable the operator injects.
// path is the list of containers.
func validateReservedEnv(path *field.Path, containers []corev1.Container) field.ErrorList {
	var errs field.ErrorList
	for i := range containers {
		for j, env := range containers[i].Env {
			if batchv1alpha1.IsNodeJobReservedEnvName(env.Name) {
				errs = append(errs, field.Invalid(path.Index(i).Child("env").Index(j).Child("name"), env.Name,
					"reserved: the operator sets this variable in every container"))
			}
		}
	}
	return errs
}

// validateResultsMount checks that no container mounts anything where the operator mounts the results volume.
// path is the list of containers.
func validateResultsMount(path *field.Path, containers []corev1.Container) field.ErrorList {
	var errs field.ErrorList
	for i := range containers {
		for j, m := range containers[i].VolumeMounts {
			if strings.TrimSuffix(m.MountPath, "/") == batchv1alpha1.NodeJobResultsMountPath {
				errs = append(errs, field.Invalid(path.Index(i).Child("volumeMounts").Index(j).Child("mountPath"),
					m.MountPath, "reserved: the operator mounts the results volume here"))
			}
		}
	}
	return errs
}

// validateResultsVolume checks that no volume uses the name of the volume the operator adds.
func validateResultsVolume(path *field.Path, volumes []corev1.Volume) field.ErrorList {
	var errs field.ErrorList
	for i := range volumes {
		if volumes[i].Name == batchv1alpha1.NodeJobResultsVolumeName {
			errs = append(errs, field.Invalid(path.Index(i).Child("name"), volumes[i].Name,
				"reserved: the operator adds a volume of this name to every pod"))
		}
	}
	return errs
}

// validateMetrics checks the metrics prefix and the declared gauges.
func validateMetrics(path *field.Path, metrics *batchv1alpha1.NodeJobMetrics) field.ErrorList {
	errs := validateMetricPrefix(path.Child("prefix"), metrics.Prefix)
	gaugesPath := path.Child("gauges")
	for _, suffix := range slices.Sorted(maps.Keys(metrics.Gauges)) {
		gauge := metrics.Gauges[suffix]
		errs = append(errs, validateGauge(gaugesPath.Key(suffix), suffix, &gauge)...)
	}
	return errs
}

// validateMetricPrefix checks that prefix is a metric name outside the operator's own families. An empty prefix
// is replaced by the default.
func validateMetricPrefix(path *field.Path, prefix string) field.ErrorList {
	if prefix == "" {
		return nil
	}
	if !metricPrefixPattern.MatchString(prefix) {
		return field.ErrorList{field.Invalid(path, prefix, "must match "+metricPrefixPattern.String())}
	}
	for _, forbidden := range batchv1alpha1.NodeJobForbiddenMetricPrefixes {
		if strings.HasPrefix(prefix, forbidden) {
			return field.ErrorList{field.Invalid(path, prefix, fmt.Sprintf(
				"must not start with %q: the prefixes %s belong to the operator's own metrics",
				forbidden, strings.Join(batchv1alpha1.NodeJobForbiddenMetricPrefixes, ", ")))}
		}
	}
	return nil
}

// validateGauge checks one gauge declaration. path is the gauge's entry in the gauges map.
func validateGauge(path *field.Path, suffix string, gauge *batchv1alpha1.NodeJobGauge) field.ErrorList {
	var errs field.ErrorList
	switch {
	case !metricNamePattern.MatchString(suffix):
		errs = append(errs, field.Invalid(path, suffix, "the suffix must match "+metricNamePattern.String()))
	case slices.Contains(batchv1alpha1.NodeJobReservedGaugeSuffixes, suffix):
		errs = append(errs, field.Invalid(path, suffix, fmt.Sprintf(
			"reserved: the operator reports the suffixes %s itself",
			strings.Join(batchv1alpha1.NodeJobReservedGaugeSuffixes, ", "))))
	}
	switch {
	case gauge.Help == "":
		errs = append(errs, field.Required(path.Child("help"), "every gauge needs a help text"))
	case utf8.RuneCountInString(gauge.Help) > batchv1alpha1.NodeJobMaxGaugeHelpLength:
		errs = append(errs, field.TooLongCharacters(path.Child("help"), gauge.Help,
			batchv1alpha1.NodeJobMaxGaugeHelpLength))
	}
	errs = append(errs, validateGaugeLabels(path.Child("labels"), gauge.Labels)...)
	return errs
}

// validateGaugeLabels checks the label names of one gauge.
func validateGaugeLabels(path *field.Path, labels []string) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[string]bool, len(labels))
	for i, label := range labels {
		p := path.Index(i)
		switch {
		case seen[label]:
			errs = append(errs, field.Duplicate(p, label))
		case !metricNamePattern.MatchString(label):
			errs = append(errs, field.Invalid(p, label, "must match "+metricNamePattern.String()))
		case strings.HasPrefix(label, "__"):
			errs = append(errs, field.Invalid(p, label, `must not start with "__", which Prometheus reserves`))
		case slices.Contains(batchv1alpha1.NodeJobReservedGaugeLabels, label):
			errs = append(errs, field.Invalid(p, label, fmt.Sprintf(
				"reserved: the operator sets the labels %s on every series",
				strings.Join(batchv1alpha1.NodeJobReservedGaugeLabels, ", "))))
		}
		seen[label] = true
	}
	return errs
}

// validateResultLimits checks that the result limits are positive and within their upper bounds.
func validateResultLimits(path *field.Path, l *batchv1alpha1.NodeJobResultLimits) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateQuantityLimit(path.Child("maxResultSize"), l.MaxResultSize,
		batchv1alpha1.NodeJobMaxResultSizeLimit)...)
	errs = append(errs, validateQuantityLimit(path.Child("maxFileSize"), l.MaxFileSize,
		batchv1alpha1.NodeJobMaxFileSizeLimit)...)
	errs = append(errs, validateQuantityLimit(path.Child("maxRunStorage"), l.MaxRunStorage, "")...)
	errs = append(errs, validateQuantityLimit(path.Child("maxLogSize"), l.MaxLogSize, "")...)
	errs = append(errs, validateCountLimit(path.Child("maxFilesPerNode"), l.MaxFilesPerNode,
		batchv1alpha1.NodeJobMaxFilesPerNodeLimit)...)
	errs = append(errs, validateCountLimit(path.Child("maxEventsPerNode"), l.MaxEventsPerNode,
		batchv1alpha1.NodeJobMaxEventsPerNodeLimit)...)
	errs = append(errs, validateCountLimit(path.Child("maxSeriesPerNode"), l.MaxSeriesPerNode,
		batchv1alpha1.NodeJobMaxSeriesPerNodeLimit)...)
	return errs
}

// validateQuantityLimit checks that q, when set, is greater than zero and at most maxValue (when not empty).
func validateQuantityLimit(path *field.Path, q *resource.Quantity, maxValue string) field.ErrorList {
	if q == nil {
		return nil
	}
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(path, q.String(), "must be greater than 0")}
	}
	if maxValue != "" && q.Cmp(resource.MustParse(maxValue)) > 0 {
		return field.ErrorList{field.Invalid(path, q.String(), "must be at most "+maxValue)}
	}
	return nil
}

// validateCountLimit checks that n, when set, is between 1 and maxValue.
func validateCountLimit(path *field.Path, n *int32, maxValue int32) field.ErrorList {
	if n == nil {
		return nil
	}
	if *n < 1 || *n > maxValue {
		return field.ErrorList{field.Invalid(path, *n, fmt.Sprintf("must be between 1 and %d", maxValue))}
	}
	return nil
}
