"""The TrainingJob state machine: from the job, its observed pods and the clock to one plan.

A plan says which phase the job is in and what to do about it (pods to create or delete, whether
the job should be deleted, when to look again). The handler executes plans; it decides nothing.
Running ``plan`` again on the state a plan produced gives a plan with nothing to do. What it reads
and what it plans (JobState, Admission, Timing, Plan) are in policies.job_plan, named here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lepton.api.trainingjob import TrainingJobReason
from lepton.policies import elastic, restart, restart_history, worker_failures
from lepton.policies.gpu_health import NO_FAULTS, Faults
from lepton.policies.job_plan import Admission, JobState, Plan, Timing
from lepton.policies.status import Phase, PodState, count

__all__ = ["Admission", "JobState", "Plan", "Timing", "needs_admission", "plan"]


def needs_admission(job: JobState, pods: Sequence[PodState], now: float, timing: Timing) -> bool:
    """Whether the job waits for GPUs now: the handler then runs admission before ``plan``."""
    if job.invalid or job.suspend or (job.phase is not None and job.phase.finished):
        return False
    if job.phase is not None and job.phase.holds_admission:
        return False
    if any(p.deleting for p in pods):
        return False
    if any(p.attempt == job.restart_count and p.active for p in pods):
        return False  # workers exist: admitted before the status could say so (operator restart)
    if job.phase is Phase.RESTARTING:
        return not pods and now >= _restart_at(job, timing)
    return True


def _restart_at(job: JobState, timing: Timing) -> float:
    # A restart after node loss or a hardware fault did not count, and waited the first backoff
    # step (restart.decide).
    uncharged = job.reason in (TrainingJobReason.NODE_LOST, TrainingJobReason.HARDWARE_FAULT)
    counted_before = 0 if uncharged else max(job.counted_restarts - 1, 0)
    return (job.phase_since or 0.0) + timing.backoff.delay(counted_before)


@dataclass(frozen=True)
class _Ctx:
    job: JobState
    base: Plan
    pods: Sequence[PodState]
    current: Sequence[PodState]
    stale: tuple[str, ...]
    now: float
    lost_nodes: frozenset[str]
    admission: Admission | None
    timing: Timing
    faults: Faults
    grow_to: int | None = None

    def on_lost(self, pods: Sequence[PodState]) -> tuple[str, ...]:
        return tuple(p.name for p in pods if p.node is not None and p.node in self.lost_nodes)


def plan(
    job: JobState,
    pods: Sequence[PodState],
    *,
    now: float,
    lost_nodes: frozenset[str] = frozenset(),
    admission: Admission | None = None,
    timing: Timing | None = None,
    faults: Faults = NO_FAULTS,
    grow_to: int | None = None,
) -> Plan:
    """``grow_to``: an admission pass grew the elastic job to this size (policies.elastic)."""
    attempt = job.restart_count
    current = [p for p in pods if p.attempt == attempt]
    base = Plan(
        phase=job.phase or Phase.CREATED,
        reason=job.reason or TrainingJobReason.CREATED,
        message=job.message,
        attempt=attempt,
        restart_count=job.restart_count,
        counted_restarts=job.counted_restarts,
        start_time=job.start_time,
        completion_time=job.completion_time,
        worker_restarts=job.worker_restarts,
        counts=count(current),
        sizing=job.sizing,
    )
    ctx = _Ctx(
        job=job,
        base=base,
        pods=pods,
        current=current,
        stale=tuple(p.name for p in pods if p.attempt != attempt and not p.deleting),
        now=now,
        lost_nodes=lost_nodes,
        admission=admission,
        timing=timing or Timing(),
        faults=faults,
        grow_to=grow_to,
    )
    if job.phase is not None and job.phase.finished:
        return _finished(ctx)
    if job.invalid:
        return _finish(ctx, Phase.FAILED, job.invalid_reason, job.invalid, clean="All")
    deadline = job.active_deadline_seconds
    if deadline is not None and job.start_time is not None and now >= job.start_time + deadline:
        message = f"ran longer than activeDeadlineSeconds ({deadline:g}s)"
        return _finish(ctx, Phase.FAILED, TrainingJobReason.DEADLINE_EXCEEDED, message, clean="All")
    if job.suspend:
        return _with(
            base,
            phase=Phase.SUSPENDED,
            reason=TrainingJobReason.SUSPENDED,
            message="spec.runPolicy.suspend is true: workers stopped, GPUs released",
            start_time=None,
            delete=tuple(p.name for p in pods if not p.deleting),
        )
    if job.phase is Phase.RESTARTING:
        return _restarting(ctx)
    if job.phase is None or not job.phase.holds_admission:
        if any(p.deleting for p in pods):
            # Names are reused across attempts: wait for the old workers to go before admitting.
            return _with(base, force_delete=ctx.on_lost(pods), requeue_after=ctx.timing.poll_seconds)
        return _by_deadline(_admit(ctx), job, now)
    return _by_deadline(_admitted(ctx), job, now)


def _by_deadline(plan: Plan, job: JobState, now: float) -> Plan:
    """A job holding GPUs looks again when its activeDeadlineSeconds ends: admission lends the
    nodes held for a reservation to a job only while it is bound to be gone before they drain, so
    the deadline must stop it on time, not at the next resync."""
    deadline, start = job.active_deadline_seconds, plan.start_time
    if deadline is None or start is None or not plan.phase.holds_admission:
        return plan
    due = max(start + deadline - now, 0.0)
    return replace(plan, requeue_after=due if plan.requeue_after is None else min(plan.requeue_after, due))


def _with(base: Plan, **changes: Any) -> Plan:
    return replace(base, **changes)


def _finished(ctx: _Ctx) -> Plan:
    job = ctx.job
    delete = _cleanup(ctx.pods, job.clean_pod_policy)
    ttl = job.ttl_seconds_after_finished
    if ttl is None or job.completion_time is None:
        return _with(ctx.base, delete=delete)
    remaining = job.completion_time + ttl - ctx.now
    if remaining <= 0:
        return _with(ctx.base, delete=delete, delete_job=True)
    return _with(ctx.base, delete=delete, requeue_after=remaining)


def _cleanup(pods: Sequence[PodState], policy: str) -> tuple[str, ...]:
    if policy == "All":
        return tuple(p.name for p in pods if not p.deleting)
    if policy == "Running":
        return tuple(p.name for p in pods if p.active)
    return ()


def _finish(
    ctx: _Ctx,
    phase: Phase,
    reason: str,
    message: str,
    *,
    clean: str = "Running",
    result_pod: str | None = None,
) -> Plan:
    # Workers still running when the job finishes are stopped whatever cleanPodPolicy says: a
    # finished job must not hold GPUs. cleanPodPolicy decides about the rest on the next pass.
    return _with(
        ctx.base,
        phase=phase,
        reason=reason,
        message=message,
        completion_time=ctx.now,
        delete=_cleanup(ctx.pods, clean),
        result_pod=result_pod,
    )


def _restarting(ctx: _Ctx) -> Plan:
    if ctx.pods:
        on_lost = ctx.on_lost(ctx.pods)
        leftover = tuple(p.name for p in ctx.pods if not p.deleting and p.name not in on_lost)
        return _with(ctx.base, delete=leftover, force_delete=on_lost, requeue_after=ctx.timing.poll_seconds)
    restart_at = _restart_at(ctx.job, ctx.timing)
    if ctx.now < restart_at:
        return _with(ctx.base, requeue_after=restart_at - ctx.now)
    return _admit(ctx)


def _admit(ctx: _Ctx) -> Plan:
    job, admission = ctx.job, ctx.admission
    if admission is None and any(p.active for p in ctx.current):
        admission = Admission(True, "workers of an earlier admission exist")
    if admission is None or not admission.admitted:
        message = admission.message if admission is not None else "waiting for admission"
        return _with(
            ctx.base,
            phase=Phase.QUEUED,
            reason=admission.reason if admission is not None else TrainingJobReason.WAITING_FOR_GPUS,
            message=message,
            delete=ctx.stale,
            queue_position=admission.position if admission is not None else None,
            requeue_after=admission.requeue_after if admission is not None else None,
            preempting=admission.preempting if admission is not None else (),
        )
    size = admission.size or job.replicas
    return _with(
        ctx.base,
        phase=Phase.ADMITTED,
        reason=TrainingJobReason.ADMITTED,
        message=(elastic.admitted(job.bounds, size).message if job.bounds else admission.message)
        or f"all {size} workers fit; creating them",
        start_time=job.start_time if job.start_time is not None else ctx.now,
        create=elastic.missing((p.index for p in ctx.current), size),
        delete=ctx.stale,
        sizing=elastic.admitted(job.bounds, size) if job.bounds else None,
        avoid=admission.avoid,
        place_on=admission.nodes,
    )


def _admitted(ctx: _Ctx) -> Plan:
    job, current, base = ctx.job, ctx.current, ctx.base
    phase = job.phase or Phase.ADMITTED
    rank0 = next((p for p in current if p.index == 0), None)
    if rank0 is not None and rank0.phase == "Succeeded":
        return _rank0_succeeded(ctx, rank0)

    # Once Running every worker ran in this attempt, so a missing one was deleted behind our back
    # (not so right after growth: the watch may not show the new workers yet).
    expected = job.replicas if phase is Phase.RUNNING and job.reason != TrainingJobReason.GREW else None
    failures = worker_failures.classify(
        current, lost_nodes=ctx.lost_nodes, faults=ctx.faults, expected=expected
    )
    running = worker_failures.running(current, lost_nodes=ctx.lost_nodes, faults=ctx.faults)
    verdict = restart.decide(
        policy=job.restart_policy,
        failures=failures,
        backoff_limit=job.backoff_limit,
        counted_restarts=job.counted_restarts,
        backoff=ctx.timing.backoff,
        elastic_min_replicas=job.elastic_min_replicas if all(f.lost for f in failures) else None,
        running_workers=running,
        max_restarts_per_worker=job.max_restarts_per_worker,
        worker_restarts=job.worker_restarts,
    )
    history: tuple[restart_history.Entry, ...] = ()
    # A replacement's verdict repeats until the new worker runs: its failures are new only when
    # the condition changes (the state machine's other verdicts leave the phase at once).
    repeated = verdict is not None and (verdict.reason, verdict.message) == (job.reason, job.message)
    if verdict is not None and not (verdict.action is restart.Action.REPLACE and repeated):
        history = restart_history.entries(verdict, job.restart_policy, attempt=job.restart_count, now=ctx.now)
    if verdict is not None and verdict.action is restart.Action.FAIL:
        return _with(_finish(ctx, Phase.FAILED, verdict.reason, verdict.message), history=history)
    if verdict is not None and verdict.action is restart.Action.RESTART:
        on_lost = ctx.on_lost(current)
        return _with(
            base,
            phase=Phase.RESTARTING,
            reason=verdict.reason,
            message=verdict.message,
            history=history,
            worker_restarts=restart_history.charge(job.worker_restarts, verdict.charged),
            restart_count=job.restart_count + 1,
            counted_restarts=job.counted_restarts + int(verdict.counts),
            delete=tuple(p.name for p in current if not p.deleting and p.name not in on_lost) + ctx.stale,
            force_delete=on_lost,
            requeue_after=ctx.timing.poll_seconds,
        )
    present = {p.index for p in current}
    if verdict is not None and job.bounds and all(f.node_lost for f in failures) and 0 not in verdict.replace:
        # Lost with their node: go on with the survivors rather than wait for replacements that
        # may fit nowhere; growth brings the job back to size where GPUs allow. (Worker 0 hosts the
        # c10d rendezvous the others reconnect to: it is replaced, never left out.)
        lost = set(verdict.replace)
        gone = tuple(p.name for p in current if p.index in lost and not p.deleting)
        if len(present - lost) == job.replicas:  # shrunk already; the watch still shows a lost pod
            return _with(base, force_delete=gone, delete=ctx.stale)
        sizing = elastic.shrunk(job.bounds, job.replicas, len(present - lost), verdict.message.split(";")[0])
        return _with(
            base,
            phase=Phase.RUNNING,
            reason=sizing.reason,
            message=sizing.message,
            history=history,
            force_delete=gone,
            delete=ctx.stale,
            sizing=sizing,
        )
    if verdict is not None:  # elastic: remove the lost workers, recreate each once its pod is gone
        replaced = set(verdict.replace)
        return _with(
            base,
            phase=Phase.RUNNING,
            reason=verdict.reason,
            message=verdict.message,
            history=history,
            force_delete=tuple(p.name for p in current if p.index in replaced and not p.deleting),
            create=tuple(i for i in sorted(replaced) if i not in present),
            delete=ctx.stale,
            requeue_after=ctx.timing.poll_seconds,
        )
    if job.bounds and ctx.grow_to is not None and ctx.grow_to > job.replicas and phase is Phase.RUNNING:
        # New workers join in a new c10d round; the running ones are left alone.
        sizing = elastic.grown(job.bounds, job.replicas, ctx.grow_to)
        create = elastic.missing(present, ctx.grow_to)
        return _with(
            base, reason=sizing.reason, message=sizing.message, create=create, sizing=sizing, delete=ctx.stale
        )
    if len(current) == job.replicas and all(p.phase == "Running" for p in current):
        message = f"{job.replicas} of {job.replicas} workers running"
        return _with(
            base,
            phase=Phase.RUNNING,
            reason=TrainingJobReason.ALL_WORKERS_RUNNING,
            message=message,
            delete=ctx.stale,
        )
    # A worker pinned to admission's node that the scheduler says fits nowhere it may go: admission
    # counts GPUs only, and the node lacks something else (CPU, memory) or was taken first. Made
    # again unpinned once gone (the create below leaves it out until then), kube-scheduler places it.
    unpin = tuple(p.name for p in current if p.unplaceable and not p.deleting)
    return _with(
        base, phase=phase, create=elastic.missing(present, job.replicas), delete=ctx.stale, unpin=unpin
    )


def _rank0_succeeded(ctx: _Ctx, rank0: PodState) -> Plan:
    active = [p for p in ctx.current if not p.terminal]
    if not active:
        succeeded = sum(p.phase == "Succeeded" for p in ctx.current)
        message = f"rank 0 succeeded; {succeeded} of {ctx.job.replicas} workers succeeded"
        finished = _finish(ctx, Phase.SUCCEEDED, TrainingJobReason.SUCCEEDED, message, result_pod=rank0.name)
        return _with(finished, delete=finished.delete + ctx.stale)
    grace = ctx.timing.success_grace_seconds
    grace_end = (rank0.finished_at if rank0.finished_at is not None else ctx.now) + grace
    if ctx.now < grace_end:
        return _with(ctx.base, phase=Phase.RUNNING, requeue_after=grace_end - ctx.now, delete=ctx.stale)
    return _with(
        ctx.base,
        phase=Phase.RUNNING,
        reason=TrainingJobReason.STOPPING_WORKERS,
        message=f"rank 0 succeeded; stopping {len(active)} workers still running after {grace:g}s",
        delete=tuple(p.name for p in active if not p.deleting) + ctx.stale,
        requeue_after=ctx.timing.poll_seconds,
    )
