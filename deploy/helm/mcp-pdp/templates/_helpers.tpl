{{- define "mcp-pdp.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mcp-pdp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mcp-pdp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-pdp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mcp-pdp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "mcp-pdp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "mcp-pdp.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "mcp-pdp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "mcp-pdp.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{- define "mcp-pdp.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{ .Values.secrets.existingSecret }}
{{- else -}}
{{ include "mcp-pdp.fullname" . }}
{{- end -}}
{{- end -}}

{{/* Settings shared by the server and the migration Job, as MCP_PDP_<KEY> variables. */}}
{{- define "mcp-pdp.env" -}}
- name: MCP_PDP_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ include "mcp-pdp.secretName" . }}, key: database-url}
- name: MCP_PDP_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ include "mcp-pdp.secretName" . }}, key: redis-url, optional: true}
- name: MCP_PDP_BOOTSTRAP_ADMIN_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "mcp-pdp.secretName" . }}, key: bootstrap-admin-key, optional: true}
- name: MCP_PDP_REQUIRE_CALLER_KEY
  value: {{ .Values.config.requireCallerKey | quote }}
- name: MCP_PDP_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: MCP_PDP_POLICY_POLL_SECONDS
  value: {{ .Values.config.policyPollSeconds | quote }}
- name: MCP_PDP_DB_TIMEOUT_SECONDS
  value: {{ .Values.config.dbTimeoutSeconds | quote }}
- name: MCP_PDP_DB_POOL_SIZE
  value: {{ .Values.config.dbPoolSize | quote }}
{{- if ne .Values.policies.source "image" }}
- name: MCP_PDP_POLICY_DIR
  value: /etc/mcp-pdp/policies
{{- end }}
{{- with .Values.config.issuers }}
- name: MCP_PDP_ISSUERS
  value: {{ toJson . | quote }}
{{- end }}
{{- range $name, $value := .Values.config.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "mcp-pdp.policiesConfigMap" -}}
{{- if eq .Values.policies.source "configMap" -}}
{{ required "policies.existingConfigMap is required when policies.source is configMap" .Values.policies.existingConfigMap }}
{{- else -}}
{{ include "mcp-pdp.fullname" . }}-policies
{{- end -}}
{{- end -}}
