#!/usr/bin/env bash
# Prints the host state that the local cluster touches, for a before/after diff:
#   hack/cluster/host-snapshot.sh >before; up; down; hack/cluster/host-snapshot.sh >after; diff before after
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

section() { printf '\n## %s\n' "$1"; }

section sysctls
sysctl_snapshot
section links
ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
section addresses
ip -o addr show | awk '{print $2, $3, $4}' | sort
section routes
ip route show table all 2>/dev/null | grep -v -E '^(local|broadcast|multicast) ' | sort
section nftables
if command -v nft >/dev/null; then nft list ruleset 2>/dev/null; else echo "(nft not installed)"; fi
section mounts
awk '{print $5, $9}' /proc/self/mountinfo | sort
section cgroups
find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort
section paths
for p in $HOST_PATHS; do [ -e "$p" ] || [ -L "$p" ] && echo "exists $p" || echo "absent $p"; done
section "listening sockets of the cluster's ports"
ss -Hlntu 2>/dev/null | awk '{print $1, $5}' |
  grep -E ':(2379|2380|2381|5000|6443|1024[789]|1025[0-9]|10256|10257|10259)$' | sort || true
section processes
# The cluster's processes name the state directory or the cluster's own tools
# in their arguments (other users of bin/k8s, such as envtest, do not).
ps -eo args= | grep -F -e "$STATE/" -e "$TOOLS/" -e "$BIN/kwok" -e containerd -e runc | grep -v -e grep -e host-snapshot | sort || true
