#!/usr/bin/env bash
# Brings the local cluster up: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, a registry on loopback, containerd (runc, CNI bridge), a
# kubelet (one real node), kube-proxy, CoreDNS and a storage provisioner (the
# default StorageClass "local": host paths on the real node); with
# KWOK_NODES=N also kwok and N simulated nodes. Running it again while the
# cluster is up starts only what is missing and re-applies the CoreDNS manifest; configuration files are
# rewritten only when their content changes (running components pick a change
# up after down and up).
#
# usage: hack/cluster/up.sh            (as root)
#   KWOK_NODES=N      simulated nodes besides the real one (default 0)
#   NODE_IP=a.b.c.d   node address (default: source address of the default route)
#   CLUSTER_STATE=dir state directory (default .state/cluster)
#
# Afterwards: export KUBECONFIG=.state/cluster/kubeconfig/admin.kubeconfig
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root: containerd, the kubelet and kube-proxy change the host's network, mounts and cgroups"
[ -n "$NODE_IP" ] || die "no default route to take the node IP from; set NODE_IP"
case "$NODE_IP" in 127.*) die "NODE_IP must not be a loopback address" ;; esac
KWOK_NODES=${KWOK_NODES:-0}

step "Debian packages"
ensure_packages

step "builds (reused while up to date)"
build_k8s
build_imagetool
build_coredns
build_provisioner
[ "$KWOK_NODES" = 0 ] || build_kwok

mkdir -p "$STATE"/{etc,logs,run,pki,kubeconfig}

