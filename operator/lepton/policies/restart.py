"""Restart decisions: what a failed worker means for its job, and how long to wait before retrying.

A worker failure is either retryable (the group is restarted, or the worker replaced when elastic)
or permanent (the job fails). Losing a pod because its node failed, or to a hardware fault
(policies.gpu_health), is never the job's fault, so it never counts against backoffLimit.

Two budgets: backoffLimit counts the job's charged restarts, maxRestartsPerWorker those each worker
(replica index) caused. A worker is charged when it is among the causes of a charged restart, so a
flaky worker that keeps killing the gang fails the job before it eats the whole job budget.

When one worker dies, its peers fail soon after with whatever their collectives raise (usually exit
code 1), so the verdict is taken on the causes: the failures of the first second, plus every pod
lost without exiting. A job is failed for good only when all of its causes are permanent.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lepton.api.trainingjob import RestartCause, TrainingJobReason
from lepton.policies.gpu_health import PREEMPTION_DISRUPTIONS


class RestartPolicy(enum.StrEnum):
    ON_FAILURE = "OnFailure"
    NEVER = "Never"
    EXIT_CODE = "ExitCode"


class Action(enum.StrEnum):
    RESTART = "Restart"  # delete the attempt's pods and recreate the whole group
    REPLACE = "Replace"  # elastic: recreate only the lost workers
    FAIL = "Fail"


@dataclass(frozen=True)
class WorkerFailure:
    index: int
    # None when the pod was lost without exiting (node failure, eviction, deletion).
    exit_code: int | None
    reason: str = "Error"
    node_lost: bool = False
    finished_at: float | None = None  # when the worker exited (epoch seconds), when known
    pod: str | None = None
    node: str | None = None
    fault: str | None = None  # why the hardware is to blame (policies.gpu_health): never charged

    @property
    def lost(self) -> bool:
        return self.exit_code is None or self.node_lost or self.fault is not None

    @property
    def uncharged(self) -> bool:
        return self.node_lost or self.fault is not None

    def describe(self) -> str:
        if self.node_lost:
            return f"worker {self.index} was lost with its node ({self.reason})"
        if self.fault is not None:
            return f"worker {self.index} was lost to a hardware fault ({self.fault})"
        if self.exit_code is None:
            return f"worker {self.index} was lost ({self.reason})"
        return f"worker {self.index} exited with code {self.exit_code} ({self.reason})"


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 10.0
    cap_seconds: float = 300.0

    def delay(self, counted_restarts: int) -> float:
        """Exponential in the restarts already counted: base, 2*base, 4*base, ... up to the cap."""
        exponent = min(max(counted_restarts, 0), 32)
        return float(min(self.cap_seconds, self.base_seconds * (2**exponent)))


@dataclass(frozen=True)
class Verdict:
    action: Action
    counts: bool  # whether this restart counts against backoffLimit
    reason: TrainingJobReason
    message: str
    delay_seconds: float = 0.0
    replace: tuple[int, ...] = ()
    causes: tuple[WorkerFailure, ...] = ()  # the failures that started it (see ``causes``)
    charged: tuple[int, ...] = ()  # workers charged against maxRestartsPerWorker


# lepton-train's exit code when the torchelastic agent itself fails (rendezvous timeout, store
# unreachable): not the script's fault, so retried like a death by signal (see is_retryable).
AGENT_FAILURE_EXIT_CODE = 200


def is_retryable(policy: RestartPolicy, failure: WorkerFailure) -> bool:
    if policy is RestartPolicy.NEVER:
        return False
    if policy is RestartPolicy.ON_FAILURE or failure.fault is not None:
        return True
    # ExitCode: 128-255 means killed by a signal (OOM, preemption, SIGTERM) or the launcher's agent
    # failing (AGENT_FAILURE_EXIT_CODE) and is worth retrying; 1-127 is the program saying it cannot
    # succeed (127: the program is not in the image).
    return failure.lost or (failure.exit_code is not None and 128 <= failure.exit_code <= 255)


# 128 + SIGTERM: the worker was told to stop (a preemption, a drain, a scale-down) and did.
SIGTERM_EXIT_CODE = 143


def cause_of(policy: RestartPolicy, failure: WorkerFailure) -> RestartCause:
    """What the failure says about who failed, in the terms ``is_retryable`` judged it by: the node
    went away (NodeLoss); the pod was taken away or told to stop (Preemption: evicted, deleted,
    SIGTERM); a retryable exit (Infrastructure: a signal, an OOM kill, the agent's own failure); else
    the program's own error (UserError). A hardware fault (HardwareFault) is a fault the node's GPU
    health reports, a hardware exit code, or a DisruptionTarget condition other than a preemption."""
    if failure.node_lost:
        return RestartCause.NODE_LOSS
    if failure.fault is not None:
        preempted = failure.reason in PREEMPTION_DISRUPTIONS
        return RestartCause.PREEMPTION if preempted else RestartCause.HARDWARE_FAULT
    if failure.exit_code is None or failure.exit_code == SIGTERM_EXIT_CODE:
        return RestartCause.PREEMPTION
    if is_retryable(RestartPolicy.EXIT_CODE, failure):
        return RestartCause.INFRASTRUCTURE
    return RestartCause.USER_ERROR


# Kubernetes reports finish times to the second: failures this close together are taken as one.
SAME_MOMENT_SECONDS = 1.0


def causes(failures: Sequence[WorkerFailure]) -> list[WorkerFailure]:
    """The failures that started it: the earliest exits, and every failure without a finish time."""
    timed = [f.finished_at for f in failures if f.finished_at is not None]
    if not timed:
        return list(failures)
    first = min(timed)
    return [f for f in failures if f.finished_at is None or f.finished_at <= first + SAME_MOMENT_SECONDS]


def decide(
    *,
    policy: RestartPolicy,
    failures: Sequence[WorkerFailure],
    backoff_limit: int,
    counted_restarts: int,
    backoff: Backoff,
    elastic_min_replicas: int | None = None,
    running_workers: int = 0,
    max_restarts_per_worker: int | None = None,
    worker_restarts: Mapping[int, int] | None = None,
) -> Verdict | None:
    """Decide what to do about the failures of the current attempt; None when there are none.

    ``counted_restarts`` is how many earlier restarts counted against ``backoff_limit``;
    ``worker_restarts`` how many each worker was charged (against ``max_restarts_per_worker``);
    ``running_workers`` how many workers of the attempt still run (for elastic replacement).
    """
    if not failures:
        return None
    ordered = sorted(failures, key=lambda f: f.index)
    started = causes(ordered)
    permanent = [f for f in started if not is_retryable(policy, f)]
    cause = tuple(started)
    if len(permanent) == len(started):
        first = permanent[0]
        return Verdict(
            Action.FAIL,
            counts=False,
            reason=TrainingJobReason.WORKER_FAILED,
            message=f"{first.describe()}; not retryable under restartPolicy {policy.value}",
            causes=cause,
        )
    counts = not all(f.uncharged for f in started)
    summary = "; ".join(f.describe() for f in ordered)
    if counts and counted_restarts >= backoff_limit:
        return Verdict(
            Action.FAIL,
            counts=False,
            reason=TrainingJobReason.BACKOFF_LIMIT_EXCEEDED,
            message=f"{summary}; backoffLimit {backoff_limit} reached after {counted_restarts} restarts",
            causes=cause,
        )
    charged = tuple(sorted({f.index for f in started if not f.uncharged})) if counts else ()
    spent = worker_restarts or {}
    exhausted = [
        i
        for i in charged
        if max_restarts_per_worker is not None and spent.get(i, 0) >= max_restarts_per_worker
    ]
    if exhausted:
        worker = exhausted[0]
        return Verdict(
            Action.FAIL,
            counts=False,
            reason=TrainingJobReason.WORKER_RESTART_LIMIT_EXCEEDED,
            message=(
                f"{summary}; maxRestartsPerWorker {max_restarts_per_worker} reached: worker {worker} "
                f"caused {spent.get(worker, 0)} restarts"
            ),
            causes=cause,
        )
    delay = backoff.delay(counted_restarts if counts else 0)
    if elastic_min_replicas is not None and running_workers >= elastic_min_replicas:
        return Verdict(
            Action.REPLACE,
            counts=counts,
            reason=TrainingJobReason.WORKER_REPLACED,
            message=f"{summary}; replacing it while {running_workers} workers keep running",
            replace=tuple(f.index for f in ordered),
            causes=cause,
        )
    return Verdict(
        Action.RESTART,
        counts=counts,
        reason=_restart_reason(started) if not counts else TrainingJobReason.WORKER_FAILED,
        message=f"{summary}; restarting all workers in {delay:g}s",
        delay_seconds=delay,
        causes=cause,
        charged=charged,
    )


def _restart_reason(started: Sequence[WorkerFailure]) -> TrainingJobReason:
    """An uncharged restart: NodeLost when every cause went with its node, else HardwareFault."""
    if all(f.node_lost for f in started):
        return TrainingJobReason.NODE_LOST
    return TrainingJobReason.HARDWARE_FAULT
