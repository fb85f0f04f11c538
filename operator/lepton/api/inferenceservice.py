"""InferenceService: serve a model version with autoscaling and a metric-gated canary rollout."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.auth import Auth
from lepton.api.autoscaling import MAX_REPLICAS, Autoscaling
from lepton.api.common import (
    DNS_LABEL_PATTERN,
    ConditionList,
    DnsLabel,
    EnvVar,
    LeptonModel,
    ResourceRequirements,
    Toleration,
    cel,
    validations,
)
from lepton.api.common import ObjectBase as _ObjectBase
from lepton.api.modelversion import LATEST
from lepton.api.networkpolicy import NETWORK_POLICY_RULE, NetworkPolicy
from lepton.api.rollout import MAX_FAILED_VERSIONS, CanaryStatus, FailedVersion, Rollout
from lepton.api.times import Timestamp

KIND = "InferenceService"
PLURAL = "inferenceservices"
SINGULAR = "inferenceservice"
SHORT_NAMES = ["lisvc"]

DEFAULT_SERVER_IMAGE = "lepton/server:dev"
DEFAULT_SERVER_PORT = 8080

MAX_NAME_LENGTH = 52
HOSTNAME_PATTERN = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class InferenceServicePhase(StrEnum):
    """Where an InferenceService is."""

    PENDING = "Pending"
    DEPLOYING = "Deploying"
    READY = "Ready"
    ROLLING_OUT = "RollingOut"
    DEGRADED = "Degraded"
    SCALED_TO_ZERO = "ScaledToZero"
    ACTIVATING = "Activating"
    """Scaled up from zero: a replica is starting while the activator holds the requests."""
    FAILED = "Failed"


class InferenceServiceConditionType(StrEnum):
    """Condition types of an InferenceService; `kubectl wait --for=condition=Ready lisvc/x` works."""

    READY = "Ready"
    ROLLOUT_PROGRESSING = "RolloutProgressing"
    DEGRADED = "Degraded"
    METRICS_AVAILABLE = "MetricsAvailable"
    """Autoscaling only: whether the last query gave a usable value (False says which query failed
    and why; replicas are then held, never lowered)."""


class InferenceServiceReason(StrEnum):
    """Reasons the operator gives in InferenceService conditions and events (and only these). A
    phase change is also an event whose reason is the new phase."""

    MODEL_VERSION_NOT_FOUND = "ModelVersionNotFound"
    MODEL_VERSION_NOT_READY = "ModelVersionNotReady"
    MODEL_VERSION_FAILED = "ModelVersionFailed"
    PENDING = "Pending"
    READY = "Ready"
    ROLLING_OUT = "RollingOut"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    DEPLOYING = "Deploying"
    REPLICAS_READY = "ReplicasReady"
    REPLICAS_UNAVAILABLE = "ReplicasUnavailable"
    CANARY_STARTED = "CanaryStarted"
    CANARY_STEP = "CanaryStep"
    CANARY_PROMOTED = "CanaryPromoted"
    ANALYSIS_FAILED = "AnalysisFailed"
    ROLLED_BACK = "RolledBack"
    CANARY_RESTARTED = "CanaryRestarted"
    """A newer version appeared mid-rollout: the rollout starts over for it."""
    CANARY_PROMOTING = "CanaryPromoting"
    """Past the last step (or promoted by hand): the new version is scaled to full size."""
    ROLLOUT_PAUSED = "RolloutPaused"
    ROLLOUT_ABORTED = "RolloutAborted"
    ROLLOUT_RETRIED = "RolloutRetried"
    ROLLOUT_CANCELLED = "RolloutCancelled"
    """The target went back to the serving version mid-rollout."""
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    ANALYSIS_ERRORS = "AnalysisErrors"
    """More than consecutiveErrorLimit checks in a row could not be answered: the rollout holds."""
    ANALYSIS_RECOVERED = "AnalysisRecovered"
    FAILED_VERSION_SKIPPED = "FailedVersionSkipped"
    """The target version failed its rollout before: it is not rolled out again without a retry."""
    SCALED = "Scaled"
    SCALED_TO_ZERO = "ScaledToZero"
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    NO_ROLLOUT = "NoRollout"
    SERVICE_CONFLICT = "ServiceConflict"
    NETWORK_POLICY_CONFLICT = "NetworkPolicyConflict"
    """A NetworkPolicy of the service's name exists and is not this service's (never taken over)."""
    CONFIG_ERROR = "ConfigError"
    """The API server refused a Deployment or the Service for good (400/403/422: requests above
    limits, an admission policy, a quota); the message is its own."""
    VERSION_CHANGED = "VersionChanged"
    SCALED_UP = "ScaledUp"
    SCALED_DOWN = "ScaledDown"
    STEADY = "Steady"
    FALLBACK_REPLICAS = "FallbackReplicas"
    VALID_METRIC_FOUND = "ValidMetricFound"
    NO_SERIES = "NoSeries"
    NOT_FINITE = "NotFinite"
    QUERY_FAILED = "QueryFailed"
    METRICS_RECOVERED = "MetricsRecovered"
    AUTOSCALER_OWNS_REPLICAS = "AutoscalerOwnsReplicas"
    ACTIVATING = "Activating"
    ACTIVATED = "Activated"
    ACTIVATOR_ROUTED = "ActivatorRouted"
    TRAFFIC_SWITCHED = "TrafficSwitched"
    DEPLOYMENT_DELETED = "DeploymentDeleted"
    INVALID_ANNOTATION = "InvalidAnnotation"
    TOKEN_SECRET_MISSING = "TokenSecretMissing"  # noqa: S105 - a reason, not a secret
    """A Secret (or key) that spec.auth.tokenSecrets names does not exist: the model-server pods
    wait in ContainerCreating (the kubelet cannot mount it) until it is created."""
    POD_START_FAILED = "PodStartFailed"
    """A model-server pod was scheduled and does not start; the message is the kubelet's (a volume
    it cannot mount, an image it cannot pull, a sandbox it cannot make)."""
    MIRROR_UNSUPPORTED = "MirrorUnsupported"
    """traffic.mirrorPercent is set and the route's Gateway cannot mirror (policies.mirror)."""


