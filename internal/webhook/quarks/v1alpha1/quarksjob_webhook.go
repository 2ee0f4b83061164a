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

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// SetQuarksJobWebhookWithManager registers the QuarksJob webhooks with the manager.
func SetupQuarksJobWebhookWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &quarksv1alpha1.QuarksJob{}).
		WithDefaulter(&QuarksJobCustomDefaulter{}).
		WithValidator(&QuarksJobCustomValidator{}).
		Complete()
}

// +kubebuilder:webhook:path=/mutate-quarks-cloudfoundry-org-v1alpha1-quarksjob,mutating=true,failurePolicy=fail,sideEffects=None,groups=quarks.cloudfoundry.org,resources=quarksjobs,verbs=create;update,versions=v1alpha1,name=mquarksjob-v1alpha1.kb.io,admissionReviewVersions=v1

// QuarksJobCustomDefaulter sets the defaults of a QuarksJob.
type QuarksJobCustomDefaulter struct{}

var _ admission.Defaulter[*quarksv1alpha1.QuarksJob] = &QuarksJobCustomDefaulter{}

// Default implements admission.Defaulter.
func (d *QuarksJobCustomDefaulter) Default(_ context.Context, _ *quarksv1alpha1.QuarksJob) error {
	return nil
}

// +kubebuilder:webhook:path=/validate-quarks-cloudfoundry-org-v1alpha1-quarksjob,mutating=false,failurePolicy=fail,sideEffects=None,groups=quarks.cloudfoundry.org,resources=quarksjobs,verbs=create;update,versions=v1alpha1,name=vquarksjob-v1alpha1.kb.io,admissionReviewVersions=v1

// QuarksJobCustomValidator validates a QuarksJob.
type QuarksJobCustomValidator struct{}

var _ admission.Validator[*quarksv1alpha1.QuarksJob] = &QuarksJobCustomValidator{}

// ValidateCreate implements admission.Validator.
func (v *QuarksJobCustomValidator) ValidateCreate(_ context.Context, _ *quarksv1alpha1.QuarksJob) (admission.Warnings, error) {
	return nil, nil
}

// ValidateUpdate implements admission.Validator.
func (v *QuarksJobCustomValidator) ValidateUpdate(_ context.Context, _, _ *quarksv1alpha1.QuarksJob) (admission.Warnings, error) {
	return nil, nil
}

// ValidateDelete implements admission.Validator; DELETE is not registered.
func (v *QuarksJobCustomValidator) ValidateDelete(_ context.Context, _ *quarksv1alpha1.QuarksJob) (admission.Warnings, error) {
	return nil, nil
}
