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

// Command imagetool builds container images without a container engine and
// serves them from a registry on loopback, for the local cluster.
//
//	imagetool build --rootfs DIR --out FILE.tar --ref REF [--ref REF]... [config flags]
//	    packs DIR into a one-layer image (every file owned by root unless --owner
//	    says otherwise) and writes it as an image tarball carrying every REF,
//	    and its manifest digest to FILE.tar.digest. With --format oci, FILE.tar
//	    is an OCI image layout as a tar archive instead (OCI media types, every
//	    REF named in index.json), as docker load, podman load, skopeo
//	    (oci-archive:) and ctr images import read it. --arch sets the
//	    architecture the image declares (default: this host's).
//	imagetool push --registry HOST:PORT FILE.tar...
//	    pushes every image of the tarballs to the registry, each REF with its
//	    registry host dropped (docker.io/library/busybox:latest becomes
//	    library/busybox:latest), which is how containerd asks a mirror for it.
//	imagetool registry --addr 127.0.0.1:5000 --blobs DIR [--preload DIR] [--any-tag REPO=TAG]...
//	    serves an OCI registry; --preload pushes every *.tar of DIR into it at
//	    start, --any-tag answers a manifest request for any missing tag of REPO
//	    with TAG (so that every tag of library/busybox resolves to the stand-in).
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	log.SetFlags(log.Ldate | log.Ltime)
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "registry":
		err = serve(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "imagetool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: imagetool build|push|registry [flags] (see the package documentation)")
	os.Exit(2)
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// epoch is the modification time of every file in a built layer, so that the
// same inputs give the same layer digest.
var epoch = time.Unix(0, 0).UTC()

func build(args []string) error {
	fset := flag.NewFlagSet("build", flag.ExitOnError)
	rootfs := fset.String("rootfs", "", "directory to pack as the image's only layer")
	out := fset.String("out", "", "image tarball to write")
	user := fset.String("user", "", "user (uid:gid) the image runs as")
	workdir := fset.String("workdir", "/", "working directory")
	format := fset.String("format", "docker", "docker (an image tarball) or oci (an OCI image layout archive)")
	arch := fset.String("arch", runtime.GOARCH, "architecture the image declares")
	var refs, entrypoint, cmd, env, owners, labels list
	fset.Var(&refs, "ref", "image reference to tag the image with (repeatable)")
	fset.Var(&entrypoint, "entrypoint", "entrypoint argument (repeatable)")
	fset.Var(&cmd, "cmd", "cmd argument (repeatable)")
	fset.Var(&env, "env", "KEY=VALUE environment variable (repeatable)")
	fset.Var(&owners, "owner", "PATH=UID:GID owner of PATH and everything below it (repeatable)")
	fset.Var(&labels, "label", "KEY=VALUE image label (repeatable)")
	_ = fset.Parse(args)
	if *rootfs == "" || *out == "" || len(refs) == 0 {
		return errors.New("--rootfs, --out and at least one --ref are required")
	}
	if *format != "docker" && *format != "oci" {
		return fmt.Errorf("bad --format %q, want docker or oci", *format)
	}
	oci := *format == "oci"

	layerTar, err := packDir(*rootfs, owners)
	if err != nil {
		return err
	}
	var layerOpts []tarball.LayerOption
	base := empty.Image
	if oci {
		layerOpts = append(layerOpts, tarball.WithMediaType(types.OCILayer))
		base = mutate.ConfigMediaType(mutate.MediaType(base, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, layerOpts...)
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", *arch
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Entrypoint = entrypoint
	cfg.Config.Cmd = cmd
	cfg.Config.Env = env
	cfg.Config.User = *user
	cfg.Config.WorkingDir = *workdir
	if len(labels) > 0 {
		cfg.Config.Labels = map[string]string{}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			cfg.Config.Labels[k] = v
		}
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return err
	}

	byRef := map[name.Reference]v1.Image{}
	var tags []name.Tag
	for _, r := range refs {
		ref, err := name.NewTag(r)
		if err != nil {
			return err
		}
		byRef[ref] = img
		tags = append(tags, ref)
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	tmp := *out + ".tmp"
	if oci {
		err = writeOCIArchive(tmp, img, tags)
	} else {
		err = tarball.MultiRefWriteToFile(tmp, byRef)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	// The manifest digest, for manifests that pin the image by digest.
	if err := os.WriteFile(*out+".digest", []byte(digest.String()+"\n"), 0o644); err != nil {
		return err
	}
	log.Printf("built %s (%s) -> %s", strings.Join(refs, ", "), digest, *out)
	return nil
}

// writeOCIArchive writes img as an OCI image layout packed into the tar archive
// file, with one index.json entry per tag: org.opencontainers.image.ref.name is
// the tag (as the OCI image spec has it) and io.containerd.image.name the full
// reference (which ctr images import and docker load use).
func writeOCIArchive(file string, img v1.Image, tags []name.Tag) error {
	dir, err := os.MkdirTemp(filepath.Dir(file), ".oci-layout-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, t := range tags {
		err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": t.TagStr(),
			"io.containerd.image.name":          t.Name(),
		}))
		if err != nil {
			return err
		}
	}
	// Plain modes for every entry (the layout writes some blobs 0600).
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if err != nil {
		return err
	}
	archive, err := packDir(dir, nil)
	if err != nil {
		return err
	}
	return os.WriteFile(file, archive, 0o644)
}