class ModelRef(LeptonModel):
    """Which model version to serve."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            [
                cel(
                    f"self.version == '{LATEST}' || self.version.matches('{DNS_LABEL_PATTERN}')",
                    "model.version must be 'latest' or a DNS label (lower-case alphanumerics and '-')",
                    field_path=".version",
                )
            ]
        )
    )

    name: DnsLabel
    """Name of the model (spec.model of its ModelVersions)."""
    version: Annotated[str, StringConstraints(min_length=1, max_length=63)] = LATEST
    """Version to serve, or "latest": the newest Ready ModelVersion of the model (new versions are
    rolled out as they become Ready)."""


class Batching(LeptonModel):
    """Dynamic batching in the model server: requests wait up to maxLatencyMs to fill a batch."""

    max_batch_size: Annotated[int, Field(ge=1, le=4096)] = 8
    """Most requests combined into one forward pass."""
    max_latency_ms: Annotated[int, Field(ge=0, le=10000)] = 5
    """Longest a request waits for others to fill a batch, in milliseconds."""


class ServerSpec(LeptonModel):
    """The model-server containers."""

    image: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = DEFAULT_SERVER_IMAGE
    """Model-server image (serves Open Inference Protocol v2 on `port`)."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """Image pull policy of the server container."""
    resources: ResourceRequirements | None = None
    """Compute resources of each replica, e.g. limits {"nvidia.com/gpu": 1}."""
    env: (
        Annotated[
            list[EnvVar],
            Field(
                max_length=128,
                json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
        ]
        | None
    ) = None
    """Extra environment variables of the server container (names unique)."""
    port: Annotated[int, Field(ge=1, le=65535)] = DEFAULT_SERVER_PORT
    """HTTP port of the server (inference, health, /metrics)."""
    batching: Batching | None = None
    """Dynamic batching; unset serves each request on its own."""
    node_selector: dict[str, str] | None = None
    """Node labels the replicas must run on (e.g. a GPU product)."""
    tolerations: Annotated[list[Toleration], Field(max_length=64)] | None = None
    """Taints the replicas tolerate (e.g. those of dedicated GPU nodes), as in core/v1."""


class ParentRef(LeptonModel):
    """A Gateway API parentRef: the Gateway the HTTPRoute attaches to."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    """Name of the Gateway."""
    namespace: DnsLabel | None = None
    """Namespace of the Gateway (default: the service's namespace)."""
    section_name: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = None
    """Listener of the Gateway to attach to."""


class Traffic(LeptonModel):
    """External traffic through the Gateway API; the canary split is done by HTTPRoute weights."""

    gateway: ParentRef
    """The Gateway the service's HTTPRoute attaches to."""
    hostnames: (
        Annotated[
            list[Annotated[str, StringConstraints(max_length=253, pattern=HOSTNAME_PATTERN)]],
            Field(max_length=16),
        ]
        | None
    ) = None
    """Hostnames the HTTPRoute matches; unset matches the Gateway's hostnames."""
    mirror_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    """During a rollout, mirror this percentage of the requests to the new version (shadow traffic:
    its responses are discarded, its metrics are analysed like a canary's). How depends on the
    Gateway's class: the HTTPRoute's RequestMirror filter where its status.supportedFeatures lists
    HTTPRouteRequestMirror (and HTTPRouteRequestPercentageMirror below 100); with Traefik, a
    TraefikService with `mirroring` (its kubernetesCRD provider on) copying the stable version's
    requests; otherwise nothing is mirrored, condition reason MirrorUnsupported says why, and a
    weight-0 step holds."""


_SPEC_RULES = [
    cel(
        "self.rollout.steps.all(s, s.weight > 0) || "
        "(has(self.traffic) && has(self.traffic.mirrorPercent) && self.traffic.mirrorPercent > 0)",
        "rollout.steps weight 0 (a shadow step) needs traffic.mirrorPercent above 0: without mirrored "
        "requests the new version gets no traffic to analyse",
        field_path=".rollout.steps",
    ),
    NETWORK_POLICY_RULE,
]


class InferenceServiceSpec(LeptonModel):
    """Desired state of an InferenceService."""

    model_config = ConfigDict(json_schema_extra=validations(_SPEC_RULES))

    model: ModelRef
    """The model and version to serve."""
    replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1
    """Desired replicas. With autoscaling set, the autoscaler owns this field (it writes it through the
    scale subresource, as an HPA does for a Deployment) within minReplicas..maxReplicas."""
    server: ServerSpec = Field(default_factory=ServerSpec)
    """The model-server containers."""
    autoscaling: Autoscaling | None = None
    """Autoscaling; unset keeps `replicas` replicas."""
    rollout: Rollout = Field(default_factory=Rollout)
    """How new versions are rolled out."""
    traffic: Traffic | None = None
    """Gateway API routing; unset exposes only the in-cluster Service (a rollout then splits traffic
    by replica counts, the nearest ratio they allow)."""
    auth: Auth | None = None
    """API tokens the endpoint requires; unset: it answers anyone who reaches it."""
    network_policy: NetworkPolicy | None = None
    """A NetworkPolicy admitting to the model servers only the Gateway, the activator and Prometheus;
    unset: none is made (and one made before is deleted)."""

    @model_validator(mode="after")
    def _shadow_steps(self) -> InferenceServiceSpec:
        mirror = self.traffic.mirror_percent if self.traffic else None
        if any(step.weight == 0 for step in self.rollout.steps) and not mirror:
            raise ValueError(_SPEC_RULES[0].message)
        policy = self.network_policy
        if policy is not None and policy.enabled and self.traffic is None and policy.gateway is None:
            raise ValueError(NETWORK_POLICY_RULE.message)
        return self


class TrafficTarget(LeptonModel):
    """Share of traffic one version receives."""

    version: str
    """Model version."""
    weight: Annotated[int, Field(ge=0, le=100)]
    """Percentage of traffic."""


Pair = Annotated[list[float], Field(min_length=2, max_length=2)]


class AutoscalerMemory(LeptonModel):
    """What the autoscaler remembers between rounds, kept in the status so that an operator restart
    does not reset its windows (HPA keeps the same in memory)."""

    recommendations: Annotated[list[Pair], Field(max_length=2000)] | None = None
    """[time, replicas] of the recommendations within the longest stabilisation window."""
    scale_events: Annotated[list[Pair], Field(max_length=2000)] | None = None
    """[time, change] of the scale events within the longest policy period."""
    failures: Annotated[int, Field(ge=0)] | None = None
    """Rounds in a row without a usable metric."""
    burst_since: float | None = None
    """When burst mode was last triggered (epoch seconds)."""
    burst_max: Annotated[int, Field(ge=0)] | None = None
    """Highest recommendation of the current burst."""
    last_scale_time: float | None = None
    """When replicas last changed (epoch seconds)."""


class AutoscalerStatus(LeptonModel):
    """What the autoscaler saw and decided."""

    metric: Annotated[str, StringConstraints(max_length=64)] | None = None
    """The metric scaled on (spec.autoscaling.metric)."""
    metric_value: float | None = None
    """Last observed value: per replica for rps, concurrency, queueDepth and custom AverageValue;
    the level for latencyP95 (ms), gpuUtilization (%) and custom Value."""
    target: float | None = None
    """spec.autoscaling.target."""
    desired_replicas: Annotated[int, Field(ge=0)] | None = None
    """Replicas the autoscaler wants: the Deployments run this many (spec.replicas is not used while
    autoscaling is on)."""
    last_scale_time: Timestamp | None = None
    """When the replica count was last changed."""
    reason: Annotated[str, StringConstraints(max_length=64)] | None = None
    """ScaledUp, ScaledDown, ScaledToZero, Steady, MetricsUnavailable or FallbackReplicas."""
    message: Annotated[str, StringConstraints(max_length=4096)] | None = None
    """Why the autoscaler decided as it did, or why it could not (e.g. Prometheus unreachable)."""
    burst: bool | None = None
    """Whether burst mode (no scale-down, the burst window's value followed) is on."""
    memory: AutoscalerMemory | None = None
    """Windows and counters the next decisions need."""


class InferenceServiceStatus(LeptonModel):
    """Observed state of an InferenceService, written by the operator."""

    phase: InferenceServicePhase | None = None
    """Pending, Deploying, Ready, RollingOut, Degraded, ScaledToZero or Failed."""
    url: str | None = None
    """URL of the service's Open Inference Protocol endpoint."""
    replicas: Annotated[int, Field(ge=0)] = 0
    """Model-server replicas that exist (all versions)."""
    ready_replicas: Annotated[int, Field(ge=0)] = 0
    """Replicas ready to serve."""
    selector: str | None = None
    """Label selector of the replicas, in string form (for the scale subresource and HPAs)."""
    current_version: str | None = None
    """Version serving the stable traffic."""
    canary: CanaryStatus | None = None
    """The rollout in progress, or the last one rolled back or aborted."""
    failed_versions: Annotated[list[FailedVersion], Field(max_length=MAX_FAILED_VERSIONS)] | None = None
    """Versions whose rollout failed, newest last (at most 10)."""
    traffic: list[TrafficTarget] | None = None
    """Current traffic split by version."""
    autoscaler: AutoscalerStatus | None = None
    """State of the autoscaler."""
    conditions: ConditionList | None = None
    """Conditions of the service (types: Ready, RolloutProgressing, Degraded, MetricsAvailable)."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """metadata.generation the status was computed from."""


class InferenceService(_ObjectBase):
    """Serves a model version over Open Inference Protocol v2, autoscaled, with canary rollouts."""

    KIND: ClassVar[str] = KIND
    PLURAL: ClassVar[str] = PLURAL

    kind: Literal["InferenceService"] = "InferenceService"
    """Kind of the object: InferenceService."""
    spec: InferenceServiceSpec
    """Desired state of the service."""
    status: InferenceServiceStatus | None = None
    """Observed state of the service (written by the operator)."""
