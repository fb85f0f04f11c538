"""The rollout part of the InferenceService API: canary steps, analysis, the manual-control
annotations, and what status.canary and status.failedVersions say (policies/rollout.py decides)."""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.common import DnsLabel, LeptonModel, cel, validations
from lepton.api.times import Timestamp


class RolloutStrategy(StrEnum):
    """How a new version replaces the current one."""

    CANARY = "Canary"
    RECREATE = "Recreate"


DEFAULT_PAUSE_SECONDS = 60
PROMOTE_ANNOTATION = "lepton.ai/promote"
"""`<version>` promotes that version's rollout fully (the rest of the steps and their analysis are
skipped, as Argo Rollouts' `promote --full`); `<version>:<step>` only ends the pauses of steps up to
that index (as `promote` ends the current pause). It acts on the rollout of that version only, so
an annotation left in git never acts on a later rollout."""
ABORT_ANNOTATION = "lepton.ai/abort"
"""`<version>` rolls that version's rollout back at once and remembers it as failed;
`<version>:<n>` aborts its n-th retry (a retry is not aborted by an abort left from before it)."""
RETRY_ANNOTATION = "lepton.ai/retry"
"""`<version>` (or `<version>:<n>` for the n-th retry) rolls a failed or aborted version out again.
Each n acts once: the status remembers how many retries were made."""
ROLLOUT_ANNOTATIONS = (PROMOTE_ANNOTATION, ABORT_ANNOTATION, RETRY_ANNOTATION)
DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30
"""Seconds a rolled-back candidate keeps its replicas after its weight went to 0 (Argo Rollouts'
abortScaleDownDelaySeconds): requests already sent to it finish, and its pods stay for inspection."""
MAX_FAILED_VERSIONS = 10

_STEP_RULES = [
    cel(
        "!has(self.untilPromoted) || !self.untilPromoted || !has(self.pauseSeconds)",
        "rollout.steps[].pauseSeconds cannot be set with untilPromoted: a step waits either "
        "pauseSeconds or until promoted",
        field_path=".pauseSeconds",
    ),
]


class CanaryStep(LeptonModel):
    """One step of a canary rollout: send `weight` % of traffic to the new version, then wait
    `pauseSeconds` (or, with untilPromoted, until promoted) with the analysis passing."""

    model_config = ConfigDict(json_schema_extra=validations(_STEP_RULES))

    weight: Annotated[int, Field(ge=0, le=100)]
    """Percentage of traffic sent to the new version during this step (0-100). 0 is a shadow step:
    it needs traffic.mirrorPercent, and the new version sees only mirrored requests."""
    pause_seconds: Annotated[int, Field(ge=0, le=86400)] | None = None
    """Seconds to stay at this step, with the analysis passing, before the next (default 60)."""
    until_promoted: bool | None = None
    """Stay at this step until promoted (annotation lepton.ai/promote, or `lepton rollout promote`),
    like Argo Rollouts' `pause: {}`. The analysis keeps running: failures still roll back."""

    @model_validator(mode="after")
    def _pause(self) -> CanaryStep:
        if self.until_promoted and self.pause_seconds is not None:
            raise ValueError(_STEP_RULES[0].message)
        return self

    def pause(self) -> int | None:
        """Seconds to stay at this step; None waits until promoted."""
        if self.until_promoted:
            return None
        return DEFAULT_PAUSE_SECONDS if self.pause_seconds is None else self.pause_seconds


_CUSTOM_CHECK_RULES = [
    cel(
        "has(self.max) || has(self.min)",
        "rollout.analysis.custom[].max or min must be set: a check without a threshold checks nothing",
        field_path=".max",
    ),
]


class CustomCheck(LeptonModel):
    """A PromQL check of the new version with a threshold."""

    model_config = ConfigDict(json_schema_extra=validations(_CUSTOM_CHECK_RULES))

    name: DnsLabel
    """Name of the check, shown in status.canary.analysis (unique)."""
    query: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    """PromQL giving one series or a scalar over the analysis interval. {{namespace}}, {{service}} and
    {{version}} are replaced by the service's namespace, name and the NEW version (escaped for a
    double-quoted label value), as in autoscaling.query. Write the window in the query, e.g. [30s]
    for an intervalSeconds of 30."""
    max: float | None = None
    """Highest passing value (inclusive)."""
    min: float | None = None
    """Lowest passing value (inclusive)."""

    @model_validator(mode="after")
    def _threshold(self) -> CustomCheck:
        if self.max is None and self.min is None:
            raise ValueError(_CUSTOM_CHECK_RULES[0].message)
        return self


