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

// Package memlimit gives the Go runtime a soft memory limit derived from the container's memory limit, so that the
// garbage collector works harder as the process nears the limit instead of letting the heap grow to twice its live
// size (GOGC=100) and the container be OOM-killed.
package memlimit

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// unlimited is a cgroup v1 limit at or above which the cgroup has no limit (v1 reports a page-aligned maximum).
const unlimited = 1 << 62

// Limit returns the memory limit of the process's cgroup in bytes, read under root (the file system root, "/"):
// 0 when there is none. The cgroup is the one /proc/self/cgroup names (in a container with its own cgroup namespace
// that is the root of the cgroup file system); cgroup v2 first, then v1.
func Limit(root string) (int64, error) {
	v2, v1 := "/", "/"
	if data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup")); err == nil {
		for line := range strings.Lines(string(data)) {
			parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
			if len(parts) != 3 {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				v2 = parts[2]
			case slices.Contains(strings.Split(parts[1], ","), "memory"):
				v1 = parts[2]
			}
		}
	}
	for _, f := range []string{
		filepath.Join("sys/fs/cgroup", v2, "memory.max"),
		"sys/fs/cgroup/memory.max",
		filepath.Join("sys/fs/cgroup/memory", v1, "memory.limit_in_bytes"),
		"sys/fs/cgroup/memory/memory.limit_in_bytes",
	} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		s := strings.TrimSpace(string(data))
		if s == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		if n <= 0 || n >= unlimited {
			return 0, nil
		}
		return n, nil
	}
	return 0, nil
}

// Set sets the runtime's soft memory limit to ratio times the container's memory limit, unless GOMEMLIMIT is set
// (the environment wins) or there is no container limit. It returns the limit set, 0 when it set none.
func Set(root string, ratio float64) (int64, error) {
	if os.Getenv("GOMEMLIMIT") != "" || ratio <= 0 {
		return 0, nil
	}
	if ratio > 1 {
		return 0, fmt.Errorf("memory limit ratio %v is above 1", ratio)
	}
	limit, err := Limit(root)
	if err != nil || limit == 0 {
		return 0, err
	}
	soft := int64(math.Floor(float64(limit) * ratio))
	debug.SetMemoryLimit(soft)
	return soft, nil
}
