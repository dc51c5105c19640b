{{/* Names and labels (helm create's helpers). */}}
{{- define "approval-bot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "approval-bot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "approval-bot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "approval-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "approval-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "approval-bot.labels" -}}
helm.sh/chart: {{ include "approval-bot.chart" . }}
{{ include "approval-bot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "approval-bot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "approval-bot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "approval-bot.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The pipelines' image (the Dockerfile's `pipelines` target), beside the bot's by default. */}}
{{- define "approval-bot.pipelinesImage" -}}
{{- default (printf "%s-pipelines:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag)) .Values.pipelines.image }}
{{- end }}

{{/*
The image the bot's pod runs: the bot's own, or the pipelines' when the `local` launcher runs
the promotion pipeline inside the pod (it needs MLflow and scikit-learn, which the bot's image
leaves out; without mlflow.trackingUri that launcher is off).
*/}}
{{- define "approval-bot.serveImage" -}}
{{- if and (eq .Values.kfp.launcher "local") .Values.mlflow.trackingUri }}
{{- include "approval-bot.pipelinesImage" . }}
{{- else }}
{{- include "approval-bot.image" . }}
{{- end }}
{{- end }}

{{/* Labels of the migration Job's pod: its own, so that no selector of the chart picks it. */}}
{{- define "approval-bot.migrateLabels" -}}
app.kubernetes.io/name: {{ include "approval-bot.name" . }}-migrate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: migrate
app.kubernetes.io/part-of: {{ include "approval-bot.name" . }}
{{- end }}

{{/* The RoleBinding in the KFP profile namespace (multi-user KFP), when it is wanted. */}}
{{- define "approval-bot.kfpRoleBinding" -}}
{{- if and (eq .Values.kfp.launcher "kfp") .Values.kfp.namespace .Values.kfp.rbac.create }}true{{ end }}
{{- end }}

{{/* The Secret the pods read: the user's existingSecret or the chart's. */}}
{{- define "approval-bot.secretName" -}}
{{- default (include "approval-bot.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "approval-bot.sqlite" -}}
{{- if eq .Values.database.type "sqlite" }}true{{ end }}
{{- end }}

{{/*
Refuse values that cannot work, with the value to set. Included by the Deployment, so every
render runs it.
*/}}
{{- define "approval-bot.validate" -}}
{{- include "approval-bot.movedValues" . }}
{{- $chat := false }}
{{- range $name, $channel := include "approval-bot.channels" . | fromYaml }}
{{- if $channel.chat }}{{ $chat = true }}{{ end }}
{{- end }}
{{- if and (not .Values.publicUrl) (or $chat .Values.ingress.enabled) }}
{{- fail "approval-bot: publicUrl is required with Slack, Telegram or the ingress: set it to the URL people and the chat platforms reach the bot at, e.g. --set publicUrl=https://approval-bot.example.com" }}
{{- end }}
{{- if and (eq .Values.database.type "postgresql") (not .Values.existingSecret) (not .Values.secrets.databaseUrl) }}
{{- fail "approval-bot: secrets.databaseUrl is required with database.type=postgresql: set it to postgresql://user:password@host:5432/db, or existingSecret to a Secret with the key APPROVAL_BOT_DATABASE_URL" }}
{{- end }}
{{- if and (include "approval-bot.sqlite" .) (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "approval-bot: more than one replica on SQLite is refused (replicaCount=%d): one SQLite file cannot be shared by several pods; set database.type=postgresql with secrets.databaseUrl, or replicaCount=1" (int .Values.replicaCount)) }}
{{- end }}
{{- $single := include "approval-bot.singleReplica" . | fromYaml }}
{{- if and $single (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "approval-bot: %s with more than one replica is refused (replicaCount=%d): %s, or replicaCount=1" $single.what (int .Values.replicaCount) $single.why) }}
{{- end }}
{{- if eq .Values.kfp.launcher "kfp" }}
{{- if not .Values.kfp.host }}
{{- fail "approval-bot: kfp.host is required with kfp.launcher=kfp: set it to the KFP API, e.g. --set kfp.host=http://ml-pipeline.kubeflow.svc:8888" }}
{{- end }}
{{- if and (not .Values.existingSecret) (not .Values.secrets.apiToken) }}
{{- fail "approval-bot: secrets.apiToken is required with kfp.launcher=kfp (the pipelines authenticate with it): set it, e.g. --set secrets.apiToken=$(openssl rand -hex 32), or existingSecret to a Secret with the key APPROVAL_BOT_API_TOKEN" }}
{{- end }}
{{- if and (not .Values.promotion.namespace) (not (has "namespace" .Values.promotion.requestOverrides)) }}
{{- fail "approval-bot: promotion.namespace is required with kfp.launcher=kfp: set it to the namespace of the InferenceService the promotion patches (where charts/approval-bot-serving is installed), e.g. --set promotion.namespace=models" }}
{{- end }}
{{- end }}
{{- include "approval-bot.validateCanary" . }}
{{- if and .Values.watch.enabled (not .Values.watch.models) }}
{{- fail "approval-bot: watch.models is required with watch.enabled: the models whose serving to compare with MLflow's @champion, e.g. --set watch.models={iris-classifier} (docs/watch.md)" }}
{{- end }}
{{- if and .Values.watch.enabled (not .Values.mlflow.trackingUri) }}
{{- fail "approval-bot: mlflow.trackingUri is required with watch.enabled: the watch reads @champion from MLflow (docs/watch.md)" }}
{{- end }}
{{- end }}

{{/*
A canary is judged on Prometheus (docs/kserve.md, "Canary"): promotion.canary.steps, or a
policy in `config` with a `canary`, need prometheus.url, as the bot refuses to start without
APPROVAL_BOT_PROMETHEUS_URL. The steps rise strictly to 100, as the bot checks them.
*/}}
{{- define "approval-bot.validateCanary" -}}
{{- $steps := .Values.promotion.canary.steps }}
{{- if $steps }}
{{- $previous := 0 }}
{{- range $steps }}
{{- if le (int .) $previous }}
{{- fail (printf "approval-bot: promotion.canary.steps %v must rise strictly to 100, e.g. [10, 25, 50, 100] (docs/kserve.md, \"Canary\")" $steps) }}
{{- end }}
{{- $previous = int . }}
{{- end }}
{{- if ne $previous 100 }}
{{- fail (printf "approval-bot: promotion.canary.steps %v must end at 100 (the last step moves all the traffic), e.g. [10, 25, 50, 100] (docs/kserve.md, \"Canary\")" $steps) }}
{{- end }}
{{- if not .Values.prometheus.url }}
{{- fail "approval-bot: prometheus.url is required with promotion.canary.steps: a canary is judged on Prometheus, e.g. --set prometheus.url=http://prometheus-operated.monitoring:9090 (docs/kserve.md, \"Canary\")" }}
{{- end }}
{{- end }}
{{- if not .Values.prometheus.url }}
{{- range (.Values.config | default dict).policies | default list }}
{{- if and (kindIs "map" .) (hasKey . "canary") }}
{{- fail (printf "approval-bot: prometheus.url is required: the policy for %q in config asks for a canary, which is judged on Prometheus, e.g. --set prometheus.url=http://prometheus-operated.monitoring:9090 (docs/kserve.md, \"Canary\")" (toString .model)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The InferenceServices the serving watch reads, by namespace (YAML: namespace -> [names]): each
watch.models entry is `model` (the promotion target: promotion.inferenceService in
promotion.namespace, else the release's namespace, as the bot reads it) or
`model=namespace/name` (docs/watch.md).
*/}}
{{- define "approval-bot.watchedServices" -}}
{{- $byNamespace := dict }}
{{- range .Values.watch.models }}
{{- $where := printf "%s/%s" (default $.Release.Namespace $.Values.promotion.namespace) $.Values.promotion.inferenceService }}
{{- if contains "=" . }}{{ $where = splitList "=" . | last | trim }}{{ end }}
{{- $namespace := splitList "/" $where | first }}
{{- $names := get $byNamespace $namespace | default (list) }}
{{- $_ := set $byNamespace $namespace (append $names (splitList "/" $where | last) | uniq) }}
{{- end }}
{{- toYaml $byNamespace }}
{{- end }}

{{- define "approval-bot.ingressHost" -}}
{{- default (urlParse .Values.publicUrl).host .Values.ingress.host | splitList ":" | first }}
{{- end }}

{{/* Settings of the bot as environment variables (non-secret ones inline, secrets by key). */}}
{{- define "approval-bot.env" -}}
# The root filesystem is read-only: libraries that write under $HOME (MLflow, matplotlib) get /tmp.
- name: HOME
  value: /tmp
{{- if .Values.publicUrl }}
- name: APPROVAL_BOT_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
{{- end }}
- name: APPROVAL_BOT_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: APPROVAL_BOT_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: APPROVAL_BOT_LAUNCHER
  value: {{ .Values.kfp.launcher | quote }}
- name: APPROVAL_BOT_PIPELINES_IMAGE
  value: {{ include "approval-bot.pipelinesImage" . | quote }}
{{- if .Values.config }}
- name: APPROVAL_BOT_CONFIG
  value: /etc/approval-bot/config.yaml
{{- end }}
{{- if include "approval-bot.sqlite" . }}
- name: APPROVAL_BOT_DATABASE_URL
  value: sqlite:////app/var/data/approval-bot.db
{{- end }}
{{- range $name, $value := dict
    "MLFLOW_TRACKING_URI" .Values.mlflow.trackingUri
    "APPROVAL_BOT_AUDIT_EXPERIMENT" .Values.mlflow.auditExperiment
    "KFP_HOST" .Values.kfp.host
    "APPROVAL_BOT_KFP_PIPELINE" .Values.kfp.pipeline
    "APPROVAL_BOT_KFP_PIPELINE_VERSION" .Values.kfp.pipelineVersion
    "APPROVAL_BOT_KFP_EXPERIMENT" .Values.kfp.experiment
    "APPROVAL_BOT_KFP_NAMESPACE" .Values.kfp.namespace
    "APPROVAL_BOT_KFP_SERVICE_ACCOUNT" .Values.kfp.serviceAccount
    "APPROVAL_BOT_KFP_TIMEOUT_SECONDS" (toString .Values.kfp.timeoutSeconds)
    "APPROVAL_BOT_PROMOTION_NAMESPACE" .Values.promotion.namespace
    "APPROVAL_BOT_PROMOTION_INFERENCE_SERVICE" .Values.promotion.inferenceService
    "APPROVAL_BOT_PROMOTION_STORAGE_URI_PREFIX" .Values.promotion.storageUriPrefix
    "APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES" (join "," .Values.promotion.requestOverrides)
    "APPROVAL_BOT_PROMOTION_CANARY_STEPS" (join "," .Values.promotion.canary.steps)
    "APPROVAL_BOT_PROMOTION_CANARY_DWELL_SECONDS" (ternary (toString .Values.promotion.canary.dwellSeconds) "" (not (empty .Values.promotion.canary.steps)))
    "APPROVAL_BOT_PROMOTION_CANARY_CHECKS" (ternary (toJson .Values.promotion.canary.checks) "" (not (empty .Values.promotion.canary.checks)))
    "APPROVAL_BOT_PROMETHEUS_URL" .Values.prometheus.url
    "APPROVAL_BOT_WATCH" (ternary "on" "" .Values.watch.enabled)
    "APPROVAL_BOT_WATCH_SECONDS" (ternary (toString .Values.watch.intervalSeconds) "" .Values.watch.enabled)
    "APPROVAL_BOT_WATCH_MODELS" (ternary (join "," .Values.watch.models) "" .Values.watch.enabled) }}
{{- if $value }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- range $name, $channel := include "approval-bot.channels" . | fromYaml }}
{{- range $key, $value := $channel.env }}
{{- if $value }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.kfp.serviceAccountToken.enabled }}
- name: KF_PIPELINES_SA_TOKEN_PATH
  value: /var/run/secrets/kubeflow/pipelines/token
{{- end }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- $secret := include "approval-bot.secretName" . }}
{{- range $key := include "approval-bot.secretKeys" . | fromYamlArray }}
{{- if or (ne $key "APPROVAL_BOT_DATABASE_URL") (not (include "approval-bot.sqlite" $)) }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      {{- if ne $key "APPROVAL_BOT_DATABASE_URL" }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Every key of the bot's Secret, and the value each takes from `secrets`. */}}
{{- define "approval-bot.secretKeys" -}}
- APPROVAL_BOT_DATABASE_URL
- APPROVAL_BOT_API_TOKEN
- MLFLOW_TRACKING_USERNAME
- MLFLOW_TRACKING_PASSWORD
- APPROVAL_BOT_KFP_TOKEN
- APPROVAL_BOT_AUDIT_KEY
- APPROVAL_BOT_AUDIT_VERIFY_KEYS
{{- range $name, $channel := include "approval-bot.channels" . | fromYaml }}
{{- range $key, $_ := $channel.secrets }}
- {{ $key }}
{{- end }}
{{- end }}
{{- end }}

{{- define "approval-bot.secretValues" -}}
APPROVAL_BOT_DATABASE_URL: {{ .Values.secrets.databaseUrl | quote }}
APPROVAL_BOT_API_TOKEN: {{ .Values.secrets.apiToken | quote }}
MLFLOW_TRACKING_USERNAME: {{ .Values.secrets.mlflowTrackingUsername | quote }}
MLFLOW_TRACKING_PASSWORD: {{ .Values.secrets.mlflowTrackingPassword | quote }}
APPROVAL_BOT_KFP_TOKEN: {{ .Values.secrets.kfpToken | quote }}
APPROVAL_BOT_AUDIT_KEY: {{ .Values.secrets.auditKey | quote }}
APPROVAL_BOT_AUDIT_VERIFY_KEYS: {{ .Values.secrets.auditVerifyKeys | quote }}
{{- range $name, $channel := include "approval-bot.channels" . | fromYaml }}
{{- range $key, $value := $channel.secrets }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the Deployment and the migration Job. */}}
{{- define "approval-bot.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
