{{- define "seqmesh.name" -}}{{ .Release.Name }}-operator{{- end -}}
{{- define "seqmesh.labels" -}}
app.kubernetes.io/name: seqmesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "seqmesh.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag }}{{- end -}}
