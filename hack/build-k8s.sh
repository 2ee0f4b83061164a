#!/usr/bin/env bash
# Builds Kubernetes components and etcd from the Go module proxy into
# bin/k8s/<kubernetes version>/ and reuses what is already there.
#
# The versions are pinned by the wrapper modules hack/k8s (k8s.io/kubernetes with
# every staging module replaced by its published v0.x release) and hack/etcd.
# K8S_MODULE=hack/k8s-1.29 selects another wrapper module (the compatibility test's
# older Kubernetes); its binaries go to bin/k8s/<its version>/.
#
# usage: hack/build-k8s.sh [component ...]   (default: the envtest set)
#        hack/build-k8s.sh --print-dir        prints the directory and builds nothing
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
k8s_mod=$root/${K8S_MODULE:-hack/k8s}
etcd_mod=$root/hack/etcd

k8s_version=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$k8s_mod/go.mod")
etcd_version=$(sed -n 's/^require go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\)$/\1/p' "$etcd_mod/go.mod")
[ -n "$k8s_version" ] && [ -n "$etcd_version" ] || { echo "cannot read pinned versions" >&2; exit 1; }
dir=$root/bin/k8s/${k8s_version#v}

if [ "${1:-}" = "--print-dir" ]; then
  echo "$dir"
  exit 0
fi

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kube-apiserver kubectl)

mkdir -p "$dir"
export CGO_ENABLED=0 GOFLAGS=-trimpath

minor=${k8s_version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

missing=()
for c in "${components[@]}"; do
  if [ -x "$dir/$c" ]; then continue; fi
  missing+=("$c")
done
[ ${#missing[@]} -gt 0 ] || exit 0

tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

k8s_pkgs=()
for c in "${missing[@]}"; do
  case "$c" in
    etcd)
      echo "building etcd $etcd_version" >&2
      (cd "$etcd_mod" && go build -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
      ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl)
      k8s_pkgs+=("k8s.io/kubernetes/cmd/$c")
      ;;
    *) echo "unknown component $c" >&2; exit 1 ;;
  esac
done
if [ ${#k8s_pkgs[@]} -gt 0 ]; then
  echo "building ${k8s_pkgs[*]} at $k8s_version" >&2
  (cd "$k8s_mod" && go build -ldflags "$ldflags" -o "$tmp/" "${k8s_pkgs[@]}")
fi
for c in "${missing[@]}"; do mv "$tmp/$c" "$dir/$c"; done
