{{/* Names and labels shared by every object of the chart. */}}
{{- define "statefun-c.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "statefun-c.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "statefun-c.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The module.yaml made by gen-module.sh; rendering stops when it is
     missing or points at another Service than functions.serviceName. */}}
{{- define "statefun-c.module" -}}
{{- $module := .Files.Get "files/module.yaml" -}}
{{- if not $module -}}
{{- fail "files/module.yaml is missing: run helm/statefun-c/gen-module.sh (sf-modgen) first" -}}
{{- end -}}
{{- $host := printf "//%s:%d/" .Values.functions.serviceName (int .Values.functions.port) -}}
{{- if not (contains $host $module) -}}
{{- fail (printf "files/module.yaml does not call the function Service (%s): regenerate it with SF_FUNCTIONS_SERVICE=%s SF_FUNCTIONS_PORT=%d gen-module.sh" $host .Values.functions.serviceName (int .Values.functions.port)) -}}
{{- end -}}
{{- $module -}}
{{- end -}}

{{- define "statefun-c.masterHost" -}}
{{ include "statefun-c.fullname" . }}-master
{{- end -}}

{{/* The pod spec parts master and workers share. */}}
{{- define "statefun-c.runtimeVolumes" -}}
- name: module
  configMap:
    name: {{ include "statefun-c.fullname" . }}-module
- name: checkpoints
  {{- toYaml .Values.statefun.checkpointVolume | nindent 2 }}
{{- end -}}

{{- define "statefun-c.runtimeMounts" -}}
- name: module
  mountPath: {{ .Values.statefun.moduleDir }}/module.yaml
  subPath: module.yaml
  readOnly: true
- name: checkpoints
  mountPath: /checkpoint-dir
{{- end -}}
