#!/usr/bin/env bash
# Installs the operator on the local cluster the way a user installs it:
# cert-manager first (its CRDs from the cert-manager module, its controller,
# webhook and cainjector built by hack/cert-manager), then
#   kustomize build config/default | kubectl apply --server-side -f -
# with the operator image ($IMG, default jobkeeper:latest) built by images.sh
# and served by the cluster's registry. Waits until the operator's webhook
# configurations carry the CA of their cert-manager Certificate and the
# operator Deployment is available.
#
# usage: hack/cluster/deploy.sh [cert-manager|operator]...   (default: both)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAMESPACE=jobkeeper-system
DEPLOYMENT=jobkeeper-controller-manager
kc get --raw /readyz >/dev/null 2>&1 || die "the local cluster is not up (hack/cluster/up.sh)"

# ca_injected KIND NAME: whether every webhook of the configuration has a caBundle.
ca_injected() {
  local bundles
  bundles=$(kc get "$1" "$2" -o jsonpath='{range .webhooks[*]}{.clientConfig.caBundle}{"\n"}{end}' 2>/dev/null) || return 1
  [ -n "$bundles" ] && ! grep -qx '' <<<"$bundles"
}

deploy_cert_manager() {
  step "cert-manager $CERT_MANAGER_VERSION: images"
  "$ROOT/hack/cluster/images.sh" cert-manager
  step "cert-manager: CRDs and components"
  kc apply --server-side --force-conflicts -f "$(cert_manager_crds)" >/dev/null
  kc wait --for=condition=Established crd/certificates.cert-manager.io crd/issuers.cert-manager.io --timeout=60s >/dev/null
  local c args=()
  for c in controller webhook cainjector; do
    args+=(-e "s|@${c^^}_IMAGE@|$(pinned "$CERT_MANAGER_IMAGE_PREFIX-$c:$CERT_MANAGER_VERSION" "cert-manager-$c")|g")
  done
  sed "${args[@]}" \
    "$ROOT/hack/cert-manager/cert-manager.yaml" | kc apply --server-side --force-conflicts -f - >/dev/null
  local d
  for d in cert-manager cert-manager-cainjector cert-manager-webhook; do
    kc -n cert-manager rollout status "deployment/$d" --timeout=180s >/dev/null
  done
  wait_for 120 "the CA of cert-manager's webhook" ca_injected validatingwebhookconfiguration cert-manager-webhook
  wait_for 60 "the CA of cert-manager's webhook" ca_injected mutatingwebhookconfiguration cert-manager-webhook
}

deploy_operator() {
  step "operator image $IMG"
  "$ROOT/hack/cluster/images.sh" operator
  [ -x "$BIN/kustomize" ] || make -C "$ROOT" kustomize >/dev/null

  step "kustomize build config/default | kubectl apply --server-side"
  local dir=$ROOT/config/default existed=false
  kc -n "$NAMESPACE" get deployment "$DEPLOYMENT" >/dev/null 2>&1 && existed=true
  if [ "$IMG" != jobkeeper:latest ]; then
    # An overlay that only swaps the image, so config/ stays untouched.
    dir=$STATE/deploy
    mkdir -p "$dir"
    cat >"$dir/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(realpath --relative-to="$dir" "$ROOT/config/default")
images:
- name: jobkeeper
  newName: ${IMG%:*}
  newTag: ${IMG##*:}
EOF
  fi
  # The cert-manager webhook may still be warming up its serving certificate.
  local i
  for i in 1 2 3 4 5 6; do
    "$BIN/kustomize" build "$dir" | kc apply --server-side --force-conflicts -f - >"$STATE/logs/deploy-apply.log" 2>&1 && break
    [ "$i" -lt 6 ] || { cat "$STATE/logs/deploy-apply.log" >&2; die "kubectl apply failed"; }
    sleep 5
  done
  # The image tag does not change between builds: restart to pull the new one.
  if $existed; then kc -n "$NAMESPACE" rollout restart "deployment/$DEPLOYMENT" >/dev/null; fi

  step "certificates, CA injection and the operator Deployment"
  kc -n "$NAMESPACE" wait --for=condition=Ready certificate --all --timeout=120s >/dev/null
  local kind
  for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
    wait_for 120 "the CA in the $kind" ca_injected "$kind" "jobkeeper-${kind%%webhookconfiguration}-webhook-configuration"
  done
  kc -n "$NAMESPACE" rollout status "deployment/$DEPLOYMENT" --timeout=300s >/dev/null
  # Pods of an earlier rollout stop serving before they are gone; the API
  # server may still hold a connection to them.
  wait_for 60 "pods of an earlier rollout to terminate" one_operator_pod

  step "admission webhooks answer through the Service"
  wait_for 60 "a server-side dry run of a ReactiveJob" webhook_dry_run
}

one_operator_pod() {
  [ "$(kc -n "$NAMESPACE" get pods -l control-plane=controller-manager -o name | wc -l)" = 1 ]
}

# webhook_dry_run: a valid ReactiveJob passes the operator's mutating and
# validating webhooks (server-side dry run: nothing is stored).
webhook_dry_run() {
  kc create --dry-run=server -f - <<EOF
apiVersion: batch.cs.sap.com/v1alpha1
kind: ReactiveJob
metadata:
  name: webhook-probe
  namespace: default
spec:
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
EOF
}

[ $# -gt 0 ] || set -- cert-manager operator
for what in "$@"; do
  case "$what" in
    cert-manager) deploy_cert_manager ;;
    operator) deploy_operator ;;
    *) die "unknown component $what" ;;
  esac
done
steps_done
kc -n "$NAMESPACE" get deployment,pods -o wide >&2 2>/dev/null || true
