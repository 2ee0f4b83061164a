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
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/jobkeeper/jobkeeper/internal/podrefs"
)

func TestRefMemoServesOnlyTheRememberedVersion(t *testing.T) {
	m := newRefMemo(refMemoBudget)
	key := refKey{namespace: "ns", kind: podrefs.ConfigMap, name: "cm"}
	m.store(key, "5", map[string][]byte{"data/a": []byte("1")}, time.Now())
	if data, _, ok := m.lookup(key, "5"); !ok || string(data["data/a"]) != "1" {
		t.Fatalf("lookup at the stored version = %v, %v", data, ok)
	}
	if _, _, ok := m.lookup(key, "6"); ok {
		t.Error("a newer version is served from the memo")
	}
	if _, _, ok := m.lookup(refKey{namespace: "ns", kind: podrefs.Secret, name: "cm"}, "5"); ok {
		t.Error("a Secret is served a ConfigMap's data")
	}
	m.store(key, "6", map[string][]byte{"data/a": []byte("2")}, time.Now())
	if data, _, ok := m.lookup(key, "6"); !ok || string(data["data/a"]) != "2" || m.len() != 1 {
		t.Errorf("a new version does not replace the old one: %v, %v, %d entries", data, ok, m.len())
	}
}

func TestRefMemoIsBounded(t *testing.T) {
	m := newRefMemo(10 * (refEntryOverhead + 100))
	value := []byte(strings.Repeat("x", 90))
	for i := range 100 {
		m.store(refKey{namespace: "ns", kind: podrefs.Secret, name: fmt.Sprintf("s%02d", i)}, "1", map[string][]byte{"data/k": value}, time.Now())
		m.lookup(refKey{namespace: "ns", kind: podrefs.Secret, name: "s00"}, "1") // kept in use
	}
	if m.len() > 10 || m.size > m.budget {
		t.Errorf("%d entries of %d bytes exceed the budget %d", m.len(), m.size, m.budget)
	}
	if _, _, ok := m.lookup(refKey{namespace: "ns", kind: podrefs.Secret, name: "s00"}, "1"); !ok {
		t.Error("the entry in use was evicted before unused ones")
	}
	if _, _, ok := m.lookup(refKey{namespace: "ns", kind: podrefs.Secret, name: "s01"}, "1"); ok {
		t.Error("the least recently used entry was kept")
	}
	m.store(refKey{namespace: "ns", kind: podrefs.Secret, name: "huge"}, "1", map[string][]byte{"data/k": make([]byte, m.budget)}, time.Now())
	if _, _, ok := m.lookup(refKey{namespace: "ns", kind: podrefs.Secret, name: "huge"}, "1"); ok || m.size > m.budget {
		t.Error("an object larger than the budget is remembered")
	}
}

func TestRefMemoForgetsDeletedObjects(t *testing.T) {
	m := newRefMemo(refMemoBudget)
	key := refKey{namespace: "ns", kind: podrefs.ConfigMap, name: "cm"}
	m.store(key, "1", map[string][]byte{}, time.Now())
	h := forgetOnDelete{handler.Funcs{}, m, podrefs.ConfigMap}
	h.Delete(context.Background(), event.DeleteEvent{Object: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"}}}, nil)
	if m.len() != 0 {
		t.Error("a deleted ConfigMap's entry is kept")
	}
}
