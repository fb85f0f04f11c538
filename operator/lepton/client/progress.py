"""Pure: what a followed TrainingJob is doing, from its object, its pods and the queue.

`lepton train --follow` and `TrainingJob.wait(progress=True)` poll the cluster, reduce what they
read to a Snapshot here, print the lines `changes` returns and stop at `outcome`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lepton.client.explain import explain

FAILED, SUCCEEDED = "Failed", "Succeeded"


@dataclass(frozen=True)
class Progress:
    step: int | None = None
    epoch: float | None = None
    loss: float | None = None
    samples_per_second: float | None = None
    last_update: str | None = None

    def describe(self) -> str:
        parts = []
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch:g}")
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        if self.samples_per_second is not None:
            parts.append(f"{self.samples_per_second:,.1f} samples/s")
        return ", ".join(parts)


@dataclass(frozen=True)
class Snapshot:
    phase: str = ""
    reason: str = ""
    message: str = ""
    queue: str = ""
    """Queue position and what the job waits for, while Queued."""
    pods: str = ""
    """Worker pods by state, e.g. "2 Running, 2 Pending"."""
    restarts: int = 0
    progress: Progress | None = None
    model_version: str = ""
    model_version_phase: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)


def _phase_condition(status: Mapping[str, Any], phase: str) -> Mapping[str, Any]:
    for condition in status.get("conditions") or []:
        if condition.get("type") == phase and condition.get("status") == "True":
            return dict(condition)
    return {}


def progress_of(status: Mapping[str, Any]) -> Progress | None:
    raw = status.get("progress")
    if not isinstance(raw, Mapping) or not raw:
        return None
    return Progress(
        step=raw.get("step"),
        epoch=raw.get("epoch"),
        loss=raw.get("loss"),
        samples_per_second=raw.get("samplesPerSecond"),
        last_update=raw.get("lastUpdate"),
    )


def pods_summary(pods: Sequence[Mapping[str, Any]]) -> str:
    """Worker pods by phase, in life order; a pod being deleted counts as Terminating."""
    order = ["Pending", "Running", "Succeeded", "Failed", "Terminating", "Unknown"]
    counts = Counter(
        "Terminating"
        if p.get("metadata", {}).get("deletionTimestamp")
        else p.get("status", {}).get("phase", "Unknown")
        for p in pods
    )
    return ", ".join(f"{counts[s]} {s}" for s in order if counts[s])


def queue_position(
    job: Mapping[str, Any], queued: Sequence[Mapping[str, Any]], priorities: Mapping[str, int]
) -> int:
    """1-based position of ``job`` among the Queued jobs of its queue, in admission order
    (policies.admission.queue_order: priority first, then age, then namespace/name)."""

    def queue_of(j: Mapping[str, Any]) -> str:
        return str(j.get("spec", {}).get("scheduling", {}).get("queue") or "")

    def key(j: Mapping[str, Any]) -> tuple[int, str, str]:
        meta = j.get("metadata", {})
        priority = priorities.get(str(j.get("spec", {}).get("scheduling", {}).get("priorityClassName")), 0)
        return (
            -priority,
            str(meta.get("creationTimestamp", "")),
            f"{meta.get('namespace')}/{meta.get('name')}",
        )

    same = [
        j for j in queued if queue_of(j) == queue_of(job) and j.get("status", {}).get("phase") == "Queued"
    ]
    if key(job) not in {key(j) for j in same}:
        same.append(job)
    return sorted(map(key, same)).index(key(job)) + 1


def snapshot(
    job: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]] = (),
    *,
    position: int | None = None,
    model_version: Mapping[str, Any] | None = None,
) -> Snapshot:
    status = job.get("status") or {}
    phase = str(status.get("phase") or "")
    condition = _phase_condition(status, phase)
    queue = ""
    if phase == "Queued":
        waits = status.get("admissionMessage") or condition.get("message") or "admission"
        queue = (f"position {position} in the queue; " if position else "") + f"waiting for: {waits}"
    mv_status = (model_version or {}).get("status") or {}
    return Snapshot(
        phase=phase,
        reason=str(condition.get("reason") or ""),
        message=str(condition.get("message") or ""),
        queue=queue,
        pods=pods_summary(pods),
        restarts=int(status.get("restartCount") or 0),
        progress=progress_of(status),
        model_version=str(status.get("modelVersion") or ""),
        model_version_phase=str(mv_status.get("phase") or ""),
        metrics=dict(status.get("metrics") or {}),
    )


def changes(before: Snapshot | None, now: Snapshot) -> list[str]:
    """Lines saying what changed between two snapshots (all of ``now`` when there was none)."""
    prev = before or Snapshot()
    lines: list[str] = []
    if (now.phase, now.reason) != (prev.phase, prev.reason) and now.phase:
        why = now.message or explain("TrainingJob", now.reason) or explain("TrainingJob", now.phase)
        reason = f" ({now.reason})" if now.reason and now.reason != now.phase else ""
        lines.append(f"phase {now.phase}{reason}" + (f": {why}" if why else ""))
    if now.restarts > prev.restarts:
        lines.append(f"restart {now.restarts}")
    if now.queue and now.queue != prev.queue:
        lines.append(now.queue)
    if now.pods and now.pods != prev.pods:
        lines.append(f"pods: {now.pods}")
    if now.progress and now.progress != prev.progress and now.progress.describe():
        lines.append(now.progress.describe())
    if now.metrics and now.metrics != prev.metrics:
        lines.append("metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(now.metrics.items())))
    if now.model_version and (now.model_version, now.model_version_phase) != (
        prev.model_version,
        prev.model_version_phase,
    ):
        lines.append(
            f"model version {now.model_version}"
            + (f": {now.model_version_phase}" if now.model_version_phase else "")
        )
    return lines


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    reason: str
    message: str

    def describe(self) -> str:
        why = self.message or explain("TrainingJob", self.reason)
        return f"{SUCCEEDED if self.succeeded else FAILED}: {self.reason}" + (f": {why}" if why else "")


def outcome(now: Snapshot) -> Outcome | None:
    """Succeeded or Failed with the reason; None while the job goes on."""
    if now.phase == SUCCEEDED:
        return Outcome(True, now.reason or SUCCEEDED, now.message)
    if now.phase == FAILED:
        return Outcome(False, now.reason or FAILED, now.message)
    return None
