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

// SetNodeJobWebhookWithManager registers the NodeJob webhooks with the manager.
func SetupNodeJobWebhookWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &batchv1alpha1.NodeJob{}).
		WithDefaulter(&NodeJobCustomDefaulter{}).
		WithValidator(&NodeJobCustomValidator{}).
		Complete()
}

// +kubebuilder:webhook:path=/mutate-batch-cs-sap-com-v1alpha1-nodejob,mutating=true,failurePolicy=fail,sideEffects=None,groups=batch.cs.sap.com,resources=nodejobs,verbs=create;update,versions=v1alpha1,name=mnodejob-v1alpha1.kb.io,admissionReviewVersions=v1

// NodeJobCustomDefaulter sets the defaults of a NodeJob.
type NodeJobCustomDefaulter struct{}

var _ admission.Defaulter[*batchv1alpha1.NodeJob] = &NodeJobCustomDefaulter{}

// Default implements admission.Defaulter.
func (d *NodeJobCustomDefaulter) Default(_ context.Context, _ *batchv1alpha1.NodeJob) error {
	return nil
}

// +kubebuilder:webhook:path=/validate-batch-cs-sap-com-v1alpha1-nodejob,mutating=false,failurePolicy=fail,sideEffects=None,groups=batch.cs.sap.com,resources=nodejobs,verbs=create;update,versions=v1alpha1,name=vnodejob-v1alpha1.kb.io,admissionReviewVersions=v1

// NodeJobCustomValidator validates a NodeJob.
type NodeJobCustomValidator struct{}

var _ admission.Validator[*batchv1alpha1.NodeJob] = &NodeJobCustomValidator{}

// ValidateCreate implements admission.Validator.
func (v *NodeJobCustomValidator) ValidateCreate(_ context.Context, _ *batchv1alpha1.NodeJob) (admission.Warnings, error) {
	return nil, nil
}

// ValidateUpdate implements admission.Validator.
func (v *NodeJobCustomValidator) ValidateUpdate(_ context.Context, _, _ *batchv1alpha1.NodeJob) (admission.Warnings, error) {
	return nil, nil
}

// ValidateDelete implements admission.Validator; DELETE is not registered.
func (v *NodeJobCustomValidator) ValidateDelete(_ context.Context, _ *batchv1alpha1.NodeJob) (admission.Warnings, error) {
	return nil, nil
}
