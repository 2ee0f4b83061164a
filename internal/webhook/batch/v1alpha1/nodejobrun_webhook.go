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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// SetupNodeJobRunWebhookWithManager registers the NodeJobRun validating webhook with the manager. It looks the
// owning NodeJob up in the manager's cache, where the controller that creates the run has seen it, and reads it
// with the manager's API reader only when the cache does not hold it with the named UID, so a NodeJob that the
// controller has only just seen is found even on a replica whose cache lags.
func SetupNodeJobRunWebhookWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &batchv1alpha1.NodeJobRun{}).
		WithValidator(&NodeJobRunCustomValidator{Cache: mgr.GetClient(), Reader: mgr.GetAPIReader()}).
		Complete()
}

// The validator reads the NodeJob that a new run names as its controller.
// +kubebuilder:rbac:groups=batch.cs.sap.com,resources=nodejobs,verbs=get

// +kubebuilder:webhook:path=/validate-batch-cs-sap-com-v1alpha1-nodejobrun,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=10,groups=batch.cs.sap.com,resources=nodejobruns,verbs=create,versions=v1alpha1,name=vnodejobrun-v1alpha1.kb.io,admissionReviewVersions=v1

// NodeJobRunCustomValidator admits a NodeJobRun only as the child of an existing NodeJob (NJ-38): it must have a
// controller ownerReference to a NodeJob of the same namespace, with that NodeJob's UID, whose name is
// spec.nodeJobName. Only creation is checked; the run's spec is immutable, and owner references may later change
// (for instance when the garbage collector orphans the run).
type NodeJobRunCustomValidator struct {
	// Cache, when set, is asked first; a NodeJob it holds with the UID the run names is taken as it is.
	Cache client.Reader
	// Reader reads NodeJobs; an API reader or a cache that holds them.
	Reader client.Reader
}

var _ admission.Validator[*batchv1alpha1.NodeJobRun] = &NodeJobRunCustomValidator{}

// ValidateCreate implements admission.Validator.
func (v *NodeJobRunCustomValidator) ValidateCreate(ctx context.Context, run *batchv1alpha1.NodeJobRun) (admission.Warnings, error) {
	errs, err := v.validateOwner(ctx, run)
	if err != nil {
		return nil, err
	}
	if len(errs) == 0 {
		return nil, nil
	}
	return nil, apierrors.NewInvalid(batchv1alpha1.GroupVersion.WithKind("NodeJobRun").GroupKind(), run.Name, errs)
}

// ValidateUpdate implements admission.Validator; UPDATE is not registered.
func (v *NodeJobRunCustomValidator) ValidateUpdate(_ context.Context, _, _ *batchv1alpha1.NodeJobRun) (admission.Warnings, error) {
	return nil, nil
}

// ValidateDelete implements admission.Validator; DELETE is not registered.
func (v *NodeJobRunCustomValidator) ValidateDelete(_ context.Context, _ *batchv1alpha1.NodeJobRun) (admission.Warnings, error) {
	return nil, nil
}

// validateOwner checks the controller ownerReference of a new run against spec.nodeJobName and the NodeJob it
// names. The error is set only when the NodeJob cannot be read.
func (v *NodeJobRunCustomValidator) validateOwner(ctx context.Context, run *batchv1alpha1.NodeJobRun) (field.ErrorList, error) {
	refsPath := field.NewPath("metadata", "ownerReferences")
	nameField := field.NewPath("spec", "nodeJobName")
	idx := -1
	for i := range run.OwnerReferences {
		if c := run.OwnerReferences[i].Controller; c != nil && *c {
			idx = i
			break
		}
	}
	if idx < 0 {
		return field.ErrorList{field.Required(refsPath,
			fmt.Sprintf("a controller ownerReference to the NodeJob %q (spec.nodeJobName) is required", run.Spec.NodeJobName))}, nil
	}
	ref := run.OwnerReferences[idx]
	refPath := refsPath.Index(idx)
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || gv.Group != batchv1alpha1.GroupVersion.Group || ref.Kind != "NodeJob" {
		return field.ErrorList{field.Invalid(refPath, fmt.Sprintf("%s %s", ref.APIVersion, ref.Kind),
			"the controller must be a NodeJob of "+batchv1alpha1.GroupVersion.Group)}, nil
	}
	if ref.Name != run.Spec.NodeJobName {
		return field.ErrorList{field.Invalid(nameField, run.Spec.NodeJobName,
			fmt.Sprintf("must be the name of the controlling NodeJob %q (%s)", ref.Name, refPath.Child("name")))}, nil
	}
	key := types.NamespacedName{Namespace: run.Namespace, Name: ref.Name}
	nj := &batchv1alpha1.NodeJob{}
	if v.Cache != nil {
		if err := v.Cache.Get(ctx, key, nj); err == nil && nj.UID == ref.UID {
			return nil, nil
		}
	}
	if err := v.Reader.Get(ctx, key, nj); err != nil {
		if apierrors.IsNotFound(err) {
			return field.ErrorList{field.NotFound(refPath.Child("name"), ref.Name)}, nil
		}
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("reading NodeJob %s/%s: %v", run.Namespace, ref.Name, err))
	}
	if nj.UID != ref.UID {
		return field.ErrorList{field.Invalid(refPath.Child("uid"), ref.UID,
			fmt.Sprintf("is not the UID of NodeJob %s/%s (%s)", run.Namespace, ref.Name, nj.UID))}, nil
	}
	return nil, nil
}
