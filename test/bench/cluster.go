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
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

var scheme = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, batchv1alpha1.AddToScheme, quarksv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
}

// managerUser is the identity the manager runs as, with the generated manager role.
const managerUser = "jobkeeper-manager"

// operatorNamespace is where the manager keeps its own objects.
const operatorNamespace = "jobkeeper-system"

// cluster is a local control plane (etcd and kube-apiserver) with the CRDs installed.
type cluster struct {
	env *envtest.Environment
	cfg *rest.Config
	// c is an unthrottled admin client: the "plain client" the figures are compared with.
	c  client.Client
	cs *kubernetes.Clientset
	// managerKubeconfig authenticates as managerUser.
	managerKubeconfig string
	managerConfig     *rest.Config
	dir               string
	// webhooks are the manager's admission webhooks of config/webhook/manifests.yaml, rewritten to reach the
	// manager at https://127.0.0.1:<port> with the CA of the serving certificate in webhookCertDir; they are
	// installed once the first manager is ready (see startManager).
	webhooks          *envtest.WebhookInstallOptions
	webhookCertDir    string
	webhooksInstalled bool
}

func startCluster(ctx context.Context, dir string) (*cluster, error) {
	assets, err := utils.EnvtestAssets()
	if err != nil {
		return nil, err
	}
	twins, err := twinCRDs()
	if err != nil {
		return nil, err
	}
	hooks, certDir, err := prepareWebhooks(dir)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     utils.CRDPaths(),
		CRDs:                  twins,
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	cl := &cluster{env: env, dir: dir, webhooks: hooks, webhookCertDir: certDir}
	cfg.QPS, cfg.Burst = -1, 0 // as controller-runtime configures the manager: no client-side throttling
	cl.cfg = cfg
	if cl.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if cl.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if _, err := utils.BindGeneratedRole(ctx, cl.c, managerUser, managerUser, nil); err != nil {
		return nil, errors.Join(fmt.Errorf("binding the manager role: %w", err), env.Stop())
	}
	user, err := env.AddUser(envtest.User{Name: managerUser}, nil)
	if err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	cl.managerConfig = user.Config()
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	cl.managerKubeconfig = filepath.Join(dir, "manager.kubeconfig")
	if err := os.WriteFile(cl.managerKubeconfig, kc, 0o600); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if err := cl.namespace(ctx, operatorNamespace); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return cl, nil
}

func (cl *cluster) stop() {
	if err := cl.env.Stop(); err != nil {
		log.Printf("stopping the control plane: %v", err)
	}
}

// namespace creates a namespace with the default service account (no controller-manager creates it here).
func (cl *cluster) namespace(ctx context.Context, name string) error {
	if err := cl.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	for _, sa := range []string{"default", "job"} {
		if err := cl.c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: name}}); err != nil {
			return fmt.Errorf("creating service account %s/%s: %w", name, sa, err)
		}
	}
	return nil
}

// managerBinary is the manager built from ./cmd; pprofBinary additionally serves /debug/pprof.
type managerBinary struct {
	path  string
	pprof bool
	// args are extra flags.
	args []string
}

// buildManager builds the manager. With pprof, test/bench/managerpprof/pprof.go is laid over cmd/ (go build
// -overlay), so the binary is the manager plus a pprof listener on $JOBKEEPER_BENCH_PPROF_ADDR.
func buildManager(dir string, pprof bool) (managerBinary, error) {
	root := utils.RepoRoot()
	out := filepath.Join(dir, "manager")
	args := []string{"build", "-o", out}
	if pprof {
		out += "-pprof"
		overlay := filepath.Join(dir, "overlay.json")
		data := fmt.Sprintf(`{"Replace":{%q:%q}}`, filepath.Join(root, "cmd", "zz_bench_pprof.go"),
			filepath.Join(root, "test", "bench", "managerpprof", "pprof.go"))
		if err := os.WriteFile(overlay, []byte(data), 0o600); err != nil {
			return managerBinary{}, err
		}
		args = []string{"build", "-tags", "benchpprof", "-overlay", overlay, "-o", out}
	}
	cmd := exec.Command("go", append(args, "./cmd")...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return managerBinary{}, fmt.Errorf("building the manager: %w", err)
	}
	return managerBinary{path: out, pprof: pprof}, nil
}

