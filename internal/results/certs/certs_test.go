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

package certs

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGenerateAndEnsure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	hosts := ServiceHosts("jobkeeper-results", "jobkeeper-system")
	if err := Ensure(dir, hosts); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool, err := CAPool(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"jobkeeper-results.jobkeeper-system.svc", "localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool}); err != nil {
			t.Errorf("certificate does not verify for %s: %v", h, err)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", info.Mode().Perm(), err)
	}

	before, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if err := Ensure(dir, hosts); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if string(before) != string(after) {
		t.Error("Ensure replaced a valid certificate")
	}
	if err := Ensure(dir, append(hosts, "other.example")); err != nil {
		t.Fatal(err)
	}
	changed, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if string(before) == string(changed) {
		t.Error("Ensure kept a certificate that does not cover a new host")
	}
}

func TestEnsureRenewsSoonExpiring(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir, []string{"localhost"}, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if valid(dir, []string{"localhost"}) {
		t.Fatal("a certificate expiring within 30 days counts as valid")
	}
}
