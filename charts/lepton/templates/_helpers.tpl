{{- define "lepton.name" -}}lepton-operator{{- end -}}
{{- define "lepton.labels" -}}
app.kubernetes.io/name: lepton-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