// manager is a running manager process.
type manager struct {
	process
	metricsAddr string
	pprofAddr   string
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// startManager runs the manager binary against the cluster, serving its admission webhooks, and waits until it is
// ready (its webhook server included); the webhook configurations are installed then, when they are not yet.
func (cl *cluster) startManager(ctx context.Context, bin managerBinary, name string) (*manager, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	reportDir := filepath.Join(cl.dir, name+"-reports")
	logFile := filepath.Join(cl.dir, name+".log")
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--kubeconfig=" + cl.managerKubeconfig,
		"--enable-webhooks=true",
		"--webhook-port=" + strconv.Itoa(cl.webhooks.LocalServingPort),
		"--webhook-cert-path=" + cl.webhookCertDir,
		"--metrics-bind-address=" + addrs[0],
		"--metrics-secure=false",
		"--health-probe-bind-address=" + addrs[1],
		"--results-bind-address=" + addrs[2],
		"--report-dir=" + reportDir,
		"--operator-namespace=" + operatorNamespace,
		"--zap-log-level=error",
	}
	args = append(args, bin.args...)
	cmd := exec.Command(bin.path, args...)
	cmd.Env = os.Environ()
	// The manager runs under the memory limit of the Deployment, in a memory cgroup of its own, so that it sets the
	// soft memory limit it sets in a cluster; without a cgroup, GOMEMLIMIT stands in for it.
	limit, err := deploymentMemoryLimit()
	if err != nil {
		return nil, err
	}
	var removeCgroup func()
	if procs, remove, cerr := memoryCgroup("jobkeeper-bench-"+name, limit); cerr == nil {
		removeCgroup = remove
		cmd = exec.Command("/bin/sh", append([]string{"-c", `echo $$ > "$0" && exec "$@"`, procs, bin.path}, args...)...)
		cmd.Env = os.Environ()
	} else {
		log.Printf("no memory cgroup for the manager (%v): GOMEMLIMIT=%d, 0.9 of the Deployment's limit, stands in", cerr, limit*9/10)
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+strconv.FormatInt(limit*9/10, 10))
	}
	cmd.Stdout, cmd.Stderr = out, out
	m := &manager{process: process{cmd: cmd, done: make(chan struct{}), log: logFile}, metricsAddr: addrs[0]}
	if bin.pprof {
		if m.pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "JOBKEEPER_BENCH_PPROF_ADDR="+m.pprofAddr)
	}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		if removeCgroup != nil {
			removeCgroup()
		}
		close(m.done)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + addrs[1] + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if err := cl.installWebhooks(); err != nil {
					m.stop()
					return nil, err
				}
				return m, nil
			}
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("the manager exited before it was ready; see %s", logFile)
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("the manager did not become ready; see %s", logFile)
		}
	}
}

// procStatus reads a field of /proc/<pid>/status in bytes (VmHWM, VmRSS).
func (m *manager) procStatus(field string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if value, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(value)
			kb, err := strconv.ParseFloat(f[0], 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, m.cmd.Process.Pid)
}

// processCPUSeconds is a process's user and system CPU time so far.
func processCPUSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100, nil // USER_HZ is 100 on Linux
}

// profiler fetches CPU and heap profiles of a manager built with pprof into dir; a nil profiler does nothing.
type profiler struct {
	dir string
	wg  sync.WaitGroup
}

// cpu collects a CPU profile of the manager for d in the background.
func (p *profiler) cpu(m *manager, name string, d time.Duration) {
	if p == nil || m.pprofAddr == "" {
		return
	}
	p.wg.Go(func() {
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m.pprofAddr, int(d.Seconds()))
		if err := fetch(url, filepath.Join(p.dir, name+".cpu.pprof")); err != nil {
			log.Printf("profile %s: %v", name, err)
		}
	})
}

// heap collects a heap profile of the manager after a garbage collection.
func (p *profiler) heap(m *manager, name string) {
	if p == nil || m.pprofAddr == "" {
		return
	}
	if err := fetch(fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", m.pprofAddr),
		filepath.Join(p.dir, name+".heap.pprof")); err != nil {
		log.Printf("profile %s: %v", name, err)
	}
}

// apiServer collects a CPU profile of kube-apiserver for d in the background (its /debug/pprof, as an admin).
func (p *profiler) apiServer(ctx context.Context, cl *cluster, name string, d time.Duration) {
	if p == nil {
		return
	}
	p.wg.Go(func() {
		data, err := cl.cs.RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(int(d.Seconds()))).Timeout(d + time.Minute).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(filepath.Join(p.dir, name+".apiserver.cpu.pprof"), data, 0o644)
		}
		if err != nil {
			log.Printf("profile %s: %v", name, err)
		}
	})
}

func (p *profiler) wait() {
	if p != nil {
		p.wg.Wait()
	}
}

func fetch(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
