"""Admission across jobs: one lock, one pass over the whole queue, and reservations that outlive the
watch lag. Pure decisions live in policies.admission, fed by controllers.training.pass_inputs."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from lepton.api.trainingjob import TrainingJobReason
from lepton.controllers.training.pass_inputs import Inputs, JobSummary, Observed, decide_with, holds, inputs
from lepton.controllers.training.preempting import PREEMPTION_POLL_S, Preemptions
from lepton.policies import admission, preemption
from lepton.policies.lifecycle import Admission

# A ResourceQuota's status.used and the pods index come from two watches: for a moment after a
# job's pods are created the pods index may show them while the quota's used does not yet. For
# this long after an admission the job's pods that are not bound yet count beside the quota's used
# (a brief overcount, never an undercount that would let a second gang in and have its pods
# refused), and a gang that waits for that quota looks again when the window ends.
QUOTA_SETTLE_S = 2.0

# A job's admission pass begins at least this long after the last pass (an elastic job's growth
# pass counts, but does not wait). A job that asks when no pass began within the window is decided at
# once (a job applied alone waits for nothing); one that asks sooner waits for the window to end, and
# the jobs applied with it are in the jobs index by then: a hundred jobs applied at once are admitted
# by a few passes, not by a pass each (every pass reads every node and job).
ADMISSION_WINDOW_S = 0.05


@dataclass(frozen=True)
class _Pass:
    """The last admission pass: its number, what it decided and what it was given."""

    number: int
    decision: admission.Decision
    seen: Inputs
    observed: Observed


class Queue:
    """Admission across jobs: one lock, one pass over the whole queue, and what this process last
    decided about each job (newer than the jobs index, which shows our status writes only after the
    watch delivers them)."""

    def __init__(self, window_s: float = ADMISSION_WINDOW_S) -> None:
        self._lock = asyncio.Lock()
        self.window_s = window_s
        self._passes = 0
        self._pass_began = -math.inf  # the event loop's clock (monotonic) when the last pass began
        self._last: _Pass | None = None
        # key -> (uid, holds its admission)
        self._holding: dict[str, tuple[str, bool]] = {}
        # key -> when this process admitted it (for QUOTA_SETTLE_S)
        self._admitted_at: dict[str, float] = {}
        self.preemptions = Preemptions()
        # key -> (uid, size): the size of each elastic job as this process last decided or planned it
        self._sizes: dict[str, tuple[str, int]] = {}
        # key -> (uid, how): what the pass admitting it said of the reservations (the held nodes its
        # workers must avoid, those lent to it): a job admitted by another job's pass learns it
        # when it looks
        self._admitted_how: dict[str, tuple[str, Admission]] = {}

    def hold(self, key: str, uid: str) -> None:
        """Remember that ``key`` holds its admission, whatever the index says yet."""
        self._decided(key, (uid, True))

    def release(self, key: str, uid: str) -> None:
        """Remember that ``key`` no longer holds GPUs (finished, suspended, restarting)."""
        self._decided(key, (uid, False))
        self._sizes.pop(key, None)

    def admitted_how(self, key: str, uid: str) -> Admission:
        """``key``'s admission as the pass that admitted it said it (size aside)."""
        known = self._admitted_how.get(key)
        return known[1] if known is not None and known[0] == uid else Admission(True)

    def forget(self, key: str) -> None:
        self._decided(key, None)
        self._sizes.pop(key, None)
        self._admitted_how.pop(key, None)
        self.preemptions.done(key)

    def _decided(self, key: str, holding: tuple[str, bool] | None) -> None:
        """Whether ``key`` holds GPUs changed: the last pass, which counted it otherwise, is not
        handed to waiting jobs any more."""
        if self._holding.get(key) == holding:
            return
        last = self._last
        # A job the last pass left waiting and that holds nothing now changes nothing in it (each
        # woken job's reconcile says so right after its answer).
        if last is None or key not in last.decision.waiting or (holding is not None and holding[1]):
            self._last = None
        if holding is None:
            self._holding.pop(key, None)
        else:
            self._holding[key] = holding

    def resize(self, key: str, uid: str, size: int) -> None:
        """Remember the size an elastic job's plan gave it (it shrank, or took what a pass granted)."""
        if self._sizes.get(key) != (uid, size):
            self._last = None  # the last pass counted the job at another size
        self._sizes[key] = (uid, size)

    def granted(self, key: str, uid: str) -> int | None:
        """The size this process last gave the elastic job ``key``."""
        known = self._sizes.get(key)
        return known[1] if known is not None and known[0] == uid else None

    async def grow(self, key: str, uid: str, observed: Observed) -> tuple[int | None, tuple[str, ...]]:
        """Run one admission pass for a running elastic job below maxReplicas: its new size when the
        pass grows it, and the other jobs the pass admitted or grew (to be woken)."""
        async with self._lock:
            decision, _ = self._pass(observed)
            return decision.grown.get(key), _others(decision, key)

    def _pass(self, observed: Observed) -> tuple[admission.Decision, Inputs]:
        """One admission pass, with the GPUs held for preemptors and the sizes this process gave
        elastic jobs; remembers whom it admitted and the sizes it gave."""
        self._pass_began = asyncio.get_running_loop().time()
        now = observed.now
        self._admitted_at = {k: t for k, t in self._admitted_at.items() if now - t < QUOTA_SETTLE_S}
        sizes = {k: size for k, (uid, size) in self._sizes.items() if uid == _uid_of(observed, k)}
        # Only while a preemption is under way: the check walks every job's pods.
        held = self.preemptions.held(_stopping(observed, self._holding)) if self.preemptions else {}
        seen = inputs(observed, self._holding, frozenset(self._admitted_at), sizes)
        decision = decide_with(seen, observed, held)
        for admitted_key in decision.admitted:
            self._holding[admitted_key] = (_uid_of(observed, admitted_key), True)
            self._admitted_how[admitted_key] = (
                _uid_of(observed, admitted_key),
                _admission(decision, admitted_key),
            )
            self._admitted_at[admitted_key] = now
            self.preemptions.done(admitted_key)
        for sized, size in (*decision.sizes.items(), *decision.grown.items()):
            self._sizes[sized] = (_uid_of(observed, sized), size)
        self._passes += 1
        self._last = _Pass(self._passes, decision, seen, observed)
        return decision, seen

    def is_admitted(self, key: str, uid: str) -> bool:
        return self._holding.get(key) == (uid, True)

    def holds(self, job: JobSummary) -> bool:
        """Whether ``job`` holds its admission, as an admission pass counts it."""
        return holds(job, self._holding)

    async def admit(
        self, key: str, uid: str, observe: Observed | Callable[[], Observed]
    ) -> tuple[Admission, tuple[str, ...]]:
        """Whether ``key`` is admitted, and the other jobs admitted by the pass it ran (to be woken:
        their GPUs are set aside for them now). ``observe``: the cluster now (a callable is called
        once the pass runs, after the window if one is open, so that it sees the jobs that came
        meanwhile).

        A pass that began after this call decided about every job the index showed by then, this
        one included: a job that such a pass left waiting takes its answer instead of running
        another pass (a thousand queued jobs woken at once cost one pass, not a thousand)."""
        asked = self._passes
        wait = self._pass_began + self.window_s - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        async with self._lock:
            if self.is_admitted(key, uid):
                return replace(self.admitted_how(key, uid), size=self.granted(key, uid)), ()
            last = self._last
            others: tuple[str, ...] = ()  # a reused pass woke the jobs it admitted when it ran
            # Not while a preemption is under way: each pass sets GPUs aside for its preemptors.
            fresh = last is not None and last.number > asked and not self.preemptions
            if last is not None and fresh and key in last.decision.waiting:
                decision, seen, observed = last.decision, last.seen, last.observed
            else:
                observed = observe() if callable(observe) else observe
                decision, seen = self._pass(observed)
                others = _others(decision, key)
            if key in decision.admitted:
                return _admission(decision, key), others
            message = decision.waiting.get(key, "waiting for admission")
            reason = decision.reasons.get(key)
            position = decision.positions.get(key)
            if reason == TrainingJobReason.WAITING_FOR_GPUS:
                preempting = self._preempt(key, observed, seen)
                if preempting is not None:
                    return replace(preempting, position=position), others
            namespace = key.partition("/")[0]
            settling = reason == TrainingJobReason.WAITING_FOR_QUOTA and any(
                k.partition("/")[0] == namespace for k in self._admitted_at
            )
            waiting = Admission(
                False,
                message,
                reason=reason or TrainingJobReason.WAITING_FOR_GPUS,
                position=position,
                requeue_after=QUOTA_SETTLE_S if settling else None,
            )
            return waiting, others

    def _preempt(self, key: str, observed: Observed, seen: Inputs) -> Admission | None:
        """``key`` does not fit the free GPUs: stop lower-priority gangs for it (policies.preemption),
        or say that those it stopped before are still stopping. None: nothing to preempt."""
        pending = self.preemptions.pending(key)
        if pending is not None:
            message = (
                f"preempted {preemption.describe(pending.victims)}; waiting for their workers to stop "
                "(their GPUs are held for this job)"
            )
            return Admission(
                False, message, reason=TrainingJobReason.PREEMPTING, requeue_after=PREEMPTION_POLL_S
            )
        gang = next((g for g in seen.gangs if g.key == key), None)
        if gang is None:
            return None
        uids = {j.key: j.uid for j in observed.jobs}
        victims = self.preemptions.choose(gang, seen.nodes, seen.demand, seen.running, uids)
        if not victims:
            return None
        message = (
            f"preempted {preemption.describe(victims)} (lower priority, preemptible, same queue); "
            "waiting for their workers to stop (their GPUs are held for this job)"
        )
        return Admission(
            False,
            message,
            reason=TrainingJobReason.PREEMPTING,
            requeue_after=PREEMPTION_POLL_S,
            preempting=victims,
        )


