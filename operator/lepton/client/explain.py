"""What each condition reason (and phase) of the three kinds means, and what to do about it, for
`lepton describe` and the follow view. A unit test fails when a reason of lepton.api's enums has
no entry here, so a new reason cannot ship unexplained.

Keys are plain strings (no lepton.api import): `describe` shows them without loading pydantic.
"""

from __future__ import annotations

TRAINING_JOB: dict[str, str] = {
    "Created": "the operator has seen the job and will queue it",
    "Queued": "waiting in the admission queue; the message says what it waits for",
    "WaitingForGPUs": "the whole gang does not fit on the free GPUs yet; it is admitted as soon as "
    "it does (free GPUs, lower `replicas`, or raise the job's priority). The free GPUs of nodes held "
    "for an earlier job's reservation are not counted (the message names that job)",
    "WaitingForQuota": "the whole gang would exceed its ClusterQueue's nominalQuota or a ResourceQuota "
    "of its namespace (the message names it, and what of it is held for an earlier job's "
    "reservation); no pod is created until all of them fit. Wait for jobs of that queue or "
    "namespace to finish, or raise the quota",
    "WaitingInQueue": "an earlier job goes first (the message names it): the head of a StrictFIFO "
    "queue, or a job holding a reservation that waits for quota: its queue's nominalQuota (its queue "
    "waits) or a ResourceQuota of this namespace (the namespace waits)",
    "Preempting": "lower-priority preemptible jobs of its queue (the message names them) are being "
    "stopped to make room for it; their GPUs are held for it until they are free",
    "Preempted": "a higher-priority job of its queue needed its GPUs (the event names it): its workers "
    "got SIGTERM and their grace period to checkpoint, and it waits in the queue again; "
    "backoffLimit was not charged. Set spec.scheduling.preemptible: false to opt out",
    "QueueNotFound": "spec.scheduling.queue names a ClusterQueue that does not exist (`kubectl get "
    "clusterqueues`); the job waits until it is created, or fix the name",
    "Admitted": "GPUs are set aside for every worker; the pods are being created and scheduled",
    "PodStartFailed": "a worker pod was scheduled but does not start; the message is the kubelet's "
    "reason (a Secret or ConfigMap of the template that does not exist, an image it cannot pull, a "
    "sandbox it cannot make): fix what it names; the job goes on by itself once the pod starts",
    "Running": "every worker pod runs",
    "AllWorkersRunning": "every worker pod runs",
    "StoppingWorkers": "rank 0 succeeded; the other workers get the success grace period to exit",
    "Succeeded": "rank 0 exited 0: the job is done",
    "Failed": "the job has stopped for good; the message says why",
    "WorkerFailed": "a worker exited non-zero; the job restarts if the restart policy and "
    "backoffLimit allow (read the worker's log: `lepton logs tj/NAME`)",
    "WorkerReplaced": "elastic: a lost worker was recreated while the others kept running",
    "AdmittedAtMaximum": "elastic: all maxReplicas workers fit at admission (status.size)",
    "AdmittedAtMinimum": "elastic: only minReplicas workers fit at admission; the job grows toward "
    "maxReplicas when GPUs free up that no waiting job of equal or higher priority can use",
    "AdmittedBelowMaximum": "elastic: fewer than maxReplicas workers fit at admission; the job grows "
    "toward maxReplicas when GPUs free up that no waiting job of equal or higher priority can use",
    "Grew": "elastic: workers were added with GPUs that freed up; they join in a new c10d rendezvous "
    "round and the running workers are not restarted",
    "ShrankOnNodeLoss": "elastic: workers were lost with their node and at least minReplicas remain, "
    "so the job goes on with the survivors (no restart) and grows back when GPUs free up",
    "NodeLost": "workers were lost with their node; the restart is not charged to backoffLimit",
    "HardwareFault": "workers were lost to a hardware fault (their node's GPUs reported unhealthy, a "
    "hardware exit code, a DisruptionTarget condition); the gang is re-admitted on healthy nodes and "
    "the restart is not charged to backoffLimit (status.restartHistory names the fault)",
    "Restarting": "the whole gang is being restarted after a retryable failure (with backoff)",
    "BackoffLimitExceeded": "the job failed more often than spec.runPolicy.backoffLimit allows; fix the "
    "cause in the logs, then submit again",
    "DeadlineExceeded": "the job ran longer than spec.runPolicy.activeDeadlineSeconds",
    "WorkerRestartLimitExceeded": "one worker failed more often than "
    "spec.runPolicy.maxRestartsPerWorker allows; status.restartHistory shows its exits",
    "Suspended": "spec.runPolicy.suspend is true: no pods run; set it to false to resume",
    "InvalidSpec": "the spec cannot be run as written; the message names the field to fix",
    "ConfigError": "the API server refused a pod, Service or Deployment made from this spec (an "
    "unknown PriorityClass, PodSecurity, a policy or limits); the message is its answer: fix the spec",
    "ModelVersionCreated": "the trained model is recorded as a ModelVersion (status.modelVersion)",
    "NoModelVersion": "no ModelVersion was recorded although spec.output is set: rank 0's termination "
    "message is not the JSON result object (empty, not JSON, over 4096 bytes) or names no artifact; "
    "the ModelVersionRecorded condition's message says which. The job itself succeeded",
    "Initializing": "the initializer pod fetches spec.initializers (dataset, model) into the shared "
    "volume; no worker starts and no GPU is held until it is done",
    "Initialized": "the dataset and model are in the shared volume (verified when a digest was given)",
    "InitializerFailed": "an initializer failed; the message has its error. backoffLimit was not "
    "charged; fix the source or volume and create the job again",
    "SourceUnreachable": "an initializer could not reach or find its source (no such object or file, "
    "HTTP error, endpoint down or credentials refused)",
    "DigestMismatch": "what an initializer fetched does not hash to spec.initializers.*.digest; "
    "the copy was discarded",
}