class Analysis(LeptonModel):
    """Metric checks of the new version (its `version` label only, never the stable pods) that gate
    each canary step; failing them rolls the new version back."""

    interval_seconds: Annotated[int, Field(ge=5, le=3600)] = 30
    """Seconds between checks; each check looks at this many seconds of the new version's requests."""
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.05
    """Highest acceptable fraction of failed (5xx) requests of the new version."""
    max_latency_p95_ms: Annotated[float, Field(gt=0)] | None = None
    """Highest acceptable 95th percentile latency of the new version in milliseconds; unset: not checked."""
    failure_limit: Annotated[int, Field(ge=1, le=100)] = 3
    """Failed checks after which the rollout is rolled back."""
    min_requests: Annotated[int, Field(ge=0)] = 10
    """Requests the new version must have served in an interval for the check to count; fewer make
    the check Inconclusive: it counts neither way and the step waits."""
    consecutive_error_limit: Annotated[int, Field(ge=0, le=100)] = 4
    """Checks in a row whose queries failed (Prometheus unreachable, bad query) beyond which the
    rollout holds with a condition (as Argo Rollouts' default, 4). Errors never promote, and never
    roll back on their own."""
    custom: (
        Annotated[
            list[CustomCheck],
            Field(
                max_length=8,
                json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
        ]
        | None
    ) = None
    """Extra PromQL checks with thresholds (names unique)."""


_STEPS_RULES = [
    cel(
        "self.map(s, s.weight).isSorted() && self.all(s, self.exists_one(t, t.weight == s.weight))",
        "rollout.steps weights must be strictly increasing",
    ),
]


def _default_steps() -> list[CanaryStep]:
    return [CanaryStep(weight=20, pause_seconds=60), CanaryStep(weight=50, pause_seconds=60)]


class Rollout(LeptonModel):
    """How a new version (a new Ready ModelVersion under "latest", or a changed model.version) replaces
    the serving one."""

    strategy: RolloutStrategy = RolloutStrategy.CANARY
    """Canary shifts traffic step by step, gated by analysis, then promotes; Recreate replaces all
    replicas at once (steps and analysis are ignored)."""
    steps: Annotated[
        list[CanaryStep],
        Field(min_length=1, max_length=10, json_schema_extra=validations(_STEPS_RULES)),
    ] = Field(default_factory=_default_steps)
    """Canary steps with strictly increasing weights; after the last step the new version gets 100 %."""
    analysis: Analysis = Field(default_factory=Analysis)
    """Checks that gate each step."""
    progress_deadline_seconds: Annotated[int, Field(ge=10, le=86400)] = 600
    """Seconds a rollout may go without progress past what a step waits for (the new version's
    replicas not Ready, no passing check after the pause) before it is held with a condition and an
    event (as Argo Rollouts' progressDeadlineSeconds). Steps waiting until promoted never time out."""
    progress_deadline_abort: bool = False
    """Roll back instead of holding when progressDeadlineSeconds passes (Argo's progressDeadlineAbort)."""

    @model_validator(mode="after")
    def _increasing(self) -> Rollout:
        weights = [step.weight for step in self.steps]
        if any(a >= b for a, b in itertools.pairwise(weights)):
            raise ValueError(_STEPS_RULES[0].message)
        return self


class RolloutPhase(StrEnum):
    """Where a canary rollout is."""

    PROGRESSING = "Progressing"
    """Going through the steps."""
    PAUSED = "Paused"
    """At a step that waits until promoted."""
    PROMOTING = "Promoting"
    """Past the last step: the new version is scaled to full size, then gets all traffic."""
    HOLDING = "Holding"
    """Stopped without rolling back: analysis queries keep failing, or the progress deadline passed."""
    ROLLED_BACK = "RolledBack"
    """The analysis failed (or the deadline passed with progressDeadlineAbort): weight 0."""
    ABORTED = "Aborted"
    """Aborted by hand (lepton.ai/abort): weight 0."""


class AnalysisResult(StrEnum):
    """The verdict of one analysis check, or of one metric in it."""

    PASS = "Pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "Fail"
    INCONCLUSIVE = "Inconclusive"
    """Too few requests, or no data: counts neither way."""
    ERROR = "Error"
    """The query could not be answered: counts neither way, holds past consecutiveErrorLimit."""


class MetricMeasurement(LeptonModel):
    """One metric of an analysis check."""

    name: Annotated[str, StringConstraints(max_length=63)]
    """errorRate, latencyP95Ms, or the name of a custom check."""
    result: AnalysisResult
    """Pass, Fail, Inconclusive or Error."""
    value: float | None = None
    """The measured value, when finite."""
    max: float | None = None
    """Highest passing value."""
    min: float | None = None
    """Lowest passing value."""
    message: Annotated[str, StringConstraints(max_length=1024)] | None = None
    """What was measured, or why there is no value."""


class AnalysisStatus(LeptonModel):
    """The last analysis check of the new version."""

    time: Timestamp
    """When the check ran."""
    result: AnalysisResult
    """Pass, Fail, Inconclusive or Error."""
    requests: float | None = None
    """Requests the new version served in the interval."""
    metrics: Annotated[list[MetricMeasurement], Field(max_length=16)] | None = None
    """Each metric with its value, threshold and result."""
    message: Annotated[str, StringConstraints(max_length=4096)] | None = None
    """The check in words."""


class CanaryStatus(LeptonModel):
    """The canary rollout in progress, or the last one rolled back."""

    version: str
    """Version being rolled out."""
    phase: RolloutPhase | None = None
    """Progressing, Paused, Promoting, Holding, RolledBack or Aborted."""
    weight: Annotated[int, Field(ge=0, le=100)] = 0
    """Percentage of traffic the new version gets now."""
    step: Annotated[int, Field(ge=0)] = 0
    """Index of the current step in spec.rollout.steps (their count while promoting)."""
    start_time: Timestamp | None = None
    """When the rollout began."""
    step_start_time: Timestamp | None = None
    """When the current step's weight took effect (unset while the new version's replicas for it are
    not Ready yet)."""
    next_step_time: Timestamp | None = None
    """When the current step's pause ends (the step then completes on a passing check); unset while
    it waits until promoted."""
    last_progress_time: Timestamp | None = None
    """When the rollout last moved (started, took a step's weight, left a step): the progress deadline
    counts from here or from the end of the step's pause, whichever is later."""
    next_analysis_time: Timestamp | None = None
    """When the next analysis check is due."""
    analysis: AnalysisStatus | None = None
    """The last analysis check."""
    passed_checks: Annotated[int, Field(ge=0)] = 0
    """Checks passed in this rollout."""
    failed_checks: Annotated[int, Field(ge=0)] = 0
    """Checks failed in this rollout (failureLimit of them roll back)."""
    inconclusive_checks: Annotated[int, Field(ge=0)] = 0
    """Checks with too few requests or no data."""
    error_checks: Annotated[int, Field(ge=0)] = 0
    """Checks whose queries failed."""
    consecutive_errors: Annotated[int, Field(ge=0)] = 0
    """Checks in a row whose queries failed."""
    retries: Annotated[int, Field(ge=0)] = 0
    """Retries of this version before this rollout (lepton.ai/retry)."""
    scale_down_time: Timestamp | None = None
    """Rolled back: when the new version's replicas are scaled down."""
    reason: Annotated[str, StringConstraints(max_length=64)] | None = None
    """Why the rollout is in its phase (e.g. AnalysisFailed, ProgressDeadlineExceeded)."""
    replica_split: Annotated[str, StringConstraints(max_length=1024)] | None = None
    """Without Gateway API: the split the replica counts give against the step's weight."""
    message: Annotated[str, StringConstraints(max_length=4096)] | None = None
    """The rollout in words."""


class FailedVersion(LeptonModel):
    """A version whose rollout failed or was aborted: not rolled out again (also not under "latest")
    until a newer version appears or lepton.ai/retry asks for it."""

    version: str
    """The model version."""
    reason: Annotated[str, StringConstraints(max_length=64)]
    """AnalysisFailed, ProgressDeadlineExceeded or RolloutAborted."""
    time: Timestamp
    """When it failed."""
    message: Annotated[str, StringConstraints(max_length=4096)] | None = None
    """The failing values."""
    retries: Annotated[int, Field(ge=0)] = 0
    """Retries made (lepton.ai/retry: `<version>:<n>` acts while n is above this)."""
    blocked: bool = True
    """Whether the version is kept from rolling out (false while a retry runs)."""
