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

	admissionv1 "k8s.io/api/admission/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// maxLabelValueName is the longest ReactiveJob name: the name is used as a label value on its Jobs.
const maxLabelValueName = 63

var reactivejobLog = logf.Log.WithName("reactivejob-webhook")

// ReactiveJobWebhookOptions configures the ReactiveJob webhooks.
type ReactiveJobWebhookOptions struct {
	// AuthorizeJobCreate denies users who may not create jobs.batch in the
	// ReactiveJob's namespace, so that a ReactiveJob cannot lend them the
	// operator's right to create Jobs (RJ-A8).
	AuthorizeJobCreate bool
}

// SetupReactiveJobWebhookWithManager registers the ReactiveJob webhooks with the manager.
func SetupReactiveJobWebhookWithManager(mgr ctrl.Manager, opts ReactiveJobWebhookOptions) error {
	return ctrl.NewWebhookManagedBy(mgr, &batchv1alpha1.ReactiveJob{}).
		WithDefaulter(&ReactiveJobCustomDefaulter{}).
		WithValidator(&ReactiveJobCustomValidator{Client: mgr.GetClient(), AuthorizeJobCreate: opts.AuthorizeJobCreate}).
		Complete()
}

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=create

// +kubebuilder:webhook:path=/mutate-batch-cs-sap-com-v1alpha1-reactivejob,mutating=true,failurePolicy=fail,sideEffects=None,timeoutSeconds=10,groups=batch.cs.sap.com,resources=reactivejobs,verbs=create;update,versions=v1alpha1,name=mreactivejob-v1alpha1.kb.io,admissionReviewVersions=v1,patch=`{"matchConditions":[{"name":"create-or-spec-changed","expression":"request.operation == 'CREATE' || object.spec != oldObject.spec"}]}`

// ReactiveJobCustomDefaulter sets the defaults of a ReactiveJob.
type ReactiveJobCustomDefaulter struct{}

var _ admission.Defaulter[*batchv1alpha1.ReactiveJob] = &ReactiveJobCustomDefaulter{}

// Default implements admission.Defaulter: concurrencyPolicy defaults to Allow, and a ReactiveJob is created with
// the operator's finalizer (RJ-21), so that the controller need not patch it in before the first Job. The controller
// still adds it when it is missing (created while the webhook was not called, or removed later). Fields that a
// mutating webhook sets are owned by no field manager, so a server-side apply that does not name the finalizer
// leaves it in place.
func (d *ReactiveJobCustomDefaulter) Default(ctx context.Context, rj *batchv1alpha1.ReactiveJob) error {
	if rj.Spec.ConcurrencyPolicy == "" {
		rj.Spec.ConcurrencyPolicy = batchv1alpha1.AllowConcurrent
	}
	if req, err := admission.RequestFromContext(ctx); err == nil && req.Operation == admissionv1.Create &&
		rj.DeletionTimestamp.IsZero() {
		controllerutil.AddFinalizer(rj, batchv1alpha1.ReactiveJobFinalizer)
	}
	return nil
}

// +kubebuilder:webhook:path=/validate-batch-cs-sap-com-v1alpha1-reactivejob,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=10,groups=batch.cs.sap.com,resources=reactivejobs,verbs=create;update,versions=v1alpha1,name=vreactivejob-v1alpha1.kb.io,admissionReviewVersions=v1,patch=`{"matchConditions":[{"name":"create-or-spec-changed","expression":"request.operation == 'CREATE' || object.spec != oldObject.spec"}]}`

// ReactiveJobCustomValidator validates a ReactiveJob. Besides the static rules
// of the CRD schema, it dry-runs the creation of the Job built from the template,
// so that the API server's own Job validation answers at admission.
type ReactiveJobCustomValidator struct {
	// Client creates the dry-run Job and the SubjectAccessReviews.
	Client client.Client
	// AuthorizeJobCreate checks that the requesting user may create Jobs.
	AuthorizeJobCreate bool
}

var _ admission.Validator[*batchv1alpha1.ReactiveJob] = &ReactiveJobCustomValidator{}

// ValidateCreate implements admission.Validator.
func (v *ReactiveJobCustomValidator) ValidateCreate(ctx context.Context, rj *batchv1alpha1.ReactiveJob) (admission.Warnings, error) {
	return nil, v.validate(ctx, rj)
}

// ValidateUpdate implements admission.Validator. Only spec changes are validated,
// and never while the object is being deleted.
func (v *ReactiveJobCustomValidator) ValidateUpdate(ctx context.Context, oldRJ, rj *batchv1alpha1.ReactiveJob) (admission.Warnings, error) {
	if rj.DeletionTimestamp != nil || apiequality.Semantic.DeepEqual(oldRJ.Spec, rj.Spec) {
		return nil, nil
	}
	return nil, v.validate(ctx, rj)
}

