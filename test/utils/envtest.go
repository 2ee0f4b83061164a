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

// Package utils holds helpers shared by the integration and e2e tests.
package utils

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot returns the repository root, found from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// EnvtestAssets returns the directory holding kube-apiserver, etcd and kubectl
// for envtest: $KUBEBUILDER_ASSETS when set, otherwise the newest
// bin/k8s/<version> directory that `make envtest` built.
func EnvtestAssets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	dirs, err := filepath.Glob(filepath.Join(RepoRoot(), "bin", "k8s", "*"))
	if err != nil {
		return "", err
	}
	sort.Strings(dirs)
	for _, dir := range slices.Backward(dirs) {
		if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no envtest binaries: run `make envtest` or set KUBEBUILDER_ASSETS")
}

// CRDPaths returns the directories holding the generated CRDs.
func CRDPaths() []string {
	return []string{filepath.Join(RepoRoot(), "config", "crd", "bases")}
}

// WebhookPaths returns the directories holding the generated webhook configurations.
func WebhookPaths() []string {
	return []string{filepath.Join(RepoRoot(), "config", "webhook")}
}

// Kubectl runs kubectl from the envtest assets as a cluster admin of env and
// returns its standard output, or its standard error with the error.
func Kubectl(env *envtest.Environment, args ...string) (string, error) {
	admin, err := env.AddUser(envtest.User{Name: "kubectl-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	k, err := admin.Kubectl()
	if err != nil {
		return "", err
	}
	stdout, stderr, err := k.Run(args...)
	if err != nil {
		msg, _ := io.ReadAll(stderr)
		return string(msg), err
	}
	out, err := io.ReadAll(stdout)
	return string(out), err
}
