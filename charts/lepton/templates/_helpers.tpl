{{- define "lepton.name" -}}lepton-operator{{- end -}}

{{- define "lepton.selectorLabels" -}}
app.kubernetes.io/name: lepton-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lepton.labels" -}}
{{ include "lepton.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Argo CD applies the operator's objects after the CRDs (argocd/README.md). */}}
{{- define "lepton.annotations" -}}
argocd.argoproj.io/sync-wave: {{ .Values.argocd.syncWave | quote }}
{{- end -}}

{{/* <registry>/<repository>@<digest>, else :<tag> (appVersion when empty): a digest pins the bytes. */}}
{{- define "lepton.image" -}}
{{- $i := .Values.image -}}
{{- $repo := $i.repository -}}
{{- if $i.registry }}{{ $repo = printf "%s/%s" $i.registry $i.repository }}{{ end -}}
{{- if $i.digest -}}
{{ $repo }}@{{ $i.digest }}
{{- else -}}
{{ $repo }}:{{ $i.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Restricted Pod Security, shared by the operator and the helm test pod. */}}
{{- define "lepton.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
seccompProfile: {type: RuntimeDefault}
{{- end -}}
{{- define "lepton.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{/* Combinations the schema cannot express. */}}
{{- define "lepton.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.peering.enabled) -}}
{{- fail "replicas: more than 1 needs peering.enabled=true (without peering every replica acts: duplicate controllers)" -}}
{{- end -}}
{{- end -}}
