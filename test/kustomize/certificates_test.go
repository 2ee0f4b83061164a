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

package kustomize_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The results API's serving certificate chains to a CA certificate with a
// subject, as curl --cacert and SSL_CERT_FILE need: a self-signed leaf with an
// empty subject is refused ("couldn't get X509-issuer name").
func TestResultsCertificateChainsToACA(t *testing.T) {
	objs := build(t, configDir(t, "default"))
	byName := func(kind, name string) *unstructured.Unstructured {
		t.Helper()
		for _, o := range ofKind(objs, kind) {
			if o.GetName() == name {
				return o
			}
		}
		t.Fatalf("no %s %s", kind, name)
		return nil
	}
	str := func(o *unstructured.Unstructured, path ...string) string {
		v, _, _ := unstructured.NestedString(o.Object, path...)
		return v
	}
	serving := byName("Certificate", "jobkeeper-results-cert")
	if cn := str(serving, "spec", "commonName"); cn != "jobkeeper-results.jobkeeper-system.svc" {
		t.Errorf("serving commonName = %q", cn)
	}
	issuer := byName("Issuer", str(serving, "spec", "issuerRef", "name"))
	caSecret := str(issuer, "spec", "ca", "secretName")
	if caSecret == "" {
		t.Fatalf("the serving certificate's issuer %s is not a CA issuer", issuer.GetName())
	}
	var ca *unstructured.Unstructured
	for _, o := range ofKind(objs, "Certificate") {
		if str(o, "spec", "secretName") == caSecret {
			ca = o
		}
	}
	if ca == nil {
		t.Fatalf("no Certificate writes the CA Secret %s", caSecret)
	}
	if isCA, _, _ := unstructured.NestedBool(ca.Object, "spec", "isCA"); !isCA || str(ca, "spec", "commonName") == "" {
		t.Errorf("CA certificate %s: isCA=%v commonName=%q, want a CA with a subject", ca.GetName(), isCA, str(ca, "spec", "commonName"))
	}
}
