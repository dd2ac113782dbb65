{{/* Name of the release's objects. */}}
{{- define "allure-hub.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "allure-hub.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "allure-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The host name of a URL (https://hub.example.com -> hub.example.com). */}}
{{- define "allure-hub.hostOf" -}}
{{- $url := urlParse . -}}
{{- (split ":" $url.host)._0 -}}
{{- end -}}

{{- define "allure-hub.host" -}}
{{- .Values.ingress.host | default (include "allure-hub.hostOf" .Values.baseUrl) -}}
{{- end -}}

{{- define "allure-hub.reportsHost" -}}
{{- .Values.ingress.reportsHost | default (include "allure-hub.hostOf" .Values.reportsBaseUrl) -}}
{{- end -}}

{{/* The Secret holding SESSION_SECRET. */}}
{{- define "allure-hub.sessionSecretName" -}}
{{- .Values.sessionSecret.existingSecret | default (printf "%s-session" (include "allure-hub.fullname" .)) -}}
{{- end -}}

{{/* "true" when the pod keeps no files that must outlive it: PostgreSQL holds the state and the bucket the files,
so DATA_DIR holds scratch work only. */}}
{{- define "allure-hub.scratchOnly" -}}
{{- if and .Values.postgresql.enabled .Values.storage.url -}}true{{- end -}}
{{- end -}}

{{/* The refusals of the chart's values, in one place: each stops the rendering with what to set. */}}
{{- define "allure-hub.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "allure-hub.scratchOnly" .)) }}
{{- fail (printf "replicaCount %d needs postgresql.enabled=true and storage.url=s3://bucket (both shared by the pods; SQLite and files on the data volume belong to one pod), got postgresql.enabled=%v and storage.url=%q" (int .Values.replicaCount) .Values.postgresql.enabled .Values.storage.url) }}
{{- end }}
{{- if and .Values.postgresql.enabled (not .Values.postgresql.existingSecret) }}
{{- fail "postgresql.enabled needs postgresql.existingSecret: a Secret holding the DATABASE_URL" }}
{{- end }}
{{- if and .Values.storage.url (not (hasPrefix "s3://" .Values.storage.url)) }}
{{- fail (printf "storage.url must be s3://bucket[/prefix], got %q" .Values.storage.url) }}
{{- end }}
{{- if hasKey .Values.env "SHUTDOWN_TIMEOUT" }}
{{- fail "set shutdownTimeoutSeconds instead of env.SHUTDOWN_TIMEOUT: the pod's termination grace period is derived from it" }}
{{- end }}
{{- if lt (int .Values.preStopSleepSeconds) 0 }}
{{- fail "preStopSleepSeconds must be 0 or more" }}
{{- end }}
{{- if lt (int .Values.shutdownTimeoutSeconds) 1 }}
{{- fail "shutdownTimeoutSeconds must be 1 or more" }}
{{- end }}
{{- end -}}
