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

// Command run starts the jobkeeper manager for local development.
//
// With $KUBECONFIG set it runs the manager against that cluster. Without it, as
// root, it brings the local cluster up (hack/cluster/up.sh: a real node with
// containerd, so job pods run), installs the CRDs and the admission webhooks
// (served by the manager on this host over TLS with a locally generated
// certificate), routes the results API Service to this host, and runs the
// manager against the cluster. On exit it removes the webhook configurations
// and leaves the cluster up (`make cluster-down` stops it). Without root, or
// with RUN_CONTROL_PLANE=envtest, it starts only a control plane (etcd and
// kube-apiserver from `make envtest`) instead, where no pod runs, and stops it
// on exit; its kubeconfig is written to .state/run/kubeconfig.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := utils.RepoRoot()
	manager := filepath.Join(root, "bin", "manager")
	fmt.Println("building the manager into", manager)
	build := exec.CommandContext(ctx, "go", "build", "-o", manager, "./cmd")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the manager: %w", err)
	}

	args := os.Args[1:]
	if os.Getenv("KUBECONFIG") != "" {
		fmt.Println("running the manager against $KUBECONFIG; the cluster's webhook configurations are not served locally")
		stateDir := filepath.Join(root, ".state", "run")
		return runManager(ctx, manager, append([]string{"--enable-webhooks=false",
			"--report-dir=" + filepath.Join(stateDir, "reports"),
		}, args...), nil)
	}

	if os.Geteuid() == 0 && os.Getenv("RUN_CONTROL_PLANE") != "envtest" {
		return runOnCluster(ctx, root, manager, args)
	}
	fmt.Println("not root (or RUN_CONTROL_PLANE=envtest): starting a control plane only; job pods will not run")

	assets, err := utils.EnvtestAssets()
	if err != nil {
		return err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     utils.CRDPaths(),
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: utils.WebhookPaths()},
	}
	fmt.Println("starting a local control plane from", assets)
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("starting the local control plane: %w", err)
	}
	defer func() {
		fmt.Println("stopping the local control plane")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the local control plane:", err)
		}
	}()

	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	stateDir := filepath.Join(root, ".state", "run")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	kubeconfigPath := filepath.Join(stateDir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}
	fmt.Printf("local control plane is up; use it with:\n  export KUBECONFIG=%s\n", kubeconfigPath)

	wh := env.WebhookInstallOptions
	managerArgs := append([]string{
		"--kubeconfig=" + kubeconfigPath,
		"--webhook-port=" + strconv.Itoa(wh.LocalServingPort),
		"--webhook-cert-path=" + wh.LocalServingCertDir,
		"--metrics-bind-address=:8080",
		"--report-dir=" + filepath.Join(stateDir, "reports"),
	}, args...)
	return runManager(ctx, manager, managerArgs, []string{"KUBECONFIG=" + kubeconfigPath})
}

// runManager runs the manager until it exits or ctx ends, then stops it with SIGTERM.
func runManager(ctx context.Context, manager string, args, env []string) error {
	cmd := exec.Command(manager, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the manager: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := <-done; err != nil && !isSignalExit(err) {
			return err
		}
		return nil
	}
}

func isSignalExit(err error) bool {
	var exitErr *exec.ExitError
	return errors.As(err, &exitErr) && !exitErr.Exited()
}
