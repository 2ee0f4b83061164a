#!/usr/bin/env bash
# Builds the images of the local cluster without a container engine, as image
# tarballs in .state/cluster/images/, and pushes them to the cluster's registry
# when it runs (the registry also loads every tarball there when it starts).
#
# usage: hack/cluster/images.sh [cluster|cert-manager|operator|all]...
#   cluster       pause, the busybox stand-in (busybox and alpine), the curl
#                 stand-in (curlimages/curl), CoreDNS
#   cert-manager  cert-manager's controller, webhook and cainjector
#   operator      the operator ($IMG, default jobkeeper:latest): /manager and
#                 /output-persist on a distroless-like base (nonroot 65532)
# A cluster image is rebuilt when its binary is newer than its tarball; the
# operator image is rebuilt every time (go build reuses its cache).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGES=$STATE/images
WORK=$STATE/image-build
mkdir -p "$IMAGES" "$WORK"
built=()

# base DIR: the files of a distroless static image (hack/images/rootfs.sh).
# shellcheck source=../images/rootfs.sh
source "$ROOT/hack/images/rootfs.sh"
base() { base_rootfs "$1"; }

# pack NAME ROOTFS IMAGETOOL-BUILD-FLAGS...: ROOTFS as image tarball NAME.tar.
pack() {
  local name=$1 rootfs=$2; shift 2
  "$TOOLS/imagetool" build --rootfs "$rootfs" --out "$IMAGES/$name.tar" "$@"
  built+=("$IMAGES/$name.tar")
}

# stale NAME INPUT...: whether NAME.tar is missing or older than an input.
stale() {
  local tar=$IMAGES/$1.tar f; shift
  [ -f "$tar" ] && [ -f "$tar.digest" ] || return 0
  for f in "$@" "$TOOLS/imagetool"; do [ "$f" -nt "$tar" ] && return 0; done
  return 1
}

# busybox_rootfs DIR: the busybox stand-in's files in DIR.
busybox_rootfs() {
  # A stand-in for busybox and alpine: Debian's static busybox with every
  # applet linked at its usual path.
  local d=$1 applet
  rm -rf "$d" && mkdir -p "$d/bin" "$d/tmp" "$d/root" "$d/etc" "$d/var/tmp"
  chmod 1777 "$d/tmp" "$d/var/tmp"
  cp /bin/busybox "$d/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$d/$(dirname "$applet")"
    ln -sf /bin/busybox "$d/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$d/etc/group"
}

cluster_images() {
  build_imagetool
  build_coredns
  local d
  if stale pause "$TOOLS/pause"; then
    d=$WORK/pause && rm -rf "$d" && mkdir -p "$d"
    cp "$TOOLS/pause" "$d/pause"
    pack pause "$d" --ref "$PAUSE_IMAGE" --entrypoint /pause --user 65535:65535
  fi
  if stale busybox /bin/busybox; then
    d=$WORK/busybox && busybox_rootfs "$d"
    pack busybox "$d" --ref docker.io/library/busybox:latest --ref docker.io/library/alpine:latest \
      --cmd sh --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  fi
  if stale curl /usr/bin/curl /bin/busybox; then
    # A stand-in for curlimages/curl: the busybox stand-in with Debian's curl
    # and the shared libraries it loads, for job scripts that post with curl.
    d=$WORK/curl && busybox_rootfs "$d"
    local lib
    for lib in /usr/bin/curl $(ldd /usr/bin/curl | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}'); do
      mkdir -p "$d$(dirname "$lib")"
      cp -L "$lib" "$d$lib"
    done
    printf 'hosts: files dns\n' >"$d/etc/nsswitch.conf"
    pack curl "$d" --ref docker.io/curlimages/curl:latest \
      --cmd sh --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  fi
  if stale coredns "$TOOLS/coredns-$COREDNS_VERSION"; then
    d=$WORK/coredns && base "$d"
    cp "$TOOLS/coredns-$COREDNS_VERSION" "$d/coredns"
    pack coredns "$d" --ref "$COREDNS_IMAGE" --entrypoint /coredns --user 65532:65532
  fi
}

cert_manager_images() {
  build_imagetool
  build_cert_manager
  local c d bins
  bins=$(cert_manager_dir)
  for c in controller webhook cainjector; do
    stale "cert-manager-$c" "$bins/$c" || continue
    d=$WORK/cert-manager-$c && base "$d"
    cp "$bins/$c" "$d/$c"
    pack "cert-manager-$c" "$d" --ref "$CERT_MANAGER_IMAGE_PREFIX-$c:$CERT_MANAGER_VERSION" --entrypoint "/$c" --user 65532:65532
  done
}

operator_image() {
  build_imagetool
  local d=$WORK/operator ref=$IMG
  base "$d"
  log "building the manager and output-persist"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$d/manager" ./cmd &&
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$d/output-persist" ./cmd/output-persist)
  pack operator "$d" --ref "$ref" --entrypoint /manager --user 65532:65532 \
    --env PATH=/usr/local/bin:/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
  # The job program of the NodeJob e2e scenarios (test/e2e/reporter).
  d=$WORK/e2e-reporter
  base "$d"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$d/reporter" ./test/e2e/reporter)
  pack e2e-reporter "$d" --ref "$E2E_REPORTER_IMAGE" --entrypoint /reporter --user 65532:65532
}

[ $# -gt 0 ] || set -- all
for what in "$@"; do
  case "$what" in
    cluster) cluster_images ;;
    cert-manager) cert_manager_images ;;
    operator) operator_image ;;
    all) cluster_images; cert_manager_images; operator_image ;;
    *) die "unknown image set $what" ;;
  esac
done

if [ ${#built[@]} -gt 0 ] && running registry; then
  "$TOOLS/imagetool" push --registry "$REGISTRY_ADDR" "${built[@]}"
fi