// ValidateDelete implements admission.Validator; DELETE is not registered.
func (v *ReactiveJobCustomValidator) ValidateDelete(_ context.Context, _ *batchv1alpha1.ReactiveJob) (admission.Warnings, error) {
	return nil, nil
}

func (v *ReactiveJobCustomValidator) validate(ctx context.Context, rj *batchv1alpha1.ReactiveJob) error {
	errs := validateReactiveJobName(field.NewPath("metadata", "name"), rj.Name)
	errs = append(errs, validateJobTemplateMetadata(field.NewPath("spec", "jobTemplate", "metadata"), &rj.Spec.JobTemplate.ObjectMeta)...)
	if len(errs) == 0 && v.AuthorizeJobCreate {
		if err := v.authorizeJobCreate(ctx, rj); err != nil {
			return err
		}
	}
	if len(errs) == 0 {
		dryRunErrs, err := v.dryRunJob(ctx, field.NewPath("spec", "jobTemplate"), rj)
		if err != nil {
			return err
		}
		errs = append(errs, dryRunErrs...)
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: batchv1alpha1.GroupVersion.Group, Kind: "ReactiveJob"}, rj.Name, errs)
}

// authorizeJobCreate asks the API server whether the requesting user may create
// Jobs in the ReactiveJob's namespace, and denies with 403 when not.
func (v *ReactiveJobCustomValidator) authorizeJobCreate(ctx context.Context, rj *batchv1alpha1.ReactiveJob) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	extra := map[string]authorizationv1.ExtraValue{}
	for k, vals := range req.UserInfo.Extra {
		extra[k] = authorizationv1.ExtraValue(vals)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   req.UserInfo.Username,
		UID:    req.UserInfo.UID,
		Groups: req.UserInfo.Groups,
		Extra:  extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: rj.Namespace, Verb: "create", Group: "batch", Resource: "jobs",
		},
	}}
	if err := v.Client.Create(ctx, sar); err != nil {
		return fmt.Errorf("checking whether %s may create jobs: %w", req.UserInfo.Username, err)
	}
	if sar.Status.Allowed {
		return nil
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: batchv1alpha1.GroupVersion.Group, Resource: "reactivejobs"}, rj.Name,
		field.Forbidden(field.NewPath("spec", "jobTemplate"),
			fmt.Sprintf("user %q may not create jobs.batch in namespace %q", req.UserInfo.Username, rj.Namespace)))
}

// validateReactiveJobName rejects names that cannot be a label value.
func validateReactiveJobName(path *field.Path, name string) field.ErrorList {
	if len(name) <= maxLabelValueName {
		return nil
	}
	return field.ErrorList{&field.Error{
		Type:     field.ErrorTypeTooLong,
		Field:    path.String(),
		BadValue: name,
		Detail:   fmt.Sprintf("may not be more than %d characters (used as a label value)", maxLabelValueName),
	}}
}

// validateJobTemplateMetadata rejects a name or namespace in the template; the
// operator names the Job and creates it in the ReactiveJob's namespace.
func validateJobTemplateMetadata(path *field.Path, meta *metav1.ObjectMeta) field.ErrorList {
	var errs field.ErrorList
	if meta.Name != "" {
		errs = append(errs, field.Forbidden(path.Child("name"), "must not be specified"))
	}
	if meta.Namespace != "" {
		errs = append(errs, field.Forbidden(path.Child("namespace"), "must not be specified"))
	}
	return errs
}

// dryRunJob asks the API server to validate the Job that the template describes.
// An invalid template is a field error; any other failure is returned as it is.
func (v *ReactiveJobCustomValidator) dryRunJob(ctx context.Context, path *field.Path, rj *batchv1alpha1.ReactiveJob) (field.ErrorList, error) {
	tmpl := rj.Spec.JobTemplate.DeepCopy()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: rj.Name + "-",
			Namespace:    rj.Namespace,
			Labels:       tmpl.Labels,
			Annotations:  tmpl.Annotations,
			Finalizers:   tmpl.Finalizers,
		},
		Spec: tmpl.Spec,
	}
	err := v.Client.Create(ctx, job, client.DryRunAll)
	switch {
	case err == nil:
		return nil, nil
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return field.ErrorList{&field.Error{
			Type:     field.ErrorTypeInvalid,
			Field:    path.String(),
			BadValue: field.OmitValueType{},
			Detail:   "job template is invalid; dry-run output was: " + err.Error(),
		}}, nil
	default:
		reactivejobLog.V(1).Info("dry-run of the job template failed", "namespace", rj.Namespace, "name", rj.Name, "error", err.Error())
		return nil, fmt.Errorf("dry-run of the job template: %w", err)
	}
}