MODEL_VERSION: dict[str, str] = {
    "Pending": "not looked at yet",
    "Verifying": "a verification Job is fetching the artifact, checking its digest and loading it",
    "Verified": "the digest matches and the model loads",
    "Ready": "verified: InferenceServices may serve it",
    "Failed": "verification failed for good; the message says why",
    "ArtifactNotFound": "nothing at spec.source.uri; check the URI and that the training wrote there",
    "ArtifactUnreadable": "the artifact exists but the verifying user may not read it (the message "
    "names the uid, the owner and the mode); fix the permissions",
    "SourceUnreachable": "the artifact's store did not answer (an s3 endpoint down, unknown or timing "
    "out: the message has the error); the artifact may be there. Verification is not retried: once "
    "the endpoint answers, delete the ModelVersion and apply it again",
    "DigestMismatch": "the artifact's digest is not spec.source.digest: it changed after it was "
    "recorded; create a new version",
    "LoadFailed": "the artifact could not be loaded as its format; check spec.source.format",
    "UnsupportedFormat": "the artifact's format is not one the model server loads",
    "VerificationFailed": "the verification Job failed without a more precise reason; read its pod's log",
    "VerificationTimedOut": "the verification Job did not finish in time (slow storage, or its pod "
    "cannot be scheduled)",
    "ServedBy": "lists the InferenceServices that serve this version",
    "InvalidAnnotation": "a lepton.ai/ annotation has a value the operator cannot use; the message names it",
}

