#!/usr/bin/env bash
# Generates the parts of the Helm chart in dist/chart that come from config/,
# so that they never drift from what `kustomize build config/default` installs:
#   dist/chart/templates/generated/crds/<name>.yaml
#                                           the CRDs of config/crd, behind
#                                           crds.enabled and with crds.keep
#                                           (hack/helm-crd), so that helm upgrade
#                                           upgrades them
#   dist/chart/templates/generated/*.yaml   RBAC, Services, cert-manager objects
#                                           and webhook configurations of
#                                           config/default, and its optional
#                                           ServiceMonitor, PrometheusRule and
#                                           NetworkPolicies, with the namespace,
#                                           labels and switches templated
# The Deployment, the helpers and the values are written by hand in dist/chart.
#
# usage: hack/helm-chart.sh [--check]   (--check: fail if the chart is stale)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUSTOMIZE=${KUSTOMIZE:-$ROOT/bin/kustomize}
CHART=$ROOT/dist/chart
NAMESPACE=jobkeeper-system

check=false
[ "${1:-}" = --check ] && check=true

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/generated/crds"

# split_docs DIR: writes every document of stdin to DIR/<n>.yaml, in order.
split_docs() {
  awk -v dir="$1" '
    function flush() { if (doc != "") { n++; f = sprintf("%s/%03d.yaml", dir, n); printf "%s", doc > f; close(f) } doc = "" }
    /^---$/ { flush(); next }
    { doc = doc $0 "\n" }
    END { flush() }'
}

# kind_of FILE, name_of FILE: the kind and metadata.name of a document.
kind_of() { awk '/^kind: /{print $2; exit}' "$1"; }
name_of() { awk '/^metadata:/{m=1; next} m && /^  name: /{print $2; exit}' "$1"; }

