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
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// hashKeyDataKey is the key of the hash key in its Secret.
const hashKeyDataKey = "key"

// +kubebuilder:rbac:groups="",resources=secrets,verbs=create

// LoadOrCreateHashKey reads the configuration hash key from its Secret in the
// operator's namespace, creating the Secret with a random key when it does not
// exist, so that every replica and every restart uses the same key (QJ-13).
// The key ID is derived from the key; the key itself is never logged.
func LoadOrCreateHashKey(ctx context.Context, c client.Client, namespace string) (HashKey, error) {
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: namespace, Name: quarksv1alpha1.ConfigHashKeySecretName}
	err := c.Get(ctx, key, secret)
	if apierrors.IsNotFound(err) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return HashKey{}, err
		}
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: key.Name},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{hashKeyDataKey: raw},
		}
		err = c.Create(ctx, secret)
		if apierrors.IsAlreadyExists(err) { // another replica was first
			err = c.Get(ctx, key, secret)
		}
	}
	if err != nil {
		return HashKey{}, fmt.Errorf("loading the configuration hash key: %w", err)
	}
	raw := secret.Data[hashKeyDataKey]
	if len(raw) < 16 {
		return HashKey{}, fmt.Errorf("secret %s/%s holds no usable key", namespace, key.Name)
	}
	sum := sha256.Sum256(raw)
	return HashKey{ID: "k" + hex.EncodeToString(sum[:4]), Key: raw}, nil
}
