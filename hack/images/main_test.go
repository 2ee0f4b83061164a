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
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestBuildOCIArchive builds an image with --format oci and reads the archive
// back as an OCI image layout.
func TestBuildOCIArchive(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "manager"), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.oci.tar")
	err := build([]string{"--format", "oci", "--arch", "arm64", "--rootfs", rootfs, "--out", out,
		"--ref", "ghcr.io/jobkeeper/jobkeeper:v0.1.0", "--entrypoint", "/manager", "--user", "65532:65532",
		"--label", "org.opencontainers.image.version=v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}

	// Unpack the archive; every entry is owned by root with a plain mode.
	layoutDir := filepath.Join(dir, "layout")
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(epoch) {
			t.Errorf("%s: owner %d:%d, time %v", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		p := filepath.Join(layoutDir, hdr.Name)
		if hdr.Typeflag == tar.TypeDir {
			if hdr.Mode != 0o755 {
				t.Errorf("%s: mode %o", hdr.Name, hdr.Mode)
			}
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if hdr.Mode != 0o644 {
			t.Errorf("%s: mode %o", hdr.Name, hdr.Mode)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(strings.Join(names, " "), "oci-layout") {
		t.Fatalf("no oci-layout in %v", names)
	}

	idx, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%d manifests, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", desc.MediaType)
	}
	if got := desc.Annotations["org.opencontainers.image.ref.name"]; got != "v0.1.0" {
		t.Errorf("ref.name %q", got)
	}
	if got := desc.Annotations["io.containerd.image.name"]; got != "ghcr.io/jobkeeper/jobkeeper:v0.1.0" {
		t.Errorf("io.containerd.image.name %q", got)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("config %s, layers %v", m.Config.MediaType, m.Layers)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "arm64" || cfg.Config.User != "65532:65532" ||
		cfg.Config.Labels["org.opencontainers.image.version"] != "v0.1.0" {
		t.Errorf("config %s/%s, user %s, labels %v", cfg.OS, cfg.Architecture, cfg.Config.User, cfg.Config.Labels)
	}
	digest, err := os.ReadFile(out + ".digest")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(digest)) != desc.Digest.String() {
		t.Errorf("digest file %s, index %s", digest, desc.Digest)
	}
	// Every blob the manifest names is in the archive.
	if _, err := img.RawConfigFile(); err != nil {
		t.Error(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	lt := tar.NewReader(rc)
	hdr, err := lt.Next()
	if err != nil || hdr.Name != "manager" {
		t.Errorf("layer's first entry %v, %v", hdr, err)
	}
}