def _stopping(observed: Observed, holding: Mapping[str, tuple[str, bool]]) -> dict[str, bool]:
    """Job key -> whether it still holds GPUs: it holds its admission, or a worker is not done."""
    stopping: dict[str, bool] = {}
    for job in observed.jobs:
        pods = observed.pods_by_job.get(job.key, ())
        stopping[job.key] = holds(job, holding) or any(not p.terminal for p in pods)
    return stopping


def _admission(decision: admission.Decision, key: str) -> Admission:
    """How ``key`` was admitted: its size, the held nodes its workers avoid, the ones lent to it,
    the nodes the pass placed its workers on."""
    lent = decision.lent.get(key)
    message = "all workers fit on the free GPUs"
    if lent:
        # The message says why a job runs on nodes another job waits for.
        held = ", ".join(lent)
        message += f", some on the nodes held for {held}: its activeDeadlineSeconds ends before they drain"
    return Admission(
        True,
        message,
        size=decision.sizes.get(key),
        avoid=decision.avoid.get(key, ()),
        nodes=decision.nodes.get(key, ()),
    )


def _others(decision: admission.Decision, key: str) -> tuple[str, ...]:
    """The jobs other than ``key`` that the pass admitted or grew (to be woken)."""
    return tuple(k for k in (*decision.admitted, *decision.grown) if k != key)


def _uid_of(observed: Observed, key: str) -> str:
    return next((j.uid for j in observed.jobs if j.key == key), "")
