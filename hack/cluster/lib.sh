# shellcheck shell=bash
# shellcheck disable=SC2034 # settings used by the scripts that source this file
# Shared settings and helpers of the local cluster scripts (hack/cluster/*.sh).
#
# Every process the scripts start is recorded in $STATE/run/<name>.pid and is
# stopped by that PID; every host setting they (or the components they run)
# change is recorded under $STATE/host/ on the first `up` and restored by `down`.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${CLUSTER_STATE:-$ROOT/.state/cluster}
BIN=$ROOT/bin
TOOLS=$BIN/cluster
K8S_BIN=$("$ROOT/hack/build-k8s.sh" --print-dir)

# Pinned versions: CoreDNS and cert-manager by their wrapper modules, kwok here.
KWOK_VERSION=v0.8.0
# module_version GO.MOD MODULE: the version GO.MOD requires of MODULE.
module_version() {
  awk -v m="$2" '$1 == "require" && $2 == m {print $3; exit} $1 == m {print $2; exit}' "$1"
}
COREDNS_VERSION=$(module_version "$ROOT/hack/coredns/go.mod" github.com/coredns/coredns)
CERT_MANAGER_VERSION=$(module_version "$ROOT/hack/cert-manager/go.mod" github.com/cert-manager/cert-manager)
if [ -z "$COREDNS_VERSION" ] || [ -z "$CERT_MANAGER_VERSION" ]; then
  echo "cannot read the pinned CoreDNS and cert-manager versions" >&2
  exit 1
fi

