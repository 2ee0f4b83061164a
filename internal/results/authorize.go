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

package results

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Routes of AuthUser families authorise their callers with SubjectAccessReviews.
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// AccessReviewer creates SubjectAccessReviews. A controller-runtime client
// that writes to the API server (such as the manager's client) is one.
type AccessReviewer interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// Authorize asks the API server with a SubjectAccessReview whether user may
// do what attrs describe. It is nil when allowed, 403 when not, and 503 when
// the review cannot be made.
func Authorize(ctx context.Context, reviewer AccessReviewer, user *authenticationv1.UserInfo,
	attrs authorizationv1.ResourceAttributes) error {
	if user == nil {
		return Forbidden("the caller is not a user")
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: &attrs,
		User:               user.Username,
		Groups:             user.Groups,
		UID:                user.UID,
	}}
	if len(user.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			sar.Spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	if err := reviewer.Create(ctx, sar); err != nil {
		return FromAPIError(err, "access review is not available")
	}
	if !sar.Status.Allowed || sar.Status.Denied {
		return Forbidden("user %q may not %s", user.Username, describe(attrs))
	}
	return nil
}

// describe renders resource attributes the way kubectl auth can-i names them.
func describe(a authorizationv1.ResourceAttributes) string {
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	if a.Group != "" {
		res += "." + a.Group
	}
	s := fmt.Sprintf("%s %s", a.Verb, res)
	if a.Name != "" {
		s += " " + a.Name
	}
	if a.Namespace != "" {
		s += " in namespace " + a.Namespace
	}
	return s
}
