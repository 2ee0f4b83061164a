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

// Command bench measures the jobkeeper manager on a local control plane (etcd and kube-apiserver from envtest)
// and prints each figure next to what a plain client needs for the same API work. Run it with `make bench`.
//
// Environment:
//
//	BENCH          benchmarks to run, e.g. B1,B6 (default all: B1..B7; B7J, the Job controller as a run's
//	               anchor, runs only when named, e.g. BENCH=B7,B7J)
//	BENCH_N        scale: objects per burst (default 1000); B4 adds 10×N Secrets and 10×N ConfigMaps
//	BENCH_NODES    nodes of B7 (default 5×BENCH_N)
//	BENCH_REPEAT   repetitions of every measurement (default 3)
//	BENCH_IDLE     idle window of B3 (default 60s)
//	BENCH_POD_TIME how long a simulated NodeJob pod runs in B7 (default 3s)
//	BENCH_NODE_SIM what plays B7's nodes: bench (default: the benchmark binds and completes the pods itself) or
//	               kwok (kube-scheduler places the pods, kwok runs them)
//	BENCH_PROFILE  directory: build the manager with a pprof listener and keep CPU and heap profiles there
//	BENCH_MARKDOWN file: also write the table as Markdown
//	BENCH_KEEP     set: keep the work directory (manager logs) instead of removing it
//	BENCH_MANAGER_ARGS  extra flags of the manager, e.g. "--quarksjob-concurrency=32"
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// config is what the environment asks for.
type config struct {
	n        int
	nodes    int
	repeat   int
	selected map[string]bool
	idle     time.Duration
	podTime  time.Duration
	// nodeSim is what plays B7's nodes: "bench" (the benchmark's simulated kubelet) or "kwok" (kwok and
	// kube-scheduler).
	nodeSim    string
	profileDir string
	markdown   string
	// managerArgs are extra flags of the manager.
	managerArgs []string
}

func loadConfig() (config, error) {
	c := config{selected: map[string]bool{}, profileDir: os.Getenv("BENCH_PROFILE"), markdown: os.Getenv("BENCH_MARKDOWN"),
		managerArgs: strings.Fields(os.Getenv("BENCH_MANAGER_ARGS"))}
	var err error
	if c.n, err = strconv.Atoi(cmp.Or(os.Getenv("BENCH_N"), "1000")); err != nil || c.n < 1 {
		return c, fmt.Errorf("BENCH_N: want a positive number, got %q", os.Getenv("BENCH_N"))
	}
	if c.nodes, err = strconv.Atoi(cmp.Or(os.Getenv("BENCH_NODES"), strconv.Itoa(5*c.n))); err != nil || c.nodes < 1 {
		return c, fmt.Errorf("BENCH_NODES: want a positive number, got %q", os.Getenv("BENCH_NODES"))
	}
	if c.repeat, err = strconv.Atoi(cmp.Or(os.Getenv("BENCH_REPEAT"), "3")); err != nil || c.repeat < 1 {
		return c, fmt.Errorf("BENCH_REPEAT: want a positive number, got %q", os.Getenv("BENCH_REPEAT"))
	}
	if c.idle, err = time.ParseDuration(cmp.Or(os.Getenv("BENCH_IDLE"), "60s")); err != nil {
		return c, fmt.Errorf("BENCH_IDLE: %w", err)
	}
	if c.podTime, err = time.ParseDuration(cmp.Or(os.Getenv("BENCH_POD_TIME"), "3s")); err != nil {
		return c, fmt.Errorf("BENCH_POD_TIME: %w", err)
	}
	switch c.nodeSim = cmp.Or(os.Getenv("BENCH_NODE_SIM"), "bench"); c.nodeSim {
	case "bench", "kwok":
	default:
		return c, fmt.Errorf("BENCH_NODE_SIM: want bench or kwok, got %q", c.nodeSim)
	}
	all := []string{"B1", "B2", "B3", "B4", "B5", "B6", "B7"}
	// B7J measures a design alternative, not the operator: it runs only when asked for.
	known := append(slices.Clone(all), "B7J")
	for b := range strings.SplitSeq(cmp.Or(os.Getenv("BENCH"), strings.Join(all, ",")), ",") {
		b = strings.ToUpper(strings.TrimSpace(b))
		if !slices.Contains(known, b) {
			return c, fmt.Errorf("BENCH: unknown benchmark %q (want some of %s)", b, strings.Join(known, ","))
		}
		c.selected[b] = true
	}
	return c, nil
}