# Node and networks.
NODE_NAME=${NODE_NAME:-$(hostname | tr '[:upper:]' '[:lower:]')}
# The node IP is the source address of the default route: it must not be a
# loopback address (the kubelet and the Endpoints of the kubernetes Service
# reject those).
NODE_IP=${NODE_IP:-$(ip -4 route get 192.0.2.255 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") {print $(i + 1); exit}}')}
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
API_PORT=${API_PORT:-6443}

# Images: a registry on loopback serves every image of the cluster. containerd
# uses it as the mirror of docker.io (so `image: busybox` resolves to the local
# stand-in), of registry.k8s.io and quay.io, and as the registry behind the
# name LOCAL_REGISTRY, which the cluster's own images (pause, CoreDNS,
# cert-manager) are named with.
REGISTRY_ADDR=127.0.0.1:${REGISTRY_PORT:-5000}
LOCAL_REGISTRY=jobkeeper.internal
MIRRORED_REGISTRIES="docker.io registry.k8s.io quay.io $LOCAL_REGISTRY $REGISTRY_ADDR"
PAUSE_IMAGE=$LOCAL_REGISTRY/cluster/pause:3.10
COREDNS_IMAGE=$LOCAL_REGISTRY/cluster/coredns:$COREDNS_VERSION
CERT_MANAGER_IMAGE_PREFIX=$LOCAL_REGISTRY/cluster/cert-manager
# The operator image: config/manager sets jobkeeper:latest, which is
# docker.io/library/jobkeeper:latest and so is served through the mirror.
IMG=${IMG:-jobkeeper:latest}
# The job program of the NodeJob e2e scenarios.
E2E_REPORTER_IMAGE=$LOCAL_REGISTRY/e2e/reporter:latest

ADMIN_KUBECONFIG=$STATE/kubeconfig/admin.kubeconfig

# Debian packages the cluster needs (no service is started by installing them).
PACKAGES="containerd runc containernetworking-plugins busybox-static iptables nftables conntrack iproute2 openssl ca-certificates tzdata curl"

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# kc runs the cluster's kubectl (the version built with the control plane) as
# the cluster admin.
kc() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

# ctrd runs containerd's ctr against the cluster's containerd.
ctrd() { ctr --address "$STATE/run/containerd.sock" --namespace k8s.io "$@"; }

# write_file PATH: write stdin to PATH unless PATH already has that content
# (kube-proxy exits when its configuration file is rewritten).
write_file() {
  local tmp; tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every half second.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { log "timed out after ${timeout}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

# Timing of the steps of a script: step NAME starts a step, steps_done prints them.
_step_name="" _step_start=0 _steps=()
_now_ms() { date +%s%3N; }
step() {
  _step_end
  _step_name=$1 _step_start=$(_now_ms)
  log "== $1"
}
_step_end() {
  [ -n "$_step_name" ] || return 0
  local ms=$(($(_now_ms) - _step_start))
  _steps+=("$(printf '%-34s %4d.%01ds' "$_step_name" $((ms / 1000)) $((ms % 1000 / 100)))")
  _step_name=""
}
steps_done() {
  _step_end
  local s
  for s in "${_steps[@]}"; do printf '  %s\n' "$s" >&2; done
}

# ---------------------------------------------------------------------------
# Processes

pidfile() { echo "$STATE/run/$1.pid"; }

# running NAME: whether the process recorded for NAME is alive.
running() {
  local f; f=$(pidfile "$1")
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# start NAME COMMAND...: start COMMAND in its own session unless NAME is
# already running; output goes to $STATE/logs/NAME.log.
start() {
  local name=$1; shift
  if running "$name"; then
    log "$name is running (pid $(cat "$(pidfile "$name")"))"
    return 0
  fi
  mkdir -p "$STATE/run" "$STATE/logs"
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
  log "started $name (pid $!)"
}

# stop NAME [SECONDS]: SIGTERM the recorded process, SIGKILL it after SECONDS.
stop() {
  local name=$1 grace=${2:-15} f pid
  f=$(pidfile "$name")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for ${grace}s, killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

# kill_pid PID WHAT: stop one process by its PID.
kill_pid() {
  local pid=$1 what=$2
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  log "stopped $what (pid $pid)"
}

# ---------------------------------------------------------------------------
# Debian packages

ensure_packages() {
  local missing=() p
  for p in $PACKAGES; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}); run as root"
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------------------
# Builds (everything from the Go module proxy; a binary is reused while it is
# newer than its sources)

# go_build_static OUT DIR PACKAGE...: static build of PACKAGE in module DIR.
go_build_static() {
  local out=$1 dir=$2; shift 2
  mkdir -p "$(dirname "$out")"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp" "$@")
  mv "$out.tmp" "$out"
}

build_k8s() { "$ROOT/hack/build-k8s.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; }

build_kwok() {
  [ -x "$BIN/kwok-$KWOK_VERSION" ] || {
    log "building kwok $KWOK_VERSION"
    local tmp; tmp=$(mktemp -d "$BIN/.kwok.XXXXXX")
    GOBIN=$tmp CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    mv "$tmp/kwok" "$BIN/kwok-$KWOK_VERSION"
    rmdir "$tmp"
  }
  ln -sf "kwok-$KWOK_VERSION" "$BIN/kwok"
}

# outdated BINARY SOURCE_DIR: whether BINARY is missing or older than a Go
# source or go.mod/go.sum of SOURCE_DIR.
outdated() {
  [ -x "$1" ] || return 0
  [ -n "$(find "$2" \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -newer "$1" -print -quit)" ]
}

build_coredns() {
  outdated "$TOOLS/coredns-$COREDNS_VERSION" "$ROOT/hack/coredns" || return 0
  log "building CoreDNS $COREDNS_VERSION"
  go_build_static "$TOOLS/coredns-$COREDNS_VERSION" "$ROOT/hack/coredns" .
}

cert_manager_dir() { echo "$TOOLS/cert-manager-$CERT_MANAGER_VERSION"; }
build_cert_manager() {
  local d c stale=false
  d=$(cert_manager_dir)
  for c in controller webhook cainjector; do
    if outdated "$d/$c" "$ROOT/hack/cert-manager"; then stale=true; fi
  done
  $stale || return 0
  log "building cert-manager $CERT_MANAGER_VERSION (controller, webhook, cainjector)"
  mkdir -p "$d"
  (cd "$ROOT/hack/cert-manager" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$CERT_MANAGER_VERSION" \
    -o "$d/" ./controller ./webhook ./cainjector)
}

# The image tool and the pause binary are the project's own.
build_imagetool() {
  outdated "$TOOLS/imagetool" "$ROOT/hack/images" || outdated "$TOOLS/pause" "$ROOT/hack/images" || return 0
  log "building imagetool and pause"
  go_build_static "$TOOLS/imagetool" "$ROOT/hack/images" .
  go_build_static "$TOOLS/pause" "$ROOT/hack/images" ./pause
}

# build_provisioner: the storage provisioner of the default StorageClass "local" (hack/cluster/provisioner).
build_provisioner() {
  outdated "$TOOLS/provisioner" "$ROOT/hack/cluster/provisioner" || return 0
  log "building the storage provisioner"
  go_build_static "$TOOLS/provisioner" "$ROOT" ./hack/cluster/provisioner
}

# kwok_module_dir: the kwok module in the module cache (its stage definitions).
kwok_module_dir() {
  (cd /tmp && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# kwok_stages POD_MILLISECONDS: kwok's configuration from the Stages its module
# ships: nodes become Ready at once (with a lease when WITH_LEASE=true), pods
# become Ready, complete and are deleted; pods owned by a NodeJobRun complete
# after POD_MILLISECONDS, as a job program would.
kwok_stages() {
  local stages node
  stages=$(kwok_module_dir)/kustomize/stage
  [ -d "$stages" ] || die "no kwok stages in the module cache"
  node=node/fast/node-initialize.yaml
  for f in $node ${WITH_LEASE:+node/heartbeat-with-lease/node-heartbeat-with-lease.yaml} \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    printf -- '---\n'
    cat "$stages/$f"
  done
  printf -- '---\n'
  sed -e 's/name: pod-complete$/name: pod-complete-nodejobrun/' -e "s/- 'Job'$/- 'NodeJobRun'/" \
    -e "s/^  next:$/  delay:\\n    durationMilliseconds: $1\\n  next:/" \
    "$stages/pod/fast/pod-complete.yaml"
}

# cert_manager_crds: directory of cert-manager's CRDs in the module cache.
cert_manager_crds() {
  (cd "$ROOT/hack/cert-manager" && go mod download github.com/cert-manager/cert-manager)
  echo "$(cd "$ROOT/hack/cert-manager" && go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)/deploy/crds"
}

# pinned IMAGE TARBALL-NAME: IMAGE with the digest of the image tarball built
# by images.sh, so that a rebuilt image rolls its Deployment out.
pinned() { echo "$1@$(cat "$STATE/images/$2.tar.digest")"; }

# ---------------------------------------------------------------------------
# Host state: what the cluster changes on the host, saved once before the
# first change and restored by `down`.

HOST=$STATE/host
# Host paths that the kubelet, containerd and the CNI plugins create whatever
# their configuration says.
HOST_PATHS="/var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /var/lib/cni /run/netns /var/run/netns /opt/containerd /etc/cni /run/mount"
# Sysctls that are compared (and restored) by down: the kubelet sets kernel
# tunables, the bridge CNI plugin enables forwarding, kube-proxy sets conntrack
# and routing parameters.
SYSCTL_PATTERN='^(vm\.|kernel\.(panic|keys\.)|net\.ipv4\.(ip_forward|conf\.)|net\.ipv6\.conf\.|net\.netfilter\.nf_conntrack_(max|tcp_|udp_|buckets)|net\.bridge\.)'

sysctl_snapshot() {
  { sysctl -a 2>/dev/null || true; } | sed 's/ = /=/' |
    awk -v keep="$SYSCTL_PATTERN" '$0 ~ keep && $0 !~ /(nf_conntrack_count|\.conf\.(veth|cni0))/' | sort
}

save_host_state() {
  [ -f "$HOST/saved" ] && return 0
  mkdir -p "$HOST"
  sysctl_snapshot >"$HOST/sysctl"
  local p
  for p in $HOST_PATHS; do
    if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi
  done >"$HOST/paths"
  nft list tables 2>/dev/null | sort >"$HOST/nft-tables" || true
  ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null >"$HOST/cgroups" || true
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort >"$HOST/links"
  touch "$HOST/saved"
}

preexisting_path() { grep -qx "$1" "$HOST/paths" 2>/dev/null; }

restore_sysctls() {
  [ -f "$HOST/sysctl" ] || return 0
  local key value
  # ip_forward first: writing it resets every interface's forwarding setting.
  value=$(sed -n 's/^net\.ipv4\.ip_forward=//p' "$HOST/sysctl")
  if [ -n "$value" ] && [ "$(sysctl -n net.ipv4.ip_forward)" != "$value" ]; then
    sysctl -q -w "net.ipv4.ip_forward=$value" && log "restored net.ipv4.ip_forward=$value"
  fi
  # Then every saved setting that differs now.
  comm -23 "$HOST/sysctl" <(sysctl_snapshot) | while IFS='=' read -r key value; do
    sysctl -n "$key" >/dev/null 2>&1 || continue
    if sysctl -q -w "$key=$value" 2>/dev/null; then log "restored $key=$value"; else log "could not restore $key=$value"; fi
  done
}
