"""What the TrainingJob tables share: the state a plan leaves once its status is written."""

from __future__ import annotations

from dataclasses import replace

from lepton.policies.lifecycle import JobState, Plan


def applied(job: JobState, first: Plan, now: float) -> JobState:
    """``job`` as the next reconcile reads it after ``first``'s status write at ``now``."""
    return replace(
        job,
        phase=first.phase,
        reason=first.reason,
        message=first.message,
        restart_count=first.restart_count,
        counted_restarts=first.counted_restarts,
        worker_restarts=first.worker_restarts,
        start_time=first.start_time,
        completion_time=first.completion_time,
        phase_since=now if first.phase is not job.phase else job.phase_since,
    )