// owner is the owner of a path and everything below it in a built layer.
type owner struct {
	prefix   string
	uid, gid int
}

// parseOwners parses PATH=UID:GID flags.
func parseOwners(flags list) ([]owner, error) {
	var owners []owner
	for _, o := range flags {
		p, ids, ok := strings.Cut(o, "=")
		u, g, ok2 := strings.Cut(ids, ":")
		uid, err1 := strconv.Atoi(u)
		gid, err2 := strconv.Atoi(g)
		if !ok || !ok2 || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad --owner %q, want PATH=UID:GID", o)
		}
		owners = append(owners, owner{strings.Trim(p, "/"), uid, gid})
	}
	return owners, nil
}

// packDir returns an uncompressed tar of dir with deterministic order, times and
// ownership.
func packDir(dir string, ownerFlags list) ([]byte, error) {
	owners, err := parseOwners(ownerFlags)
	if err != nil {
		return nil, err
	}
	var paths []string
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		if err := addEntry(tw, dir, p, owners); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// addEntry writes the file, directory or symbolic link p below dir to tw.
func addEntry(tw *tar.Writer, dir, p string, owners []owner) error {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, time.Time{}, time.Time{}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	for _, o := range owners {
		if rel == o.prefix || strings.HasPrefix(rel, o.prefix+"/") {
			hdr.Uid, hdr.Gid = o.uid, o.gid
		}
	}
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	_, err = io.Copy(tw, f)
	return err
}

func push(args []string) error {
	fset := flag.NewFlagSet("push", flag.ExitOnError)
	reg := fset.String("registry", "127.0.0.1:5000", "registry address")
	_ = fset.Parse(args)
	for _, f := range fset.Args() {
		if err := pushTarball(context.Background(), *reg, f); err != nil {
			return err
		}
	}
	return nil
}

// pushTarball pushes every tagged image of an image tarball to reg.
func pushTarball(ctx context.Context, reg, file string) error {
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(file) })
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, desc := range manifest {
		for _, t := range desc.RepoTags {
			tag, err := name.NewTag(t)
			if err != nil {
				return err
			}
			img, err := tarball.ImageFromPath(file, &tag)
			if err != nil {
				return err
			}
			dst, err := name.NewTag(reg+"/"+tag.RepositoryStr()+":"+tag.TagStr(), name.Insecure)
			if err != nil {
				return err
			}
			if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
				return fmt.Errorf("pushing %s: %w", dst, err)
			}
			log.Printf("pushed %s as %s", t, dst)
		}
	}
	return nil
}

func serve(args []string) error {
	fset := flag.NewFlagSet("registry", flag.ExitOnError)
	addr := fset.String("addr", "127.0.0.1:5000", "listen address")
	blobs := fset.String("blobs", "", "directory for blobs (default: in memory)")
	preload := fset.String("preload", "", "directory whose *.tar image tarballs are pushed at start")
	var anyTag list
	fset.Var(&anyTag, "any-tag", "REPO=TAG: serve TAG for any missing tag of REPO (repeatable)")
	_ = fset.Parse(args)

	opts := []registry.Option{registry.Logger(log.New(os.Stderr, "", log.Ldate|log.Ltime))}
	if *blobs != "" {
		if err := os.MkdirAll(*blobs, 0o755); err != nil {
			return err
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobs)))
	}
	fallback := map[string]string{}
	for _, a := range anyTag {
		repo, tag, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("bad --any-tag %q, want REPO=TAG", a)
		}
		fallback[repo] = tag
	}
	handler := withTagFallback(registry.New(opts...), fallback)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("registry listening on %s", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *preload != "" {
		files, _ := filepath.Glob(filepath.Join(*preload, "*.tar"))
		for _, f := range files {
			if err := pushTarball(ctx, ln.Addr().String(), f); err != nil {
				log.Printf("preloading %s: %v", f, err)
			}
		}
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// withTagFallback answers a manifest GET or HEAD for a missing tag of a
// repository in fallback with the manifest of the repository's fallback tag.
func withTagFallback(next http.Handler, fallback map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, ref, ok := manifestRequest(r)
		tag, has := fallback[repo]
		if !ok || !has || ref == tag || strings.Contains(ref, ":") || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if rec.Code == http.StatusNotFound {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/v2/" + repo + "/manifests/" + tag
			r2.RequestURI = r2.URL.RequestURI()
			next.ServeHTTP(w, r2)
			return
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// manifestRequest splits /v2/<repo>/manifests/<ref>.
func manifestRequest(r *http.Request) (repo, ref string, ok bool) {
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if p == r.URL.Path {
		return "", "", false
	}
	i := strings.LastIndex(p, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	return p[:i], p[i+len("/manifests/"):], true
}
