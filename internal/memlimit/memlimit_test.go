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

package memlimit

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func writeFile(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                int64
	}{
		{"v2 limit", "sys/fs/cgroup/memory.max", "268435456\n", 268435456},
		{"v2 no limit", "sys/fs/cgroup/memory.max", "max\n", 0},
		{"v1 limit", "sys/fs/cgroup/memory/memory.limit_in_bytes", "134217728\n", 134217728},
		{"v1 no limit", "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n", 0},
		{"no cgroup", "", "", 0},
		{"v2 limit of the process's own cgroup", "sys/fs/cgroup/kubepods/pod1/memory.max", "134217728\n", 134217728},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, "proc/self/cgroup", "0::/kubepods/pod1\n")
			if tc.file != "" {
				writeFile(t, root, tc.file, tc.content)
			}
			got, err := Limit(root)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Limit = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSet(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	t.Setenv("GOMEMLIMIT", "")
	root := t.TempDir()
	writeFile(t, root, "sys/fs/cgroup/memory.max", "268435456\n")

	got, err := Set(root, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if got != 134217728 || debug.SetMemoryLimit(-1) != 134217728 {
		t.Fatalf("Set = %d, runtime limit %d, want 134217728", got, debug.SetMemoryLimit(-1))
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "100MiB")
	if got, err := Set(root, 0.5); err != nil || got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("with GOMEMLIMIT set: Set = %d, %v, runtime limit %d; want the environment to win", got, err, debug.SetMemoryLimit(-1))
	}

	t.Setenv("GOMEMLIMIT", "")
	if _, err := Set(root, 1.5); err == nil {
		t.Fatal("a ratio above 1 was accepted")
	}
}