# ---------------------------------------------------------------------------
step "certificates and kubeconfigs"
PKI=$STATE/pki
# issue NAME SUBJECT EXT_KEY_USAGE [SUBJECT_ALT_NAMES]: an ECDSA key and a
# certificate signed by the cluster CA (kept when it exists and was issued for
# the same subject and names).
issue() {
  local name=$1 subj=$2 eku=$3 san=${4:-}
  local want="$subj|$eku|$san"
  [ -f "$PKI/$name.crt" ] && [ "$(cat "$PKI/$name.id" 2>/dev/null)" = "$want" ] && return 0
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
  echo "$want" >"$PKI/$name.id"
}
if [ ! -f "$PKI/ca.crt" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=jobkeeper-local-cluster-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt"
fi
if [ ! -f "$PKI/sa.key" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi
issue apiserver "/CN=kube-apiserver" serverAuth \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$NODE_IP"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
issue kubelet-serving "/O=system:nodes/CN=system:node:$NODE_NAME" serverAuth "DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
issue admin "/O=system:masters/CN=cluster-admin" clientAuth
issue controller-manager "/CN=system:kube-controller-manager" clientAuth
issue scheduler "/CN=system:kube-scheduler" clientAuth
issue kube-proxy "/CN=system:kube-proxy" clientAuth
issue kwok "/O=system:masters/CN=kwok" clientAuth

# kubeconfig NAME CERT: a kubeconfig for the host components (loopback).
kubeconfig() {
  write_file "$STATE/kubeconfig/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$2.crt")
    client-key-data: $(base64 -w0 "$PKI/$2.key")
contexts:
- name: local
  context: {cluster: local, user: $1}
current-context: local
EOF
  chmod 600 "$STATE/kubeconfig/$1.kubeconfig"
}
for c in admin controller-manager scheduler kubelet kube-proxy kwok; do kubeconfig "$c" "$c"; done

# ---------------------------------------------------------------------------
step "etcd and kube-apiserver"
# etcd does not fsync: the cluster is for tests and its data is disposable.
start etcd "$K8S_BIN/etcd" --name local --data-dir "$STATE/etcd" --unsafe-no-fsync \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster local=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
wait_for 30 "etcd" curl -sf http://127.0.0.1:2379/health

# The API server listens on every address: pods reach it through the
# kubernetes Service, whose endpoint is the advertised node IP.
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=0.0.0.0 --secure-port="$API_PORT" --advertise-address="$NODE_IP" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true --profiling=false
wait_for 90 "kube-apiserver /readyz" kc get --raw /readyz

step "controller-manager and scheduler"
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$STATE/kubeconfig/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE/kubeconfig/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE/kubeconfig/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --use-service-account-credentials=true \
  --allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" --service-cluster-ip-range="$SERVICE_CIDR"
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$STATE/kubeconfig/scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE/kubeconfig/scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE/kubeconfig/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false

# ---------------------------------------------------------------------------
step "images and registry"
"$ROOT/hack/cluster/images.sh" cluster
start registry "$TOOLS/imagetool" registry --addr "$REGISTRY_ADDR" --blobs "$STATE/registry" \
  --preload "$STATE/images" --any-tag library/busybox=latest --any-tag library/alpine=latest
wait_for 30 "registry" curl -sf "http://$REGISTRY_ADDR/v2/"
wait_for 60 "registry preload" curl -sf "http://$REGISTRY_ADDR/v2/cluster/pause/manifests/3.10"

# ---------------------------------------------------------------------------
step "containerd"
save_host_state
mkdir -p "$STATE"/containerd/{root,state,opt} "$STATE/cni/net.d" "$STATE/cni/ipam"
for r in $MIRRORED_REGISTRIES; do
  mkdir -p "$STATE/containerd/certs.d/$r"
  write_file "$STATE/containerd/certs.d/$r/hosts.toml" <<EOF
# $r is served by the local registry.
server = "http://$REGISTRY_ADDR"

[host."http://$REGISTRY_ADDR"]
  capabilities = ["pull", "resolve"]
EOF
done
write_file "$STATE/etc/containerd.toml" <<EOF
# containerd configuration of the local cluster (written by hack/cluster/up.sh).
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$STATE/run/containerd.sock"

[ttrpc]
  address = "$STATE/run/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  disable_apparmor = true
  enable_selinux = false
  # Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE, which hosts
  # without it (some VMs drop it from every bounding set) make runc fail every
  # sandbox with it; this keeps every container's oom_score_adj at or above
  # containerd's own.
  restrict_oom_score_adj = true
  # Network namespaces are bind-mounted under the state directory, not /run/netns.
  netns_mounts_under_state_dir = true

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd/certs.d"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$STATE/run/runc"
        SystemdCgroup = false
EOF
start containerd /usr/bin/containerd --config "$STATE/etc/containerd.toml"
wait_for 30 "containerd" ctr --address "$STATE/run/containerd.sock" version

# ---------------------------------------------------------------------------
step "kubelet: node registered and Ready"
mkdir -p "$STATE/kubelet" "$STATE/pod-logs"
write_file "$STATE/etc/kubelet.yaml" <<EOF
# kubelet configuration of the local cluster (written by hack/cluster/up.sh).
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# Kubernetes 1.35 and later refuse cgroup v1 hosts unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$STATE/run/containerd.sock
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
rotateCertificates: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: /etc/resolv.conf
podLogsDir: $STATE/pod-logs
serializeImagePulls: false
# A small machine: evict only when really short, never collect images.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
start kubelet "$K8S_BIN/kubelet" --config="$STATE/etc/kubelet.yaml" \
  --kubeconfig="$STATE/kubeconfig/kubelet.kubeconfig" --root-dir="$STATE/kubelet" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
pod_cidr() { kc get node "$NODE_NAME" -o jsonpath='{.spec.podCIDR}' 2>/dev/null; }
has_pod_cidr() { [ -n "$(pod_cidr)" ]; }
wait_for 120 "node $NODE_NAME and its pod CIDR" has_pod_cidr
POD_CIDR=$(pod_cidr)
write_file "$STATE/cni/net.d/10-local-bridge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "local-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$STATE/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
wait_for 120 "node $NODE_NAME Ready" kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s

# ---------------------------------------------------------------------------
step "kube-proxy"
write_file "$STATE/etc/kube-proxy.yaml" <<EOF
# kube-proxy configuration of the local cluster (written by hack/cluster/up.sh).
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $STATE/kubeconfig/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
# nftables mode keeps every rule in the tables "ip kube-proxy" and "ip6 kube-proxy".
mode: nftables
clusterCIDR: $CLUSTER_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the host's conntrack settings alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
EOF
start kube-proxy "$K8S_BIN/kube-proxy" --config="$STATE/etc/kube-proxy.yaml"
wait_for 60 "kube-proxy healthz" curl -sf http://127.0.0.1:10256/healthz

# ---------------------------------------------------------------------------
step "CoreDNS"
wait_for 60 "the default ServiceAccount" kc get serviceaccount default -n default
sed -e "s|@COREDNS_IMAGE@|$(pinned "$COREDNS_IMAGE" coredns)|g" -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|g" -e "s|@CLUSTER_DOMAIN@|$CLUSTER_DOMAIN|g" \
  "$ROOT/hack/coredns/coredns.yaml" | kc apply --server-side --force-conflicts -f - >/dev/null
kc -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null

# ---------------------------------------------------------------------------
step "storage: default StorageClass local (host paths on $NODE_NAME)"
mkdir -p "$STATE/volumes"
start provisioner "$TOOLS/provisioner" --kubeconfig="$ADMIN_KUBECONFIG" --dir="$STATE/volumes" --node="$NODE_NAME"
wait_for 60 "the StorageClass local" kc get storageclass local

# ---------------------------------------------------------------------------
if [ "$KWOK_NODES" != 0 ]; then
  step "kwok: $KWOK_NODES simulated nodes"
  WITH_LEASE=true kwok_stages "${KWOK_POD_SECONDS:-2}000" | write_file "$STATE/etc/kwok.yaml"
  start kwok "$BIN/kwok" --config="$STATE/etc/kwok.yaml" --kubeconfig="$STATE/kubeconfig/kwok.kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 --server-address=127.0.0.1:10247 --cidr=10.245.0.0/16 --node-ip=10.245.0.1
  for i in $(seq 1 "$KWOK_NODES"); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
spec:
  taints:
  - {key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}
EOF
  done | kc apply --server-side -f - >/dev/null
  for i in $(seq 1 "$KWOK_NODES"); do
    wait_for 120 "kwok-node-$i Ready" kc wait --for=condition=Ready "node/kwok-node-$i" --timeout=1s
  done
fi

steps_done
kc get nodes -o wide >&2
log "cluster is up; export KUBECONFIG=$ADMIN_KUBECONFIG"