# CRDs: templates, not the crds/ directory, which Helm installs once and never
# upgrades.
mkdir -p "$out/crds.split"
"$KUSTOMIZE" build "$ROOT/config/crd" | split_docs "$out/crds.split"
(cd "$ROOT" && go run ./hack/helm-crd "$out/generated/crds" "$out"/crds.split/*.yaml)

# condition KIND NAME: the values that switch an object on.
condition() {
  case "$1/$2" in
    NetworkPolicy/jobkeeper-allow-metrics-traffic) echo 'and .Values.networkPolicy.enabled .Values.metrics.enable' ;;
    NetworkPolicy/jobkeeper-allow-webhook-traffic) echo 'and .Values.networkPolicy.enabled .Values.webhook.enable' ;;
    NetworkPolicy/jobkeeper-allow-results-traffic) echo 'and .Values.networkPolicy.enabled .Values.resultsAPI.enable' ;;
    NetworkPolicy/*) echo '.Values.networkPolicy.enabled' ;;
    ServiceMonitor/* | */jobkeeper-metrics-scraper*) echo 'and .Values.metrics.enable .Values.prometheus.serviceMonitor.enabled' ;;
    PrometheusRule/*) echo '.Values.prometheus.rule.enabled' ;;
    */jobkeeper-metrics-certs) echo 'and .Values.certManager.enable .Values.metrics.enable' ;;
    */jobkeeper-serving-cert) echo 'and .Values.certManager.enable .Values.webhook.enable' ;;
    */jobkeeper-results-cert | */jobkeeper-results-ca | */jobkeeper-results-ca-issuer)
      echo 'and .Values.certManager.enable .Values.resultsAPI.enable' ;;
    Certificate/* | Issuer/*) echo '.Values.certManager.enable' ;;
    *WebhookConfiguration/* | Service/jobkeeper-webhook-service) echo '.Values.webhook.enable' ;;
    Service/jobkeeper-results) echo '.Values.resultsAPI.enable' ;;
    */jobkeeper-controller-manager-metrics-service | */jobkeeper-metrics-*) echo '.Values.metrics.enable' ;;
    */jobkeeper-leader-election-*) echo '.Values.leaderElection.enable' ;;
    ClusterRole/*-admin-role | ClusterRole/*-editor-role | ClusterRole/*-viewer-role) echo '.Values.rbac.userRoles' ;;
    ServiceAccount/jobkeeper-controller-manager) echo '.Values.serviceAccount.create' ;;
    *) echo true ;;
  esac
}

# file KIND: the generated template an object goes to.
file() {
  case "$1" in
    ServiceAccount | Role | ClusterRole | RoleBinding | ClusterRoleBinding) echo rbac.yaml ;;
    Service) echo services.yaml ;;
    Certificate | Issuer) echo certmanager.yaml ;;
    *WebhookConfiguration) echo webhooks.yaml ;;
    ServiceMonitor | PrometheusRule | Secret) echo monitoring.yaml ;;
    NetworkPolicy) echo networkpolicies.yaml ;;
    *) echo "unexpected kind $1 in config/default" >&2; exit 1 ;;
  esac
}

# config/default with its optional components switched on, as a user does by
# uncommenting their lines; the chart switches them with values instead.
cp -r "$ROOT/config" "$out/config"
sed -i -e 's|^#- \.\./prometheus$|- ../prometheus|' -e 's|^#- \.\./network-policy$|- ../network-policy|' \
  "$out/config/default/kustomization.yaml"
for c in prometheus network-policy; do
  grep -q "^- \.\./$c\$" "$out/config/default/kustomization.yaml" ||
    { echo "config/default/kustomization.yaml has no line #- ../$c to switch on" >&2; exit 1; }
done

mkdir -p "$out/default.split"
"$KUSTOMIZE" build "$out/config/default" | split_docs "$out/default.split"
for f in "$out"/default.split/*.yaml; do
  kind=$(kind_of "$f") name=$(name_of "$f")
  case "$kind" in
    Namespace | CustomResourceDefinition | Deployment | PersistentVolumeClaim) continue ;; # above, templates/deployment.yaml and templates/reports-pvc.yaml
  esac
  if [ "$kind" = PrometheusRule ]; then
    # The alerts' own templates ({{ $labels.name }}) reach Prometheus verbatim.
    # (The whole document at once: a folded line may split one of them.)
    perl -0777 -pi -e 's/\{\{([^}]*)\}\}/{{`{{$1}}`}}/g' "$f"
  elif grep -q '{{' "$f"; then
    echo "$kind $name contains {{, which Helm would read as a template" >&2
    exit 1
  fi
  # Extra labels a Prometheus selects ServiceMonitors and rules by.
  labels=()
  case "$kind" in
    ServiceMonitor | PrometheusRule)
      v=serviceMonitor; [ "$kind" = PrometheusRule ] && v=rule
      labels=(-e "s|^    {{- include \"jobkeeper.labels\" . \\| nindent 4 }}\$|&\\n    {{- with .Values.prometheus.$v.labels }}\\n    {{- toYaml . \\| nindent 4 }}\\n    {{- end }}|")
      ;;
  esac
  # The manager's ServiceAccount: its name (in the bindings' subjects too) and
  # annotations come from serviceAccount.*.
  sa=()
  case "$kind" in
    ServiceAccount | RoleBinding | ClusterRoleBinding)
      sa=(-e 's|^\(  *\)name: jobkeeper-controller-manager$|\1name: {{ include "jobkeeper.serviceAccountName" . }}|')
      [ "$kind/$name" = ServiceAccount/jobkeeper-controller-manager ] &&
        sa+=(-e 's|^metadata:$|&\n  {{- with .Values.serviceAccount.annotations }}\n  annotations:\n    {{- toYaml . \| nindent 4 }}\n  {{- end }}|')
      ;;
  esac
  target=$out/generated/$(file "$kind")
  [ -f "$target" ] || echo "# Generated by hack/helm-chart.sh from config/default; do not edit." >"$target"
  {
    echo "{{- if $(condition "$kind" "$name") }}"
    echo "---"
    sed -e "s|^\(  *\)namespace: $NAMESPACE\$|\1namespace: {{ .Release.Namespace }}|" \
      -e "s|\.$NAMESPACE\.svc|.{{ .Release.Namespace }}.svc|" \
      -e "s|^    cert-manager.io/inject-ca-from: $NAMESPACE/\(.*\)\$|    {{- if .Values.certManager.enable }}\n    cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/\1\n    {{- end }}|" \
      -e 's|^    app.kubernetes.io/managed-by: kustomize$|    {{- include "jobkeeper.labels" . \| nindent 4 }}|' \
      "${labels[@]}" "${sa[@]}" "$f"
    echo "{{- end }}"
  } >>"$target"
done
if grep -rn "$NAMESPACE\|kustomize" "$out/generated"; then
  echo "the templates above still name $NAMESPACE or kustomize" >&2
  exit 1
fi

if $check; then
  # (The CRDs are one line of JSON each: name the files that differ.)
  [ ! -e "$CHART/crds" ] && diff -rq "$out/generated/crds" "$CHART/templates/generated/crds" &&
    diff -r -x crds "$out/generated" "$CHART/templates/generated" ||
    { echo "dist/chart is stale: run make helm-chart" >&2; exit 1; }
  exit 0
fi
rm -rf "$CHART/crds" "$CHART/templates/generated"
mkdir -p "$CHART/templates"
cp -r "$out/generated" "$CHART/templates/generated"
echo "dist/chart: $(ls "$CHART/templates/generated/crds" | wc -l) CRDs, $(ls "$CHART/templates/generated" | grep -c '\.yaml$') generated templates"
