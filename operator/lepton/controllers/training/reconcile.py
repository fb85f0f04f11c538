"""One reconcile of one TrainingJob: observe (indices), decide (policies), act (kube), report (one
status write, then events). Every handler of the job funnels into ``reconcile``."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lepton.api.trainingjob import TrainingJob, TrainingJobReason
from lepton.builders.modelversion import ResultError, construct_model_version, parse_termination_message
from lepton.controllers.kit.events import Events, events_about
from lepton.controllers.kit.objects import ref_of
from lepton.controllers.kit.status import status_patch
from lepton.controllers.training import growth, initializer
from lepton.controllers.training.act import act
from lepton.controllers.training.context import Training
from lepton.controllers.training.indices import Indices
from lepton.controllers.training.pass_inputs import Observed
from lepton.kube import resources
from lepton.policies import lifecycle, preemption
from lepton.policies.gpu_health import Faults
from lepton.policies.job_status import Recorded, build_status, job_state, standing_only
from lepton.policies.restart import Backoff
from lepton.policies.status import WARNING_PHASES, Phase, PodState

log = logging.getLogger("lepton.trainingjob")

# Where a queued job stands (its position, what it waits for: policies.job_status.standing_only) is
# written at most this often; its phase and reason at once.
STANDING_REFRESH_S = 5.0


def timing(training: Training) -> lifecycle.Timing:
    s = training.settings
    return lifecycle.Timing(
        backoff=Backoff(s.restart_backoff_seconds, s.restart_backoff_cap_seconds),
        success_grace_seconds=s.success_grace_seconds,
        poll_seconds=min(5.0, s.resync_seconds),
    )


def job_key(body: Mapping[str, Any]) -> str:
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


async def reconcile(
    body: Mapping[str, Any], training: Training, indices: Indices, *, progress: dict[str, Any] | None = None
) -> float | None:
    """Converge one job; returns when to look again (seconds), None for "on the next event".
    ``progress`` is status.progress just read from rank 0 (controllers.training.progress)."""
    key = job_key(body)
    started = time.perf_counter()
    try:
        return await training.objects.locked(
            key, body, lambda fresh: _reconcile(fresh, key, training, indices, progress)
        )
    finally:
        training.metrics.reconcile_duration.observe(time.perf_counter() - started)


async def _reconcile(
    body: Mapping[str, Any],
    key: str,
    training: Training,
    indices: Indices,
    progress: dict[str, Any] | None,
) -> float | None:
    job = TrainingJob.model_validate(body)
    now = training.clock()
    pods = indices.job_pods(key)
    state = job_state(job)
    if (conflict := training.conflicts.get(key)) is not None and state.invalid is None:
        state = replace(state, invalid=conflict)
    if (refused := training.refused.get(key)) is not None and state.invalid is None:
        state = replace(state, invalid=refused, invalid_reason=TrainingJobReason.CONFIG_ERROR)
    # spec.initializers: until they are done, their step decides the job's plan, no worker starts.
    init = initializer.decide(job, state, key, indices, now)
    settings = training.settings
    faults = Faults(indices.gpu_faults(settings.gpu_fault_conditions), settings.hardware_exit_codes)
    plan = init.plan or await _plan(
        job, state, key, pods, training, indices, now, initialized=bool(init.condition), faults=faults
    )
    events = events_about(job)
    await initializer.act(job, init, training, key)
    created = await act(job, plan, {p.name: p.version for p in pods}, training, faults.avoid())
    if created and not (plan.delete or plan.force_delete or plan.unpin):
        # The workers just created exist (the API server said so) though the pods index shows them
        # only once the watch delivers them: the status counts them now, instead of a second status
        # write for that alone (the next reconcile finds them as this one wrote them).
        plan = replace(plan, counts=replace(plan.counts, active=plan.counts.active + created))
    result, recorded = (
        await _record_result(job, plan, pods, training, events) if plan.result_pod else (None, None)
    )
    plan = await _start_problem(job, plan, key, pods, training, now)
    desired = build_status(job, plan, now=now, result=result, progress=progress, recorded=recorded)
    desired = initializer.with_condition(desired, init, job, now)
    current, due = body.get("status"), training.standing.get(key, -math.inf) + STANDING_REFRESH_S
    if standing_only(current, desired) and due > now and not plan.preempting:
        # Written when due: a queue of a hundred jobs is not a hundred writes per admission. (A new
        # preemption is written at once: its event goes with that write.)
        later = plan.requeue_after if plan.requeue_after is not None else math.inf
        plan = replace(plan, requeue_after=min(due - now, later))
    else:
        changed = status_patch(current, desired) is not None
        if await training.objects.write_status(training.kube, ref_of(job), key, current, desired):
            if changed:
                training.standing[key] = now
            _report(job, state, plan, events)
            await events.send(training.kube)
    _account(job, state, plan, training, indices)
    if plan.delete_job:
        await resources.delete(training.kube, ref_of(job))
    return plan.requeue_after


async def _start_problem(
    job: TrainingJob, plan: lifecycle.Plan, key: str, pods: list[PodState], training: Training, now: float
) -> lifecycle.Plan:
    """Admitted, with a worker bound to a node and not starting: the kubelet's reason becomes the
    Admitted condition's (PodStartFailed, a Warning event when new), looked at again on a timer
    (policies.pod_start). Any other phase has nothing waiting to start."""
    if plan.phase is not Phase.ADMITTED:
        training.pod_starts.forget(key)
        return plan
    starts = [p.start for p in pods if p.start is not None and p.attempt == plan.attempt]
    check = await training.pod_starts.check(training.kube, key, job.namespace, starts, now)
    if check.due is not None:
        due = check.due - now
        plan = replace(
            plan, requeue_after=due if plan.requeue_after is None else min(plan.requeue_after, due)
        )
    if check.finding is None:
        if plan.reason == TrainingJobReason.POD_START_FAILED:
            # The state machine carries the last reason on: the pod that could not start now has.
            plan = replace(plan, reason=TrainingJobReason.ADMITTED, message="the workers are starting")
        return plan
    return replace(plan, reason=TrainingJobReason.POD_START_FAILED, message=check.finding.message)


async def _plan(
    job: TrainingJob,
    state: lifecycle.JobState,
    key: str,
    pods: list[PodState],
    training: Training,
    indices: Indices,
    now: float,
    *,
    initialized: bool,
    faults: Faults,
) -> lifecycle.Plan:
    """The state machine's plan, after an admission pass when the job waits for GPUs.
    ``initialized``: the initializers finished just now (the jobs index does not show it yet);
    ``faults``: nodes with faulty GPUs (never admitted onto) and the hardware exit codes."""
    tm = timing(training)
    by = training.queue.preemptions.victim_of(key, job.metadata.uid or "")
    if by is not None and state.phase is not None and state.phase.holds_admission:
        return preemption.evict(state, pods, by=by, now=now, poll_seconds=tm.poll_seconds)
    admission: lifecycle.Admission | None = None
    grow_to: int | None = None
    if growth.may_grow(state, pods) and job.spec.scheduling.gang:
        grow_to = await growth.look(key, job.metadata.uid or "", state, training, indices, now, faults)
    elif lifecycle.needs_admission(state, pods, now, tm):
        if not job.spec.scheduling.gang:
            # Every worker is created at once; elastic: all maxReplicas, the scheduler places what
            # fits and the rendezvous starts once minReplicas have joined.
            most = job.spec.elastic.max_replicas if job.spec.elastic else None
            admission = lifecycle.Admission(True, "gang admission is off (scheduling.gang: false)", size=most)
        else:

            def observe() -> Observed:
                return indices.observed(
                    initialized=key if initialized else None,
                    faults=faults.nodes,
                    now=training.clock(),  # the pass's time (it runs after the window)
                    default_reservation=training.settings.queue_reservation_seconds,
                )

            admission, others = await training.queue.admit(key, job.metadata.uid or "", observe)
            if not admission.admitted and faults.nodes:
                admission = replace(admission, message=f"{admission.message}; {faults.left_out()}")
            # The pass set GPUs aside for them: they create their workers now, not after a debounce.
            training.wakeups.kick_all(others, at_once=True)
            # Each victim stops its own workers: the preemptor waits for their GPUs.
            training.wakeups.kick_all(admission.preempting, at_once=True)
    lost, next_lost = indices.lost_nodes(now, training.settings.node_lost_seconds)
    plan = lifecycle.plan(
        state, pods, now=now, lost_nodes=lost, admission=admission, timing=tm, faults=faults, grow_to=grow_to
    )
    if next_lost is not None and any(p.node and p.active and p.node not in lost for p in pods):
        # A node of this job may count as lost soon: look again when its grace period ends.
        again = next_lost - now
        plan = replace(
            plan, requeue_after=again if plan.requeue_after is None else min(again, plan.requeue_after)
        )
    return plan


async def _record_result(
    job: TrainingJob, plan: lifecycle.Plan, pods: list[PodState], training: Training, events: Events
) -> tuple[dict[str, Any] | None, Recorded | None]:
    """Rank 0's result: a ModelVersion when spec.output is set, and metrics in the status; with
    spec.output, also whether the ModelVersion was recorded (the condition)."""
    rank0 = next((p for p in pods if p.name == plan.result_pod), None)
    if rank0 is None:
        return None, None
    try:
        result = parse_termination_message(rank0.termination_message)
    except ResultError as exc:
        if job.spec.output is None:
            return None, None
        message = f"no ModelVersion recorded: {exc}"
        events.warning(TrainingJobReason.NO_MODEL_VERSION, message)
        return None, Recorded(False, TrainingJobReason.NO_MODEL_VERSION, message)
    status: dict[str, Any] = {"metrics": result.metrics} if result.metrics else {}
    if result.artifact is not None:
        status["artifact"] = result.artifact
    body = construct_model_version(job, result)
    if body is not None:
        created = await resources.create(training.kube, body, "modelversions")
        name = body["metadata"]["name"]
        status["modelVersion"] = name
        verb = "created" if created else "already existed"
        message = f"ModelVersion {name} {verb}"
        events.normal(TrainingJobReason.MODEL_VERSION_CREATED, message)
        return status, Recorded(True, TrainingJobReason.MODEL_VERSION_CREATED, message)
    if job.spec.output is not None:
        message = "no ModelVersion recorded: rank 0 reported no artifact"
        events.warning(TrainingJobReason.NO_MODEL_VERSION, message)
        return status, Recorded(False, TrainingJobReason.NO_MODEL_VERSION, message)
    return status, None


def _report(job: TrainingJob, state: lifecycle.JobState, plan: lifecycle.Plan, events: Events) -> None:
    if plan.preempting:  # each new preemption, even when the job was Preempting already
        events.normal(TrainingJobReason.PREEMPTING, f"Preempted {preemption.describe(plan.preempting)}")
        return
    if plan.phase is state.phase and plan.reason == state.reason:
        return
    warning = plan.phase in WARNING_PHASES or plan.reason in (
        TrainingJobReason.WORKER_REPLACED,
        TrainingJobReason.SHRANK_ON_NODE_LOSS,
        TrainingJobReason.POD_START_FAILED,
    )
    # A restart's cause (WorkerFailed, NodeLost) is in the message and the condition; the event
    # says what happens, so `kubectl get events` shows every restart under one reason.
    reason = (
        TrainingJobReason.RESTARTING if plan.phase is Phase.RESTARTING else TrainingJobReason(plan.reason)
    )
    (events.warning if warning else events.normal)(reason, plan.message or plan.phase.value)
    log.info(
        "%s/%s: %s -> %s (%s) %s",
        job.namespace,
        job.name,
        state.phase.value if state.phase else "-",
        plan.phase.value,
        plan.reason,
        plan.message,
    )


def _account(
    job: TrainingJob, state: lifecycle.JobState, plan: lifecycle.Plan, training: Training, indices: Indices
) -> None:
    key, uid = f"{job.namespace}/{job.name}", job.metadata.uid or ""
    metrics, queue, wakeups = training.metrics, training.queue, training.wakeups
    metrics.job_phase(key, plan.phase.value)
    if plan.phase is Phase.ADMITTED and state.phase is not Phase.ADMITTED:
        metrics.admissions.inc()
    if plan.restart_count > state.restart_count:
        metrics.restarts.labels(plan.reason).inc()
    if plan.reason == TrainingJobReason.PREEMPTED:
        queue.preemptions.evicted(key)
    releasing = not plan.phase.holds_admission
    if releasing:
        queue.release(key, uid)
    else:
        queue.hold(key, uid)
        if plan.sizing is not None:
            queue.resize(key, uid, plan.sizing.size)
    held = state.phase is not None and state.phase.holds_admission
    # An elastic job that kept running smaller (node loss) frees what it no longer counts.
    shrank = held and not releasing and plan.sizing is not None and plan.sizing.size < state.replicas
    freed = (held and releasing) or bool(plan.delete or plan.force_delete or shrank)
    if freed:
        # One pass decides for the whole queue: the first job queued for GPUs runs it at once (and
        # wakes at once those it admits). The others look after the debounce (their own pass when
        # that one began before they asked; where they stand is written when due).
        wakeups.kick_all([k for k in indices.queued_jobs() if k != key][:1], at_once=True)
        wakeups.kick_all(k for k in indices.waiting_jobs() if k != key)
    if plan.requeue_after is not None:
        wakeups.requeue_at[key] = training.clock() + plan.requeue_after
    else:
        wakeups.requeue_at.pop(key, None)
