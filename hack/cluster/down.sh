#!/usr/bin/env bash
# Stops the local cluster and undoes what it changed on the host.
#
# Pods of the real node are deleted through the API first, so that the kubelet
# tears their networks and mounts down. Then every process the scripts started
# is stopped by its recorded PID (and the containerd shims and any process
# left in the pods' cgroups by theirs), mounts under the state directory are
# unmounted, and the host's network (bridge, veths, nftables and iptables
# rules), cgroups, paths and sysctls are put back as they were before the
# first `up`.
#
# usage: hack/cluster/down.sh [--wipe]
#   --wipe  also delete the state directory (etcd data, certificates, images)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root"
wipe=false
[ "${1:-}" != --wipe ] || wipe=true
[ -d "$STATE" ] || { log "no cluster state in $STATE"; exit 0; }

step "workloads"
stop kwok
stop provisioner
if running kube-apiserver && running kubelet && running containerd; then
  # Nothing may recreate or reschedule pods from here on.
  stop kube-controller-manager
  stop kube-scheduler
  kc delete pods --all-namespaces --field-selector "spec.nodeName=$NODE_NAME" \
    --grace-period=1 --wait=false >/dev/null || true
  no_pods() { [ -z "$(kc get pods -A --field-selector "spec.nodeName=$NODE_NAME" -o name 2>/dev/null)" ]; }
  no_tasks() { [ -z "$(ctrd tasks ls -q 2>/dev/null)" ]; }
  wait_for 90 "the pods of $NODE_NAME to be gone" no_pods || true
  wait_for 60 "containerd to have no running tasks" no_tasks || true
fi

step "node processes"
stop kubelet
stop kube-proxy
if running containerd; then
  # Whatever the kubelet left: stop and remove pod sandboxes' tasks.
  for t in $(ctrd tasks ls -q 2>/dev/null); do
    ctrd tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
  done
  sleep 0.5
  for t in $(ctrd tasks ls -q 2>/dev/null); do ctrd tasks delete "$t" >/dev/null 2>&1 || true; done
fi
stop containerd 30
# The runc shims outlive containerd; each recorded its PID in its bundle.
for f in "$STATE"/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if grep -qa containerd-shim "/proc/$pid/cmdline" 2>/dev/null; then kill_pid "$pid" "containerd shim"; fi
done
# Any process still in the pods' cgroups was started by a pod.
for procs in /sys/fs/cgroup/*/kubepods/cgroup.procs; do
  [ -f "$procs" ] || continue
  for pid in $(find "$(dirname "$procs")" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
    kill_pid "$pid" "pod process"
  done
  break
done

step "control plane and registry"
stop registry
stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver
stop etcd

step "mounts"
# Deepest first; lazily when a mount is still busy.
for _ in 1 2 3; do
  mounts=$(awk -v s="$STATE/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r)
  [ -n "$mounts" ] || break
  for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
done
awk -v s="$STATE/" 'index($5, s) == 1 {print "still mounted: " $5}' /proc/self/mountinfo >&2

step "network"
if [ -f "$HOST/saved" ]; then
  # Links: the CNI bridge and any veth left by a pod.
  for link in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'); do
    grep -qx "$link" "$HOST/links" && continue
    case "$link" in cni0 | veth*) ip link delete "$link" 2>/dev/null && log "deleted link $link" ;; esac
  done
  # kube-proxy's nftables tables.
  for family in ip ip6; do
    nft list table "$family" kube-proxy >/dev/null 2>&1 && nft delete table "$family" kube-proxy && log "deleted nftables table $family kube-proxy"
  done
  # The kubelet's and the CNI plugins' iptables chains (KUBE-*, CNI-*) and the
  # rules jumping to them.
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle; do
      { "$cmd" -t "$table" -S 2>/dev/null || true; } | { grep -E '^-A .*(KUBE-|CNI-)' || true; } | sed 's/^-A /-D /' |
        while read -r rule; do eval "$cmd -t $table $rule" 2>/dev/null || true; done
      for chain in $({ "$cmd" -t "$table" -S 2>/dev/null || true; } | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
        "$cmd" -t "$table" -F "$chain" 2>/dev/null || true
        if "$cmd" -t "$table" -X "$chain" 2>/dev/null; then log "deleted $cmd chain $table/$chain"; fi
      done
    done
  done
  # Tables that iptables created for them and that are empty again.
  { nft list tables 2>/dev/null || true; } | sort | while read -r _ family table; do
    grep -qx "table $family $table" "$HOST/nft-tables" && continue
    rules=$(nft list table "$family" "$table" 2>/dev/null | grep -vE '^\s*(table |chain |type |policy |\}|$)' || true)
    if [ -z "$rules" ]; then
      nft delete table "$family" "$table" && log "deleted empty nftables table $family $table"
    fi
  done
fi

step "cgroups and host paths"
if [ -f "$HOST/saved" ]; then
  for c in /sys/fs/cgroup/*/kubepods; do
    [ -d "$c" ] || continue
    grep -qx "$c" "$HOST/cgroups" && continue
    find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [ -d "$c" ] && log "could not remove cgroup $c"
  done
  find /var/log/containers -maxdepth 1 -type l -lname "$STATE/*" -delete 2>/dev/null || true
  for p in $HOST_PATHS; do
    preexisting_path "$p" && continue
    if [ -e "$p" ] || [ -L "$p" ]; then
      awk -v p="$p/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
      rm -rf "$p" && log "removed $p"
    fi
  done
  step "sysctls"
  restore_sysctls
  rm -rf "$HOST"
fi

steps_done
left=$(ps -eo pid=,args= | grep -F -e "$STATE/" -e "$TOOLS/" -e "$BIN/kwok" | grep -v -e grep -e "down.sh" || true)
[ -z "$left" ] || { log "processes left:"; echo "$left" >&2; }
if $wipe; then
  rm -rf "$STATE"
  log "deleted $STATE"
fi
log "cluster is down"
