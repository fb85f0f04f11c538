"""The workload, the jobs, the samples' integrals and the summary of bench/bench_utilisation.py."""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    name: str
    at: float  # seconds after the start of the run
    replicas: int
    gpus: int
    seconds: float
    created: float | None = None
    head: float | None = None  # first time seen at queue position 1 (lepton only)
    reserved: float | None = None  # first time seen holding a reservation (lepton only)
    started: float | None = None  # all workers Running
    finished: float | None = None
    deadline: int | None = None  # runPolicy.activeDeadlineSeconds (--deadline-factor)
    failed: str | None = None  # the reason of a job that Failed (DeadlineExceeded: it ran past it)
    lent: bool = False  # admitted onto nodes held for a reservation (bound to end before they drain)

    @property
    def size(self) -> int:
        return self.replicas * self.gpus


# (replicas, GPUs per worker): the mix the issue names.
SIZES = ((1, 1), (1, 8), (2, 8), (4, 8))


def workload(seed: int, capacity: int, arrival_s: float, durations: tuple[float, float]) -> list[Job]:
    """Jobs of the mixed sizes, uniform arrivals, until their GPU-time is 2x capacity x arrival_s."""
    rng = random.Random(seed)
    jobs: list[Job] = []
    total = 0.0
    while total < 2 * capacity * arrival_s:
        replicas, gpus = rng.choice(SIZES)
        seconds = float(rng.randint(int(durations[0]), int(durations[1])))
        jobs.append(Job(f"u-{len(jobs):03d}", 0.0, replicas, gpus, seconds))
        total += replicas * gpus * seconds
    arrivals = sorted(rng.uniform(0, arrival_s) for _ in jobs)
    for job, at in zip(jobs, arrivals, strict=True):
        job.at = round(at - arrivals[0], 1)  # the window opens at the first arrival
    return jobs


@dataclass
class Tally:
    """Integrals over the samples; ``window`` closes at the last sample where work was waiting.
    ``idle`` splits the window's GPU-seconds not used by complete gangs by what kept them idle."""

    capacity: int
    useful: float = 0.0
    held: float = 0.0
    window: float = 0.0
    useful_all: float = 0.0
    samples: int = 0
    idle: collections.Counter[str] = field(default_factory=collections.Counter)
    trace: list[tuple[float, int, int, list[str]]] = field(default_factory=list)


def utilisation_within(tally: Tally, seconds: float) -> float:
    """Share of capacity x ``seconds`` used by complete gangs in the run's first ``seconds``."""
    used, last = 0.0, 0.0
    for at, _, useful, _ in tally.trace:
        if at > seconds:
            break
        used += useful * (at - last)
        last = at
    return round(used / (tally.capacity * seconds), 3)


def summary(jobs: list[Job], tally: Tally, reservation_s: float | None) -> dict[str, Any]:
    waits = {j.name: j.started - j.created for j in jobs if j.started is not None and j.created is not None}
    ordered = sorted(waits.values())
    finished = [j.finished for j in jobs if j.finished is not None]
    makespan = max(finished) if finished else tally.window
    share = tally.capacity * tally.window
    result: dict[str, Any] = {
        "jobs": len(jobs),
        "jobs_started": len(waits),
        "jobs_finished": len(finished),
        "waiting_window_s": round(tally.window, 1),
        "utilisation": round(tally.useful / share, 3),
        "held_share": round(tally.held / share, 3),
        "idle_share": {why: round(v / share, 3) for why, v in sorted(tally.idle.items())},
        "makespan_s": round(makespan, 1),
        "utilisation_to_makespan": round(tally.useful_all / (tally.capacity * makespan), 3),
        "wait_p50_s": round(ordered[len(ordered) // 2], 1) if ordered else None,
        "wait_max_s": round(ordered[-1], 1) if ordered else None,
        "max_wait_by_size_s": {
            size: round(max(w for n, w in waits.items() if n in names), 1)
            for size, names in sorted(by_size(jobs).items())
            if any(n in waits for n in names)
        },
        "samples": tally.samples,
        "failed": {j.name: j.failed for j in jobs if j.failed is not None},
        "admitted_onto_held_nodes": sorted(j.name for j in jobs if j.lent),
    }
    if reservation_s is not None:
        # The bound: from when a job holds its reservation (its status says so), nothing is admitted
        # onto its nodes, so all it needs is free within the longest run time (its fit time).
        fit = max(j.seconds for j in jobs)
        excess = past(jobs, fit)
        result["bound"] = {
            "reservation_after_s": reservation_s,
            "fit_s": fit,
            "jobs_that_held_a_reservation": len(excess),
            "jobs_past_bound": [e for e in excess if e[0] > 0],
            "max_excess_s": excess[0][0] if excess else None,
            # With deadlines, what is lent on its nodes is bound to end before they drain: the
            # bound is the longest deadline (the longest any job there may run).
            "deadline_bound_s": (longest := max((j.deadline or 0 for j in jobs), default=0)) or None,
            "jobs_past_deadline_bound": [e for e in past(jobs, longest) if e[0] > 0] if longest else None,
            # Waiting for the reservation itself: from queued + R to holding it (a job reserves
            # only once it is the head of its queue).
            "max_queued_to_reserved_s": max(
                (
                    round(j.reserved - j.created, 1)
                    for j in jobs
                    if j.reserved is not None and j.created is not None
                ),
                default=None,
            ),
        }
    return result


def past(jobs: list[Job], fit: float) -> list[tuple[float, str, int]]:
    """(seconds from holding a reservation + ``fit`` to running, name, GPUs), the latest first."""
    return sorted(
        (
            (round(j.started - (j.reserved + fit), 1), j.name, j.size)
            for j in jobs
            if j.started is not None and j.reserved is not None
        ),
        reverse=True,
    )


def by_size(jobs: list[Job]) -> dict[str, set[str]]:
    sizes: dict[str, set[str]] = collections.defaultdict(set)
    for job in jobs:
        sizes[f"{job.replicas}x{job.gpus}"].add(job.name)
    return sizes
