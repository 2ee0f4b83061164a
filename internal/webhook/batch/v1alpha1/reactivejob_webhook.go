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

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// SetReactiveJobWebhookWithManager registers the ReactiveJob webhooks with the manager.
func SetupReactiveJobWebhookWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &batchv1alpha1.ReactiveJob{}).
		WithDefaulter(&ReactiveJobCustomDefaulter{}).
		WithValidator(&ReactiveJobCustomValidator{}).
		Complete()
}

// +kubebuilder:webhook:path=/mutate-batch-cs-sap-com-v1alpha1-reactivejob,mutating=true,failurePolicy=fail,sideEffects=None,groups=batch.cs.sap.com,resources=reactivejobs,verbs=create;update,versions=v1alpha1,name=mreactivejob-v1alpha1.kb.io,admissionReviewVersions=v1

// ReactiveJobCustomDefaulter sets the defaults of a ReactiveJob.
type ReactiveJobCustomDefaulter struct{}

var _ admission.Defaulter[*batchv1alpha1.ReactiveJob] = &ReactiveJobCustomDefaulter{}

// Default implements admission.Defaulter.
func (d *ReactiveJobCustomDefaulter) Default(_ context.Context, _ *batchv1alpha1.ReactiveJob) error {
	return nil
}

// +kubebuilder:webhook:path=/validate-batch-cs-sap-com-v1alpha1-reactivejob,mutating=false,failurePolicy=fail,sideEffects=None,groups=batch.cs.sap.com,resources=reactivejobs,verbs=create;update,versions=v1alpha1,name=vreactivejob-v1alpha1.kb.io,admissionReviewVersions=v1

// ReactiveJobCustomValidator validates a ReactiveJob.
type ReactiveJobCustomValidator struct{}

var _ admission.Validator[*batchv1alpha1.ReactiveJob] = &ReactiveJobCustomValidator{}

// ValidateCreate implements admission.Validator.
func (v *ReactiveJobCustomValidator) ValidateCreate(_ context.Context, _ *batchv1alpha1.ReactiveJob) (admission.Warnings, error) {
	return nil, nil
}

// ValidateUpdate implements admission.Validator.
func (v *ReactiveJobCustomValidator) ValidateUpdate(_ context.Context, _, _ *batchv1alpha1.ReactiveJob) (admission.Warnings, error) {
	return nil, nil
}

// ValidateDelete implements admission.Validator; DELETE is not registered.
func (v *ReactiveJobCustomValidator) ValidateDelete(_ context.Context, _ *batchv1alpha1.ReactiveJob) (admission.Warnings, error) {
	return nil, nil
}
