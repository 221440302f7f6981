{{/*
Names and labels.
*/}}
{{- define "splunk-mcp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "splunk-mcp.fullname" -}}
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

{{- define "splunk-mcp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "splunk-mcp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "splunk-mcp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "splunk-mcp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "splunk-mcp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "splunk-mcp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "splunk-mcp.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
What the settings ask of the deployment.
*/}}
{{- define "splunk-mcp.authMode" -}}
{{- (.Values.config.auth | default dict).mode | default "none" }}
{{- end }}

{{- define "splunk-mcp.credentials" -}}
{{- (.Values.config.splunk | default dict).credentials | default "service" }}
{{- end }}

{{/* "true" when Redis is configured. */}}
{{- define "splunk-mcp.redis" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret }}true{{ end }}
{{- end }}

{{/* The name of the Secret the secret files come from. */}}
{{- define "splunk-mcp.secretName" -}}
{{- default (include "splunk-mcp.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The secret files the settings need, as a list of dicts: the value name under `secrets`, the
environment variable naming the file, and the file name.
*/}}
{{- define "splunk-mcp.secretFiles" -}}
{{- $mode := include "splunk-mcp.authMode" . }}
{{- $credentials := include "splunk-mcp.credentials" . }}
{{- $files := list }}
{{- if has $mode (list "proxy" "introspect") }}
{{- $files = append $files (dict "value" "idpClientSecret" "env" "MCP_OAUTH_CLIENT_SECRET_FILE") }}
{{- end }}
{{- if eq $mode "proxy" }}
{{- $files = append $files (dict "value" "proxyEncryptionKey" "env" "MCP_PROXY_ENCRYPTION_KEY_FILE") }}
{{- end }}
{{- if has $credentials (list "service" "mirror") }}
{{- if (.Values.config.splunk | default dict).username }}
{{- $files = append $files (dict "value" "splunkPassword" "env" "SPLUNK_PASSWORD_FILE") }}
{{- else }}
{{- $files = append $files (dict "value" "splunkToken" "env" "SPLUNK_TOKEN_FILE") }}
{{- end }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/*
The settings file's contents: `config`, with `server.base_url` taken from the ingress when unset.
*/}}
{{- define "splunk-mcp.config" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- $server := $config.server | default dict }}
{{- if and (not $server.base_url) .Values.ingress.enabled }}
{{- $scheme := ternary "https" "http" .Values.ingress.tls.enabled }}
{{- $_ := set $server "base_url" (printf "%s://%s" $scheme .Values.ingress.host) }}
{{- end }}
{{- $_ := set $config "server" $server }}
{{- toJson $config }}
{{- end }}

{{/*
TOML writer: a table's keys with plain values and lists first, then its subtables, each under
its dotted header. Empty strings and nulls are left out. Numbers come from YAML as floats;
whole ones are written as integers, which is what the settings take.
*/}}
{{- define "splunk-mcp.toml.table" -}}
{{- $path := .path }}
{{- $table := .table }}
{{- range $key := keys $table | sortAlpha }}
{{- $value := index $table $key }}
{{- if and (not (kindIs "map" $value)) (not (kindIs "invalid" $value)) (not (and (kindIs "string" $value) (eq $value ""))) }}
{{ include "splunk-mcp.toml.key" $key }} = {{ include "splunk-mcp.toml.value" (dict "value" $value "key" $key) }}
{{- end }}
{{- end }}
{{- range $key := keys $table | sortAlpha }}
{{- $value := index $table $key }}
{{- if kindIs "map" $value }}
{{- $sub := append $path $key }}
{{- $header := list }}
{{- range $sub }}
{{- $header = append $header (include "splunk-mcp.toml.key" .) }}
{{- end }}

[{{ join "." $header }}]
{{- include "splunk-mcp.toml.table" (dict "path" $sub "table" $value) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "splunk-mcp.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{- define "splunk-mcp.toml.value" -}}
{{- $value := .value }}
{{- if kindIs "string" $value }}{{ toJson $value }}
{{- else if kindIs "bool" $value }}{{ ternary "true" "false" $value }}
{{- else if or (kindIs "float64" $value) (kindIs "float32" $value) }}
{{- if eq (float64 (int64 $value)) (float64 $value) }}{{ int64 $value }}{{ else }}{{ $value }}{{ end }}
{{- else if or (kindIs "int" $value) (kindIs "int64" $value) }}{{ $value }}
{{- else if kindIs "slice" $value }}
{{- $items := list }}
{{- range $value }}
{{- $items = append $items (include "splunk-mcp.toml.value" (dict "value" . "key" $.key)) }}
{{- end }}[{{ join ", " $items }}]
{{- else }}
{{- fail (printf "config: %s is a %s, which the settings file cannot hold" .key (kindOf $value)) }}
{{- end }}
{{- end }}

{{/*
Checks of the values that would give a deployment that cannot work; included by the
Deployment, so a failed check fails `helm install` and `helm template`.
*/}}
{{- define "splunk-mcp.validate" -}}
{{- $mode := include "splunk-mcp.authMode" . }}
{{- $config := .Values.config | default dict }}
{{- $server := $config.server | default dict }}
{{- $auth := $config.auth | default dict }}
{{- $proxy := $auth.proxy | default dict }}
{{- range $key := list "transport" "bind" }}
{{- if hasKey $server $key }}
{{- fail (printf "config.server.%s is set by the chart (MCP_TRANSPORT=http, MCP_BIND=0.0.0.0:<containerPort>); remove it" $key) }}
{{- end }}
{{- end }}
{{- $splunk := $config.splunk | default dict }}
{{- $secretKeys := list (list "auth" $auth "client_secret") (list "auth" $auth "client_secret_file") (list "auth" $auth "client_key") (list "auth" $auth "client_key_file") (list "auth.proxy" $proxy "encryption_key") (list "auth.proxy" $proxy "encryption_key_file") (list "splunk" $splunk "token") (list "splunk" $splunk "token_file") (list "splunk" $splunk "password") (list "splunk" $splunk "password_file") }}
{{- range $secretKeys }}
{{- if hasKey (index . 1) (index . 2) }}
{{- fail (printf "config.%s.%s would put a secret in the ConfigMap: give it in secrets.* or a Secret named in secrets.existingSecret (the chart mounts it and sets the *_FILE setting)" (index . 0) (index . 2)) }}
{{- end }}
{{- end }}
{{- if hasKey $proxy "store" }}
{{- fail "config.auth.proxy.store is set by the chart: use redis.url or redis.existingSecret for Redis, or leave it out for the embedded store under /var/lib/splunk-mcp" }}
{{- end }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- if not $server.stateless }}
{{- fail (printf "replicaCount is %d, but MCP sessions live in one process: set config.server.stateless: true (or run one replica)" (int .Values.replicaCount)) }}
{{- end }}
{{- if and (eq $mode "proxy") (not (include "splunk-mcp.redis" .)) }}
{{- fail (printf "replicaCount is %d in proxy mode without Redis: the replicas must share one store; set redis.url or redis.existingSecret (or run one replica)" (int .Values.replicaCount)) }}
{{- end }}
{{- end }}
{{- if and .Values.persistence.enabled (gt (int .Values.replicaCount) 1) }}
{{- fail "persistence is for the embedded store of a single replica; with more than one, use Redis and turn persistence off" }}
{{- end }}
{{- if and .Values.redis.url (contains "@" .Values.redis.url) }}
{{- fail "redis.url carries credentials: put the whole URL in a Secret and name it in redis.existingSecret" }}
{{- end }}
{{- if and (include "splunk-mcp.redis" .) (ne $mode "proxy") }}
{{- fail (printf "redis is set, but only proxy mode keeps a store (config.auth.mode is %s); remove it" $mode) }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- range (include "splunk-mcp.secretFiles" . | fromJsonArray) }}
{{- if not (index $.Values.secrets .value) }}
{{- fail (printf "config.auth.mode %s with config.splunk.credentials %s needs secrets.%s (or a Secret you manage, named in secrets.existingSecret)" $mode (include "splunk-mcp.credentials" $) .value) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
