{{- define "serving.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: approval-bot
{{- end }}

{{- define "serving.pipelinesNamespace" -}}
{{- default .Release.Namespace .Values.pipelines.namespace }}
{{- end }}

{{/* Refuse values that cannot work, naming the value to set. */}}
{{- define "serving.validate" -}}
{{- range $path, $value := dict
    "storage.endpoint" .Values.storage.endpoint
    "storage.readOnly.accessKeyId" .Values.storage.readOnly.accessKeyId
    "storage.readOnly.secretAccessKey" .Values.storage.readOnly.secretAccessKey }}
{{- if not $value }}
{{- fail (printf "approval-bot-serving: %s is required: KServe's storage initializer downloads the model from MinIO with it (README \"Deploy on Kubernetes\")" $path) }}
{{- end }}
{{- end }}
{{- if contains "://" .Values.storage.endpoint }}
{{- fail (printf "approval-bot-serving: storage.endpoint is host:port without a scheme (set storage.useHttps instead), got %q" .Values.storage.endpoint) }}
{{- end }}
{{- if .Values.pipelines.secret.create }}
{{- range $path, $value := dict
    "pipelines.secret.mlflowTrackingUri" .Values.pipelines.secret.mlflowTrackingUri
    "bot.url" .Values.bot.url
    "bot.apiToken" .Values.bot.apiToken }}
{{- if not $value }}
{{- fail (printf "approval-bot-serving: %s is required for the pipelines' Secret mlops-pipeline-secrets (or set pipelines.secret.create=false and create that Secret yourself)" $path) }}
{{- end }}
{{- end }}
{{- if and .Values.pipelines.secret.readWrite.accessKeyId (eq .Values.pipelines.secret.readWrite.accessKeyId .Values.storage.readOnly.accessKeyId) }}
{{- fail "approval-bot-serving: storage.readOnly.accessKeyId is the pipelines' read-write key: give KServe its own read-only MinIO user (README \"Deploy on Kubernetes\")" }}
{{- end }}
{{- end }}
{{- end }}
