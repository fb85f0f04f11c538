{{/*
What the operator does in the namespaces it serves, derived from operator/lepton (controllers/,
kube/resources.py, kube/apply.py) and kopf. Nothing is granted that no code path uses.
*/}}
{{- define "lepton.namespacedRules" -}}
# Its own kinds: kopf lists and watches them and patches finalizers and its annotations; status
# is merge-patched. TrainingJobs get neither, but kopf removes the finalizer that earlier
# builds put on them (patch), or deleting them after an upgrade would hang. TrainingJobs are deleted
# after their TTL; ModelVersions are created for a trained model.
- apiGroups: [lepton.ai]
  resources: [trainingjobs]
  verbs: [list, watch, patch, delete]
- apiGroups: [lepton.ai]
  resources: [modelversions]
  verbs: [list, watch, patch, create]
- apiGroups: [lepton.ai]
  resources: [inferenceservices]
  verbs: [list, watch, patch]
- apiGroups: [lepton.ai]
  resources: [trainingjobs/status, modelversions/status, inferenceservices/status]
  verbs: [patch]
# Worker pods (created, deleted on restart), indexed with verification pods.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, create, delete]
# Headless Services of jobs (created, read back) and of model servers (server-side applied:
# patch, plus create for the first apply); a canary's per-version Services are deleted once no
# route sends to them.
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, delete]
# Model-server Deployments: server-side applied, old versions deleted after a rollout. `create` is
# what the API server authorizes a first apply as (the audit log records it as patch).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, watch, create, patch, delete]
# The HTTPRoute of an InferenceService with spec.traffic (canary weights, mirroring), when Gateway
# API is served: read back (a promotion completes once it carries the new version), server-side
# applied (create: what a first apply is authorized as), deleted when spec.traffic goes (the
# least-privilege test lists both as granted and unused). Read by name, never listed or watched.
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, create, patch, delete]
# The Gateway of spec.traffic, read by name during a rollout with mirrorPercent for its class (what
# it can mirror with). With watchNamespaces, a Gateway in a namespace not watched cannot be read:
# the rollout then says MirrorUnsupported, and mirrors nothing.
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways]
  verbs: [get]
# Shadow traffic (spec.traffic.mirrorPercent) through Traefik, whose Gateway provider lacks
# RequestMirror: a TraefikService with `mirroring` per InferenceService, read by name while a
# rollout may use it, server-side applied (create for the first apply), deleted a few seconds after
# the route stopped naming it. Only where Traefik's CRDs are served.
- apiGroups: [traefik.io]
  resources: [traefikservices]
  verbs: [get, create, patch, delete]
# The NetworkPolicy of an InferenceService with spec.networkPolicy: watched (labelled children, so a
# policy deleted by hand is put back), read by name before the first apply (a policy of that name
# that is not the service's is never taken over), server-side applied (create for the first apply),
# deleted when spec.networkPolicy goes.
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
# ModelVersion verification Jobs (garbage-collected through their owner reference).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch, create]
# Gang scheduling: a PodGroup per TrainingJob for Volcano or the scheduler-plugins coscheduler
# (builders/podgroup.py), created only when that API is served (the least-privilege test, on a
# cluster serving neither, lists these as granted and unused).
- apiGroups: [scheduling.volcano.sh, scheduling.x-k8s.io]
  resources: [podgroups]
  verbs: [create]
# The autoscaler's Prometheus CA from a ConfigMap that spec.autoscaling.prometheusAuth names, read by
# name (never listed). Secrets (bearer tokens) only where the chart's autoscaler.readSecrets allows it: reading
# every Secret of a namespace is more than most teams grant an operator by default.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
{{- if .Values.autoscaler.readSecrets }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
# ResourceQuotas, read (indexed) before admitting a gang so that no partial gang is created.
- apiGroups: [""]
  resources: [resourcequotas]
  verbs: [list, watch]
# Events about its objects, from the operator and from kopf (create); the kubelet's Events of one
# model-server pod that was scheduled and does not start (list, by involvedObject.uid, at most every
# few seconds while it waits): only they say why (a token Secret that does not exist, FailedMount).
# Never watched: Events are the noisiest kind of a cluster.
- apiGroups: [""]
  resources: [events]
  verbs: [create, list]
{{- end -}}

{{/* Cluster-scoped reads that no Role can grant. */}}
{{- define "lepton.clusterRules" -}}
# Capacity for gang admission: node allocatable and readiness, priority classes for preemption.
- apiGroups: [""]
  resources: [nodes]
  verbs: [list, watch]
- apiGroups: [scheduling.k8s.io]
  resources: [priorityclasses]
  verbs: [list, watch]
# ClusterQueues (cluster-scoped): each queue's GPU quota and queueing strategy, indexed.
- apiGroups: [lepton.ai]
  resources: [clusterqueues]
  verbs: [list, watch]
# What the Gateway of spec.traffic can mirror with (a rollout with mirrorPercent only): its
# GatewayClass's status.supportedFeatures, read by name (the Gateway itself is read with the
# namespaced rules). Never listed or watched.
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses]
  verbs: [get]
# kopf rescans resources when CRDs come and go (e.g. a PodGroup CRD installed later).
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- end -}}

{{/* kopf's peering objects: read the peers, patch its own entry into the status. */}}
{{- define "lepton.peeringRules" -}}
- apiGroups: [kopf.dev]
  resources: [{{ .plural }}]
  verbs: [get, list, watch, patch]
{{- end -}}
