"""The restart history in a TrainingJob's status: one entry per worker failure the operator acted
on, named by the restart policy's own classification, and kept to the latest MAX_RESTART_HISTORY.

The counts that budgets read (restartCount, workerRestarts) live apart from the history, so the
bound forgets old entries without forgiving old restarts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lepton.api.times import rfc3339_at
from lepton.api.trainingjob import MAX_RESTART_HISTORY, RestartAction, RestartCause
from lepton.policies import restart


@dataclass(frozen=True)
class Entry:
    at: float
    cause: RestartCause
    action: RestartAction
    worker: int
    attempt: int
    pod: str | None
    node: str | None
    exit_code: int | None
    reason: str
    charged: bool

    def to_status(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": rfc3339_at(self.at),
            "cause": self.cause.value,
            "action": self.action.value,
            "worker": self.worker,
            "attempt": self.attempt,
            "pod": self.pod,
            "node": self.node,
            "exitCode": self.exit_code,
            "reason": self.reason[:256] or None,
            "charged": self.charged,
        }
        return {k: v for k, v in entry.items() if v is not None}


_ACTIONS = {
    restart.Action.RESTART: RestartAction.RESTART,
    restart.Action.REPLACE: RestartAction.REPLACE,
    restart.Action.FAIL: RestartAction.FAIL,
}


def entries(
    verdict: restart.Verdict, policy: restart.RestartPolicy, *, attempt: int, now: float
) -> tuple[Entry, ...]:
    """The entries a verdict adds: one per failure that caused it."""
    return tuple(
        Entry(
            at=f.finished_at if f.finished_at is not None else now,
            cause=restart.cause_of(policy, f),
            action=_ACTIONS[verdict.action],
            worker=f.index,
            attempt=attempt,
            pod=f.pod,
            node=f.node,
            exit_code=f.exit_code,
            reason=f.reason,
            charged=f.index in verdict.charged,
        )
        for f in verdict.causes
    )


def merged(
    previous: Sequence[Mapping[str, Any]], new: Iterable[Entry], bound: int = MAX_RESTART_HISTORY
) -> list[dict[str, Any]]:
    """The previous history with ``new`` appended, oldest first, cut to the latest ``bound``."""
    history = [dict(e) for e in previous] + [e.to_status() for e in new]
    return history[-bound:] if bound > 0 else []


def charge(worker_restarts: Mapping[int, int], charged: Iterable[int]) -> dict[int, int]:
    """Per-worker charged restarts after one more restart charged to ``charged``."""
    counts = dict(worker_restarts)
    for index in charged:
        counts[index] = counts.get(index, 0) + 1
    return counts
