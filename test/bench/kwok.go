//go:build bench

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

package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

// process is a control-plane component the benchmark started.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// stop ends the process with SIGTERM, and kills it when it does not stop in time.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuSeconds is the process's user and system CPU time so far.
func (p *process) cpuSeconds() (float64, error) { return processCPUSeconds(p.cmd.Process.Pid) }

// countLog counts the lines of the process's log that contain s.
func (p *process) countLog(s string) int {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return 0
	}
	return strings.Count(string(data), s)
}

// startComponent starts bin with args and a kubeconfig of its own user of the system:masters group (added to
// args as --kubeconfig), logging to <name>.log in the work directory.
func (cl *cluster) startComponent(ctx context.Context, name, bin string, args []string) (*process, error) {
	user, err := cl.env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(cl.dir, name+".kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	logFile := filepath.Join(cl.dir, name+".log")
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(p.done)
	}()
	return p, nil
}

// kwokNodes stands in for the nodes of the cluster with kwok and kube-scheduler instead of the benchmark's own
// simulated kubelet (BENCH_NODE_SIM=kwok): the scheduler places the pods, and kwok reports each pod on the
// nodes Running, then, for a NodeJob's pods, Succeeded podTime later, with the Stages of the local cluster
// (hack/cluster/lib.sh kwok_stages). The nodes are created Ready with their capacity (createNodes), so kwok's
// node stage leaves them alone and no heartbeats are sent (no node lifecycle controller runs here either). It
// returns once every node of pool can take pods.
func (cl *cluster) kwokNodes(ctx context.Context, pool string, n int, podTime time.Duration) (stop func(), err error) {
	root := utils.RepoRoot()
	script := exec.CommandContext(ctx, "bash", "-c", `source "$0" && build_kwok && kwok_stages "$1"`,
		filepath.Join(root, "hack", "cluster", "lib.sh"), strconv.FormatInt(podTime.Milliseconds(), 10))
	script.Stderr = os.Stderr
	stages, err := script.Output()
	if err != nil {
		return nil, fmt.Errorf("building kwok and its stages: %w", err)
	}
	config := filepath.Join(cl.dir, "kwok.yaml")
	if err := os.WriteFile(config, stages, 0o600); err != nil {
		return nil, err
	}
	assets, err := utils.EnvtestAssets()
	if err != nil {
		return nil, err
	}
	scheduler, err := cl.startComponent(ctx, "kube-scheduler", filepath.Join(assets, "kube-scheduler"),
		[]string{"--leader-elect=false", "--secure-port=0"})
	if err != nil {
		return nil, err
	}
	kwok, err := cl.startComponent(ctx, "kwok", filepath.Join(root, "bin", "kwok"), []string{
		"--config=" + config, "--manage-all-nodes=true", "--server-address=127.0.0.1:0",
		"--cidr=10.245.0.0/16", "--node-ip=10.245.0.1"})
	if err != nil {
		scheduler.stop()
		return nil, err
	}
	stop = func() { kwok.stop(); scheduler.stop() }
	for ready := 0; ready < n; {
		var nodes corev1.NodeList
		if err := cl.c.List(ctx, &nodes, client.MatchingLabels{poolLabel: pool}); err != nil {
			stop()
			return nil, err
		}
		ready = 0
		for _, nd := range nodes.Items {
			if nd.Status.Allocatable.Pods().Value() > 0 {
				ready++
			}
		}
		select {
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-kwok.done:
			stop()
			return nil, fmt.Errorf("kwok exited; see %s", kwok.log)
		case <-time.After(time.Second):
		}
	}
	log.Printf("kwok has initialized the %d nodes", n)
	return stop, nil
}
