//go:build tools

// Package etcd pins the etcd server that the project builds from the Go module
// proxy for the envtest control plane and the local cluster.
package etcd

import (
	_ "go.etcd.io/etcd/server/v3"
)
