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

// Package resultsca keeps the CA bundle of the results API in the ConfigMap
// jobkeeper-results-ca of every namespace where the operator starts job pods,
// so the pods' projected volume can trust the results API.
package resultsca

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

const (
	// ConfigMapName is the name of the CA bundle ConfigMap.
	ConfigMapName = "jobkeeper-results-ca"
	// Key is the key of the CA bundle in the ConfigMap.
	Key = "ca.crt"
)

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;update

// Publisher writes the CA bundle into namespaces.
type Publisher struct {
	// Client writes the ConfigMaps.
	Client client.Client
	// Reader reads them: a cache of the operator's CA ConfigMaps (NewCache), or the API server.
	Reader client.Reader
	// CAFile is the file holding the CA bundle; it is read at every call, so a rotated CA is published.
	CAFile string
}

// Ensure makes the ConfigMap in namespace hold the current CA bundle, and
// writes only when it is missing or differs. A nil Publisher does nothing.
func (p *Publisher) Ensure(ctx context.Context, namespace string) error {
	if p == nil || p.CAFile == "" {
		return nil
	}
	ca, err := os.ReadFile(p.CAFile)
	if err != nil {
		return fmt.Errorf("reading the results CA: %w", err)
	}
	cm := &corev1.ConfigMap{}
	err = p.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ConfigMapName}, cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: ConfigMapName, Labels: maps.Clone(managedBy)},
			Data:       map[string]string{Key: string(ca)},
		}
		if err := p.Client.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ConfigMap %s/%s: %w", namespace, ConfigMapName, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading ConfigMap %s/%s: %w", namespace, ConfigMapName, err)
	case bytes.Equal([]byte(cm.Data[Key]), ca):
		return nil
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[Key] = string(ca)
	if err := p.Client.Update(ctx, cm); err != nil {
		// A conflict means the cache held an older version: the caller retries, and the newer version's watch
		// event has brought the cache up to date by then.
		return fmt.Errorf("updating ConfigMap %s/%s: %w", namespace, ConfigMapName, err)
	}
	return nil
}

// managedBy is the label that marks the operator's CA ConfigMaps.
var managedBy = map[string]string{"app.kubernetes.io/managed-by": "jobkeeper"}

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=watch

// NewCache creates a cache of the operator's CA ConfigMaps (name jobkeeper-results-ca, labelled as managed by
// jobkeeper) in namespaces (all when empty) and adds it to mgr, so that a Publisher reads them without a request
// per pod. It holds one small ConfigMap per namespace with job pods.
func NewCache(mgr ctrl.Manager, namespaces []string) (cache.Cache, error) {
	opts := cache.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{&corev1.ConfigMap{}: {
			Label: labels.SelectorFromSet(managedBy),
			Field: fields.OneTermEqualSelector("metadata.name", ConfigMapName),
		}},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, fmt.Errorf("creating the cache of the results CA ConfigMaps: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	return c, nil
}

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=list

// EnsureAll brings the ConfigMap of every namespace that has one up to the current CA bundle: the pods that run
// there read it through their projected volume, which the kubelet refreshes, so a rotated CA reaches running pods
// and not only the next ones. The ConfigMaps are listed once, from the Publisher's reader.
func (p *Publisher) EnsureAll(ctx context.Context) error {
	if p == nil || p.CAFile == "" {
		return nil
	}
	var list corev1.ConfigMapList
	if err := p.Reader.List(ctx, &list, client.MatchingLabels(managedBy)); err != nil {
		return fmt.Errorf("listing the %s ConfigMaps: %w", ConfigMapName, err)
	}
	var errs []error
	for i := range list.Items {
		if list.Items[i].Name != ConfigMapName {
			continue
		}
		errs = append(errs, p.Ensure(ctx, list.Items[i].Namespace))
	}
	return errors.Join(errs...)
}

// Republisher runs EnsureAll on the leader when it starts (a rotation may have happened while no replica led)
// and whenever Changed receives, which the results server signals when it reloads its certificate: a new CA
// comes with a new serving certificate.
type Republisher struct {
	Publisher *Publisher
	Changed   <-chan struct{}
	// Backoff is the wait before a failed EnsureAll is tried again; a minute when zero.
	Backoff time.Duration
}

// NeedLeaderElection is true: one replica writes the ConfigMaps.
func (r *Republisher) NeedLeaderElection() bool { return true }

// Start republishes until ctx ends.
func (r *Republisher) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("resultsca")
	backoff := cmp.Or(r.Backoff, time.Minute)
	var retry <-chan time.Time
	publish := func() {
		retry = nil
		if err := r.Publisher.EnsureAll(ctx); err != nil {
			log.Error(err, "publishing the results CA; retrying", "after", backoff)
			retry = time.After(backoff)
		}
	}
	publish()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.Changed:
			publish()
		case <-retry:
			publish()
		}
	}
}
