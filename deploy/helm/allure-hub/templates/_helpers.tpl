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
