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

package quarksoutput

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

func TestOwns(t *testing.T) {
	qj := &quarksv1alpha1.QuarksJob{ObjectMeta: metav1.ObjectMeta{Name: "qj", UID: "mine"}}
	ref := func(uid string, ctrl bool) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: "quarks.cloudfoundry.org/v1alpha1", Kind: "QuarksJob", Name: "o",
			UID: types.UID(uid), Controller: new(ctrl)}
	}
	for _, tc := range []struct {
		name  string
		meta  metav1.ObjectMeta
		adopt bool
		owned bool
	}{
		{name: "controller reference to this QuarksJob", meta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{ref("mine", true)}}, owned: true},
		{name: "controller reference to another object", meta: metav1.ObjectMeta{
			Labels: map[string]string{quarksv1alpha1.QuarksJobNameLabel: "qj"}, OwnerReferences: []metav1.OwnerReference{ref("theirs", true)}}},
		{name: "qjob-name label, no controller", meta: metav1.ObjectMeta{
			Labels: map[string]string{quarksv1alpha1.QuarksJobNameLabel: "qj"}, OwnerReferences: []metav1.OwnerReference{ref("theirs", false)}}, owned: true},
		{name: "label of another QuarksJob", meta: metav1.ObjectMeta{Labels: map[string]string{quarksv1alpha1.QuarksJobNameLabel: "other"}}, adopt: true},
		{name: "legacy output of the container", meta: metav1.ObjectMeta{Labels: map[string]string{quarksv1alpha1.ContainerNameLabel: "c"}}, adopt: true, owned: true},
		{name: "legacy output without adoption", meta: metav1.ObjectMeta{Labels: map[string]string{quarksv1alpha1.ContainerNameLabel: "c"}}},
		{name: "legacy output of another container", meta: metav1.ObjectMeta{Labels: map[string]string{quarksv1alpha1.ContainerNameLabel: "d"}}, adopt: true},
		{name: "unlabelled Secret", meta: metav1.ObjectMeta{}, adopt: true},
	} {
		s := &Sink{AdoptLegacy: tc.adopt}
		if got := s.owns(qj, &tc.meta, "c"); got != tc.owned {
			t.Errorf("%s: owned %v, want %v", tc.name, got, tc.owned)
		}
	}
}

func TestSameVersionContent(t *testing.T) {
	want := &desiredSecret{data: map[string][]byte{"k": []byte("v")}, labels: map[string]string{"a": "b"}}
	cur := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{"a": "b", quarksv1alpha1.SecretKindLabel: quarksv1alpha1.SecretKindVersioned,
				quarksv1alpha1.SecretVersionLabel: "3"},
			Annotations: map[string]string{quarksv1alpha1.SourceDescriptionAnnotation: quarksv1alpha1.SourceDescriptionQuarksJob,
				quarksv1alpha1.LastReconcileAnnotation: "yesterday"},
		},
		Data: map[string][]byte{"k": []byte("v")},
	}
	if !sameVersionContent(cur, want) {
		t.Error("equal content compared unequal")
	}
	changed := cur.DeepCopy()
	changed.Data["k"] = []byte("w")
	if sameVersionContent(changed, want) {
		t.Error("changed data compared equal")
	}
	relabelled := cur.DeepCopy()
	relabelled.Labels["a"] = "c"
	if sameVersionContent(relabelled, want) {
		t.Error("changed labels compared equal")
	}
	annotated := cur.DeepCopy()
	annotated.Annotations["x"] = "y"
	if sameVersionContent(annotated, want) {
		t.Error("changed annotations compared equal")
	}
}
