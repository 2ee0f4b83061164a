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
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestCacheFreshnessProvesOnlyWhatTheCacheDelivered(t *testing.T) {
	f := newCacheFreshness()
	t0 := time.Now()
	if f.covers("ns", time.Time{}) {
		t.Fatal("a cache without any own write seen is proven fresh")
	}
	f.wrote("ns", "100", t0)
	f.observed("ns", "99")
	if f.covers("ns", time.Time{}) {
		t.Error("an event older than the own write proves it seen")
	}
	f.observed("other", "200")
	if f.covers("ns", time.Time{}) {
		t.Error("an event of another namespace proves a write seen")
	}
	p := f.predicate()
	if !p.Update(event.UpdateEvent{ObjectOld: &corev1.ConfigMap{}, ObjectNew: &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", ResourceVersion: "100"}}}) {
		t.Error("the predicate drops an event")
	}
	if !f.covers("ns", t0.Add(-time.Millisecond)) {
		t.Error("the delivered own write does not prove the writes before it was sent")
	}
	if f.covers("ns", t0) || f.covers("ns", t0.Add(time.Second)) {
		t.Error("a write proves the cache fresh at or after the time it was sent")
	}

	t1 := t0.Add(time.Second)
	f.wrote("ns", "300", t1)
	f.observed("ns", "1000") // numerically newer, lexically older
	if !f.covers("ns", t1.Add(-time.Millisecond)) {
		t.Error("resourceVersions are compared as strings")
	}
	f.observed("ns", "not-a-number")
	for i := range 2 * maxPendingWrites {
		f.wrote("ns", strconv.Itoa(2000+i), t1)
	}
	if n := len(f.pending["ns"]); n > maxPendingWrites {
		t.Errorf("%d pending writes kept", n)
	}
}
