{{/*
Common labels of every object of the chart. Names are fixed (jobkeeper-...):
the operator finds its results Service and keys by these names.
*/}}
{{- define "jobkeeper.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jobkeeper.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ include "jobkeeper.chart" . }}
{{- end }}

{{/* The operator image. */}}
{{- define "jobkeeper.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
{{- end }}

{{/* The output-persist sidecar image: the operator image unless set. */}}
{{- define "jobkeeper.outputPersistImage" -}}
{{- if .Values.outputPersistImage.repository -}}
{{ .Values.outputPersistImage.repository }}:{{ .Values.outputPersistImage.tag | default .Chart.AppVersion }}
{{- else -}}
{{ include "jobkeeper.image" . }}
{{- end }}
{{- end }}

{{/* The manager's ServiceAccount. */}}
{{- define "jobkeeper.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default "jobkeeper-controller-manager" }}
{{- else -}}
{{ required "serviceAccount.name is required with serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The PersistentVolumeClaim of the NodeJob reports. */}}
{{- define "jobkeeper.reportsClaimName" -}}
{{ .Values.reports.persistence.existingClaim | default "jobkeeper-reports" }}
{{- end }}
