#!/usr/bin/env bash
# Builds the release artifacts of one version into dist/release/<VERSION>/;
# nothing is pushed anywhere and no tracked file is changed.
#
# usage: hack/release.sh VERSION        (or VERSION=... hack/release.sh; make release VERSION=...)
#
#   install.yaml                              config/default with the image set to IMG_REPO:VERSION
#   jobkeeper-<chart version>.tgz             the Helm chart of dist/chart (version VERSION without
#                                             its v, appVersion VERSION, image repository IMG_REPO)
#   jobkeeper-VERSION.oci.tar                 the operator image (/manager, /output-persist) as an
#                                             OCI image layout archive named IMG_REPO:VERSION,
#                                             linux/IMAGE_ARCH, built without a container engine
#   kubectl-jobkeeper_VERSION_<os>_<arch>.tar.gz
#                                             the kubectl plugin for linux and darwin on amd64 and
#                                             arm64, reporting VERSION (kubectl jobkeeper version)
#   jobkeeper.yaml                            the krew manifest of those archives
#   checksums.txt                             sha256sum of every file above
#
# Environment: IMG_REPO (default ghcr.io/jobkeeper/jobkeeper), IMAGE_ARCH (default
# this host's Go architecture), RELEASE_URL (default
# https://github.com/jobkeeper/jobkeeper/releases/download), KUSTOMIZE and HELM
# (default bin/kustomize and bin/helm, which make kustomize and make helm build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${1:-${VERSION:-}}
IMG_REPO=${IMG_REPO:-ghcr.io/jobkeeper/jobkeeper}
IMAGE_ARCH=${IMAGE_ARCH:-$(go env GOARCH)}
RELEASE_URL=${RELEASE_URL:-https://github.com/jobkeeper/jobkeeper/releases/download}
KUSTOMIZE=${KUSTOMIZE:-$ROOT/bin/kustomize}
HELM=${HELM:-$ROOT/bin/helm}
PLATFORMS="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"
PLUGIN_VERSION_VAR=github.com/jobkeeper/jobkeeper/internal/plugin.version

log() { printf '%s release: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

[ -n "$VERSION" ] || die "usage: hack/release.sh VERSION (e.g. v0.1.0)"
[[ $VERSION =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "VERSION $VERSION is not a tag-like name"
for tool in "$KUSTOMIZE" "$HELM"; do [ -x "$tool" ] || die "$tool is missing (make kustomize helm)"; done

# The chart and krew versions must be semantic versions: VERSION without its v,
# or 0.0.0-<VERSION> for an untagged build (git describe gives a commit).
semver=${VERSION#v}
if ! [[ $semver =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]]; then
  semver=0.0.0-$(printf '%s' "$VERSION" | tr -c '0-9A-Za-z.\n-' '-')
fi

OUT=$ROOT/dist/release/$VERSION
rm -rf "$OUT"
mkdir -p "$OUT"
# Scratch space below dist/ (ignored), so that the overlay can name config/default relatively.
WORK=$(mktemp -d "$ROOT/dist/.release.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS

# 1. install.yaml: what make build-installer does, for IMG_REPO:VERSION.
log "install.yaml"
"$ROOT/hack/helm-chart.sh" --check >/dev/null || log "warning: dist/chart is not what hack/helm-chart.sh generates from config/ (make helm-chart)"
mkdir -p "$WORK/installer"
printf 'resources:\n- ../../../config/default\n' >"$WORK/installer/kustomization.yaml"
(cd "$WORK/installer" && "$KUSTOMIZE" edit set image "jobkeeper=$IMG_REPO:$VERSION")
"$KUSTOMIZE" build "$WORK/installer" >"$OUT/install.yaml"
grep -q "image: $IMG_REPO:$VERSION\$" "$OUT/install.yaml" || die "install.yaml does not name $IMG_REPO:$VERSION"

# 2. The Helm chart, packaged from a copy with the release's versions and image.
log "Helm chart $semver"
cp -a "$ROOT/dist/chart" "$WORK/jobkeeper"
sed -i "0,/^  repository: jobkeeper\$/s||  repository: $IMG_REPO|" "$WORK/jobkeeper/values.yaml"
grep -q "^  repository: $IMG_REPO\$" "$WORK/jobkeeper/values.yaml" || die "cannot set the chart's image repository"
"$HELM" lint "$WORK/jobkeeper" >/dev/null
"$HELM" package "$WORK/jobkeeper" --version "$semver" --app-version "$VERSION" --destination "$OUT" >/dev/null
"$HELM" template jobkeeper "$OUT/jobkeeper-$semver.tgz" --namespace jobkeeper-system |
  grep -q "image: $IMG_REPO:$VERSION\$" || die "the packaged chart does not name $IMG_REPO:$VERSION"

# 3. The operator image, as hack/cluster/images.sh builds it for the local cluster.
log "operator image linux/$IMAGE_ARCH"
(cd "$ROOT/hack/images" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$WORK/imagetool" .)
# shellcheck source=images/rootfs.sh
source "$ROOT/hack/images/rootfs.sh"
base_rootfs "$WORK/rootfs"
for cmd in manager:./cmd output-persist:./cmd/output-persist; do
  (cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH=$IMAGE_ARCH go build -trimpath -ldflags "-s -w" \
    -o "$WORK/rootfs/${cmd%%:*}" "${cmd#*:}")
done
"$WORK/imagetool" build --format oci --arch "$IMAGE_ARCH" --rootfs "$WORK/rootfs" \
  --out "$OUT/jobkeeper-$VERSION.oci.tar" --ref "$IMG_REPO:$VERSION" \
  --entrypoint /manager --user 65532:65532 \
  --env PATH=/usr/local/bin:/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.source=https://github.com/jobkeeper/jobkeeper" \
  --label "org.opencontainers.image.title=jobkeeper" 2>/dev/null
rm -f "$OUT/jobkeeper-$VERSION.oci.tar.digest"

# 4. The kubectl plugin for every platform, one archive each with the binary and
# the project's LICENSE (README.md while there is none).
doc=LICENSE
[ -f "$ROOT/$doc" ] || doc=README.md
archives=()
for platform in $PLATFORMS; do
  os=${platform%/*} arch=${platform#*/}
  log "kubectl-jobkeeper $os/$arch"
  d=$WORK/plugin-$os-$arch
  mkdir -p "$d"
  (cd "$ROOT" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X $PLUGIN_VERSION_VAR=$VERSION" -o "$d/kubectl-jobkeeper" ./cmd/kubectl-jobkeeper)
  cp "$ROOT/$doc" "$d/$doc"
  archive=kubectl-jobkeeper_${VERSION}_${os}_${arch}.tar.gz
  tar -C "$d" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - kubectl-jobkeeper "$doc" |
    gzip -n -9 >"$OUT/$archive"
  archives+=("$archive")
done

# Every binary reports its version: run the plugin built for this host.
host=$(go env GOOS)_$(go env GOARCH)
if [ -x "$WORK/plugin-${host/_/-}/kubectl-jobkeeper" ]; then
  got=$("$WORK/plugin-${host/_/-}/kubectl-jobkeeper" version -o json)
  [[ $got == *"\"version\": \"$VERSION\""* || $got == *"\"version\":\"$VERSION\""* ]] ||
    die "kubectl-jobkeeper version reports $got, not $VERSION"
  log "kubectl-jobkeeper ($host) reports $VERSION"
fi

# 5. The krew manifest of the archives.
log "krew manifest"
{
  cat <<YAML
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: jobkeeper
spec:
  version: v$semver
  homepage: https://github.com/jobkeeper/jobkeeper
  shortDescription: Inspect and drive QuarksJobs, ReactiveJobs and NodeJobs
  description: |
    Lists jobkeeper's QuarksJobs, ReactiveJobs, NodeJobs and NodeJobRuns across
    namespaces, shows their runs and results, triggers and reruns them, and
    converts batch-job-controller ConfigMaps into NodeJobs.
  platforms:
YAML
  for archive in "${archives[@]}"; do
    p=${archive#kubectl-jobkeeper_"${VERSION}"_}
    p=${p%.tar.gz}
    sum=$(sha256sum "$OUT/$archive" | cut -d' ' -f1)
    cat <<YAML
  - selector:
      matchLabels:
        os: ${p%_*}
        arch: ${p#*_}
    uri: $RELEASE_URL/$VERSION/$archive
    sha256: $sum
    files:
    - from: kubectl-jobkeeper
      to: .
    - from: $doc
      to: .
    bin: kubectl-jobkeeper
YAML
  done
} >"$OUT/jobkeeper.yaml"

# 6. Checksums of everything above.
(cd "$OUT" && sha256sum -- install.yaml "jobkeeper-$semver.tgz" "jobkeeper-$VERSION.oci.tar" "${archives[@]}" jobkeeper.yaml >checksums.txt)

log "done in $((SECONDS - start))s: $OUT"
(cd "$OUT" && stat -c '  %10s  %n' -- *) >&2
