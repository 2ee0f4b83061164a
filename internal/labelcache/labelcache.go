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

// Package labelcache builds the dedicated, label-restricted caches the
// controllers watch their children through: a cache holds only objects of one
// type that carry a given label key, so no controller caches every Job or Pod
// of the cluster, and each kind can select on its own label.
package labelcache

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Index is a field index of the cache.
type Index struct {
	Field   string
	Extract client.IndexerFunc
}

// New creates a cache of the objects of obj's type that carry labelKey, in
// namespaces (all when empty), with the given indexes, and adds it to mgr so
// that it starts and stops with the manager.
func New(mgr ctrl.Manager, obj client.Object, labelKey string, namespaces []string, indexes ...Index) (cache.Cache, error) {
	hasLabel, err := labels.NewRequirement(labelKey, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	opts := cache.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		ByObject:   map[client.Object]cache.ByObject{obj: {Label: labels.NewSelector().Add(*hasLabel)}},
		// Nothing reads managedFields, nor most of a pod's spec, and they are a large part of every object.
		DefaultTransform: Transform,
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, fmt.Errorf("creating the cache of objects labelled %s: %w", labelKey, err)
	}
	for _, idx := range indexes {
		if err := c.IndexField(context.Background(), obj, idx.Field, idx.Extract); err != nil {
			return nil, fmt.Errorf("indexing %s: %w", idx.Field, err)
		}
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	return c, nil
}

// PodIPIndex indexes cached pods by each of their IPs (status.podIPs), in canonical form.
const PodIPIndex = "status.podIPs"

// PodIPs extracts the IPs of a pod for PodIPIndex.
func PodIPs(o client.Object) []string {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return nil
	}
	ips := make([]string, 0, len(pod.Status.PodIPs))
	for _, ip := range pod.Status.PodIPs {
		if addr, err := netip.ParseAddr(ip.IP); err == nil {
			ips = append(ips, addr.Unmap().String())
		}
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		if addr, err := netip.ParseAddr(pod.Status.PodIP); err == nil {
			ips = append(ips, addr.Unmap().String())
		}
	}
	return ips
}