INFERENCE_SERVICE: dict[str, str] = {
    "Pending": "waiting for a Ready ModelVersion to serve",
    "Deploying": "model-server replicas are starting",
    "Ready": "enough replicas are ready; the service answers requests",
    "RollingOut": "a new version is replacing the serving one",
    "Degraded": "fewer replicas are ready than wanted; requests may be slow or fail",
    "ScaledToZero": "no replicas run; the first request wakes the service through the activator",
    "Activating": "scaling up from zero; the activator holds requests until a replica is ready",
    "Failed": "the service cannot serve; the message says why",
    "ModelVersionNotFound": "no ModelVersion matches spec.model; train one or fix the name/version",
    "ModelVersionNotReady": "the ModelVersion is still being verified; serving starts when it is Ready",
    "ModelVersionFailed": "the ModelVersion failed verification: `lepton describe mv/NAME` says why",
    "ReplicasReady": "every wanted replica is ready",
    "ReplicasUnavailable": "replicas are not ready: they may be unschedulable (GPUs), crashing or "
    "still loading the model; check the pods",
    "CanaryStarted": "a canary rollout of a new version began",
    "CanaryStep": "the canary moved to its next traffic weight",
    "CanaryPromoted": "the new version passed analysis and now serves all traffic",
    "AnalysisFailed": "the new version broke the analysis limits (error rate, p95 latency)",
    "RolledBack": "the new version was rolled back; `lepton rollout retry` tries it again",
    "CanaryRestarted": "a newer version appeared mid-rollout: the analysis starts again for it",
    "CanaryPromoting": "the canary passed its last step; traffic moves fully to it",
    "RolloutPaused": "the rollout waits at a step marked untilPromoted: `lepton rollout promote` goes on",
    "RolloutAborted": "the rollout was aborted by annotation: the stable version keeps all traffic",
    "RolloutRetried": "a rolled-back version is being rolled out again (retry annotation)",
    "RolloutCancelled": "the version being rolled out is no longer wanted; the stable one stays",
    "ProgressDeadlineExceeded": "the rollout made no progress within progressDeadlineSeconds; it holds "
    "(or rolls back with progressDeadlineAbort); check the canary's pods and metrics",
    "AnalysisErrors": "analysis queries keep failing: the rollout holds, never promoting or rolling "
    "back on errors (check Prometheus and the queries in the message)",
    "AnalysisRecovered": "analysis queries answer again; the rollout goes on",
    "MirrorUnsupported": "traffic.mirrorPercent is set but the Gateway's class neither lists "
    "HTTPRouteRequestMirror (and HTTPRouteRequestPercentageMirror) in status.supportedFeatures nor is "
    "Traefik with its TraefikService CRD: nothing is mirrored, the new version is analysed on its "
    "weighted share, and a weight-0 (shadow) step holds until promoted by hand",
    "FailedVersionSkipped": "this version was rolled back before; `latest` skips it until a newer one "
    "appears or `lepton rollout retry` asks again",
    "Scaled": "the replica count changed",
    "MetricsUnavailable": "the autoscaler has no usable metric; replicas are held, never lowered "
    "(check Prometheus and the query in the message)",
    "NoRollout": "no rollout is in progress",
    "ServiceConflict": "a Service of this name exists and belongs to someone else; rename or delete it",
    "NetworkPolicyConflict": "a NetworkPolicy of this name exists and belongs to someone else; "
    "rename or delete it (spec.networkPolicy makes one named after the service)",
    "ConfigError": "the API server refused a pod, Service or Deployment made from this spec (an "
    "unknown PriorityClass, PodSecurity, a policy or limits); the message is its answer: fix the spec",
    "VersionChanged": "the version to serve changed",
    "ScaledUp": "the autoscaler added replicas",
    "ScaledDown": "the autoscaler removed replicas",
    "Steady": "the autoscaler keeps the replica count",
    "FallbackReplicas": "metrics failed for several rounds: the autoscaler uses its fallback replicas",
    "ValidMetricFound": "the last metric query gave a usable value",
    "NoSeries": "the metric query returned no series (no traffic yet, or nothing scraped)",
    "NotFinite": "the metric query returned NaN or Inf",
    "QueryFailed": "Prometheus refused or could not answer the query (the message says why)",
    "MetricsRecovered": "the metric is usable again",
    "AutoscalerOwnsReplicas": "spec.autoscaling is set: the autoscaler owns the replica count "
    "(change minReplicas/maxReplicas instead)",
    "Activated": "a replica is ready after scale-from-zero; requests go to it",
    "ActivatorRouted": "the Service sends requests to the activator while no replica runs",
    "TrafficSwitched": "the Service now sends requests to the model-server replicas",
    "DeploymentDeleted": "an old version's Deployment was removed",
    "InvalidAnnotation": "a lepton.ai/ annotation has a value the operator cannot use; the message names it",
    "TokenSecretMissing": "a Secret (or a key of it) that spec.auth.tokenSecrets names does not exist in "
    "the namespace (the message names it): the kubelet cannot mount it and the model servers wait in "
    "ContainerCreating. Create it (`kubectl create secret generic NAME --from-literal=KEY=...`); the "
    "pods start by themselves and the condition clears",
    "PodStartFailed": "a model-server pod was scheduled but does not start; the message is the "
    "kubelet's reason (a volume it cannot mount, an image it cannot pull, a sandbox it cannot make): "
    "fix what it names, or `kubectl describe pod` for the whole story",
}

BY_KIND = {"TrainingJob": TRAINING_JOB, "ModelVersion": MODEL_VERSION, "InferenceService": INFERENCE_SERVICE}


def explain(kind: str, reason: str) -> str:
    """What ``reason`` means for ``kind`` ("" when unknown, e.g. from a newer operator)."""
    return BY_KIND.get(kind, {}).get(reason, "")
