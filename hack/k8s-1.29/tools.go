//go:build tools

// Package k8s pins the Kubernetes 1.29 components that the compatibility test
// (test/compat) runs against: the oldest minor docs/crds.md says the CRDs support.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
