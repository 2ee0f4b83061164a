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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// deploymentMemoryLimit returns the memory limit of the manager container in config/manager/manager.yaml, the
// Deployment that every install ships: the manager runs under it in the benchmarks, so its soft memory limit
// (--memory-limit-ratio of the container's limit) is the one it has in a cluster.
func deploymentMemoryLimit() (int64, error) {
	data, err := os.ReadFile("config/manager/manager.yaml")
	if err != nil {
		return 0, err
	}
	for doc := range strings.SplitSeq(string(data), "\n---") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if q, ok := c.Resources.Limits["memory"]; ok {
				return q.Value(), nil
			}
		}
	}
	return 0, errors.New("config/manager/manager.yaml: no memory limit on the manager container")
}

// memoryCgroup creates a memory cgroup of limit bytes beside this process's own (cgroup v2, else v1) and returns
// its cgroup.procs file and a function that removes it. A process that writes its PID there runs under the limit,
// as a container does; the manager reads the limit from its cgroup at start.
func memoryCgroup(name string, limit int64) (string, func(), error) {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", nil, err
	}
	var dir, limitFile string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		for line := range strings.Lines(string(own)) {
			if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
				dir, limitFile = filepath.Join("/sys/fs/cgroup", filepath.Dir(p), name), "memory.max"
			}
		}
	} else {
		for line := range strings.Lines(string(own)) {
			parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
			if len(parts) == 3 && parts[1] == "memory" {
				dir, limitFile = filepath.Join("/sys/fs/cgroup/memory", parts[2], name), "memory.limit_in_bytes"
			}
		}
	}
	if dir == "" {
		return "", nil, errors.New("no memory cgroup found in /proc/self/cgroup")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	remove := func() { _ = os.Remove(dir) }
	if err := os.WriteFile(filepath.Join(dir, limitFile), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		remove()
		return "", nil, fmt.Errorf("setting the limit of %s: %w", dir, err)
	}
	return filepath.Join(dir, "cgroup.procs"), remove, nil
}