func (c config) any(names ...string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return c.selected[n] })
}

// suite runs the selected benchmarks and collects their rows.
type suite struct {
	cfg  config
	dir  string
	bin  managerBinary
	prof *profiler
	rows []row
	// requests are the requests-per-object tables, in the order of the figures.
	requests []requestTable
}

func (s *suite) add(r row) {
	s.rows = append(s.rows, r)
	fmt.Fprintf(os.Stderr, "  %s %s: %s\n", r.bench, r.figure, r.cells()[2])
}

func main() {
	log.SetFlags(log.Ltime)
	logf.SetLogger(logr.Discard()) // the in-process results API of B6 logs through controller-runtime
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "jobkeeper-bench-")
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_KEEP") == "" {
		defer func() { _ = os.RemoveAll(dir) }()
	} else {
		log.Printf("keeping the manager logs and the control plane's files in %s", dir)
	}
	s := &suite{cfg: cfg, dir: dir}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
		s.prof = &profiler{dir: cfg.profileDir}
	}
	machine := describeMachine()
	log.Printf("machine: %s", machine)
	if cfg.any("B1", "B2", "B3", "B4", "B5", "B7") {
		log.Printf("building the manager")
		if s.bin, err = buildManager(dir, s.prof != nil); err != nil {
			return err
		}
		s.bin.args = cfg.managerArgs
	}
	start := time.Now()
	steps := []struct {
		names []string
		run   func(context.Context) error
	}{
		{[]string{"B1", "B2"}, s.latencyAndBurst},
		{[]string{"B3", "B4"}, s.idleAndMemory},
		{[]string{"B5"}, s.configFanOut},
		{[]string{"B6"}, s.resultsAPI},
		{[]string{"B7"}, s.nodeJobRun},
		{[]string{"B7J"}, s.jobAnchor},
	}
	for _, step := range steps {
		if !cfg.any(step.names...) {
			continue
		}
		log.Printf("== %s", strings.Join(step.names, ", "))
		if err := step.run(ctx); err != nil {
			log.Printf("%s failed: %v", strings.Join(step.names, ", "), err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	s.prof.wait()

	fmt.Printf("\njobkeeper benchmarks, N=%d, %d repetitions, %s\n", cfg.n, cfg.repeat, time.Since(start).Round(time.Second))
	if len(cfg.managerArgs) > 0 {
		fmt.Printf("extra manager flags: %s\n", strings.Join(cfg.managerArgs, " "))
	}
	fmt.Printf("machine at start: %s\nmachine at end:   %s\n\n", machine, describeMachine())
	if err := printTable(os.Stdout, s.rows, false); err != nil {
		return err
	}
	if err := printRequests(os.Stdout, s.requests, false); err != nil {
		return err
	}
	if cfg.markdown != "" {
		f, err := os.Create(cfg.markdown)
		if err != nil {
			return err
		}
		return errors.Join(printTable(f, s.rows, true), printRequests(f, s.requests, true), f.Close())
	}
	return nil
}

// describeMachine says what the figures were measured on: CPUs, memory, load.
func describeMachine() string {
	mem := "?"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseFloat(strings.Fields(rest)[0], 64); err == nil {
					mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	load := "?"
	if out, err := exec.Command("uptime").Output(); err == nil {
		if _, after, ok := strings.Cut(strings.TrimSpace(string(out)), "load average:"); ok {
			load = strings.TrimSpace(after)
		}
	}
	return fmt.Sprintf("%d CPUs, %s memory, load average %s, %s", runtime.NumCPU(), mem, load, runtime.Version())
}
