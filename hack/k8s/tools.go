//go:build tools

// Package k8s pins the Kubernetes components that the project builds from the Go
// module proxy: the envtest control plane (kube-apiserver, kubectl) and the local
// cluster (kube-controller-manager, kube-scheduler, kubelet, kube-proxy).
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
