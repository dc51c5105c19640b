{{/*
The chat channels: what each one's values under channels.<name> become. A channel is one
define here, "approval-bot.channel.<name>", given its values and returning YAML with:
  env:          settings as environment variables (empty ones are left out)
  secrets:      Secret key → value (the key is read by the pod; empty values are left out)
  chat:         true when it is set up to talk to a chat platform (publicUrl is then required)
  callbacks:    the paths the platform calls, which the ingress exposes
  singleReplica: {what, why} when only one pod may run it at a time ({} = any number)
Adding a channel: its block in values.yaml and values.schema.json, and its define below
(docs/architecture.md, "Adding a channel").
*/}}

{{- define "approval-bot.channel.console" -}}
env:
  APPROVAL_BOT_CONSOLE: {{ .enabled | toString | quote }}
secrets: {}
chat: false
callbacks: []
singleReplica: {}
{{- end }}

{{- define "approval-bot.channel.slack" -}}
env:
  APPROVAL_BOT_SLACK_CHANNEL: {{ .channel | quote }}
secrets:
  SLACK_BOT_TOKEN: {{ .botToken | quote }}
  SLACK_SIGNING_SECRET: {{ .signingSecret | quote }}
  SLACK_APP_TOKEN: {{ .appToken | quote }}
chat: {{ or .channel .botToken .signingSecret .appToken | toString | ne "" }}
callbacks: [/slack/events]
singleReplica: {}
{{- end }}

{{- define "approval-bot.channel.telegram" -}}
env:
  APPROVAL_BOT_TELEGRAM_CHAT_ID: {{ .chatId | toString | quote }}
  APPROVAL_BOT_TELEGRAM_MODE: {{ .mode | quote }}
secrets:
  TELEGRAM_BOT_TOKEN: {{ .botToken | quote }}
  APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET: {{ .webhookSecret | quote }}
chat: {{ or (.chatId | toString) .botToken .webhookSecret | ne "" }}
callbacks: [/telegram/webhook]
{{- /* Polling scales too: the replicas take turns by a lease in the database, one polling
  getUpdates and the others standing by (README.md, "Telegram"), so a rolling update's new
  pod waits for the old one's lease instead of meeting Telegram's 409 Conflict. */}}
singleReplica: {}
{{- end }}

{{/* Every channel, rendered: name → the YAML above, as a dict. */}}
{{- define "approval-bot.channels" -}}
{{- $out := dict }}
{{- range $name, $values := .Values.channels }}
{{- $_ := set $out $name (include (printf "approval-bot.channel.%s" $name) $values | fromYaml) }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* A channel that allows one pod only ({} = any number), as {what, why}: the first. */}}
{{- define "approval-bot.singleReplica" -}}
{{- $found := dict }}
{{- range $name, $channel := include "approval-bot.channels" . | fromYaml }}
{{- if and $channel.singleReplica (not $found) }}{{ $found = $channel.singleReplica }}{{ end }}
{{- end }}
{{- toYaml $found }}
{{- end }}

{{/* Values of chart versions before channels.<name>: refused, naming where each went. */}}
{{- define "approval-bot.movedValues" -}}
{{- $moved := list }}
{{- range $old, $new := dict "slack" "channels.slack" "telegram" "channels.telegram" "console" "channels.console.enabled" }}
{{- if hasKey $.Values $old }}{{ $moved = append $moved (printf "%s → %s" $old $new) }}{{ end }}
{{- end }}
{{- range $old, $new := dict "slackBotToken" "botToken" "slackSigningSecret" "signingSecret" "slackAppToken" "appToken" "telegramBotToken" "botToken" "telegramWebhookSecret" "webhookSecret" }}
{{- if hasKey $.Values.secrets $old }}{{ $moved = append $moved (printf "secrets.%s → channels.%s.%s" $old (ternary "slack" "telegram" (hasPrefix "slack" $old)) $new) }}{{ end }}
{{- end }}
{{- if $moved }}
{{- fail (printf "approval-bot: the chat channels' values moved under channels.<name>: %s (README.md, \"Deploy on Kubernetes\")" (join "; " $moved)) }}
{{- end }}
{{- end }}

{{/* The paths the chat platforms call: what the ingress exposes. */}}
{{- define "approval-bot.callbacks" -}}
{{- $paths := list }}
{{- range $name, $channel := include "approval-bot.channels" . | fromYaml }}
{{- $paths = concat $paths $channel.callbacks }}
{{- end }}
{{- toYaml $paths }}
{{- end }}
