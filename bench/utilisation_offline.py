"""What bench/bench_utilisation.py's workload allows: the same jobs (seed, arrivals, run times) played
offline on the same nodes with zero admission latency, scored by the bench's own definition.

Utilisation = GPU-seconds of running gangs within the window / (capacity x the window), the window
running from the first arrival until the last job has started. Each job starts, whole, at an
arrival or an end, when its pods fit (best fit per pod, as admission places them). Greedy list
schedules, not an optimum (which is NP-hard): each policy scans the waiting jobs in its order at
every event and starts every one that fits (backfill); ``--orders N`` also tries N random fixed
orders (a priority per job) and keeps the best. Each is a schedule some scheduler reaches, so the
best is a floor under what the workload allows, not a ceiling.

    python bench/utilisation_offline.py [--nodes 8] [--arrival-seconds 60] [--seed 15] [--orders 2000]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable

from utilisation_kit import Job, workload

GPUS_PER_NODE = 8

ORDERS: dict[str, Callable[[Job], tuple[float, ...]]] = {
    "arrival": lambda j: (j.at,),  # BestEffortFIFO without reservations
    "largest_first": lambda j: (-j.size, j.at),
    "smallest_first": lambda j: (j.size, j.at),
    "longest_first": lambda j: (-j.size * j.seconds, j.at),
}


def fit(job: Job, free: list[int]) -> list[int] | None:
    """The nodes of its pods, best fit each, or None when the gang does not fit whole."""
    left, chosen = list(free), []
    for _ in range(job.replicas):
        fitting = [i for i, f in enumerate(left) if f >= job.gpus]
        if not fitting:
            return None
        node = min(fitting, key=lambda i: (left[i], i))
        left[node] -= job.gpus
        chosen.append(node)
    return chosen


def play(plan: list[Job], nodes: int, order: Callable[[Job], tuple[float, ...]]) -> dict[str, float | None]:
    """Start times of an instant greedy scheduler; the bench's utilisation and waits."""
    free = [GPUS_PER_NODE] * nodes
    arrivals = sorted(plan, key=lambda j: j.at)
    waiting: list[Job] = []
    running: list[tuple[float, Job, list[int]]] = []  # (end, job, nodes)
    started: dict[str, float] = {}
    now = 0.0
    while len(started) < len(plan):
        for end, job, placed in [r for r in running if r[0] <= now]:
            running.remove((end, job, placed))
            for node in placed:
                free[node] += job.gpus
        while arrivals and arrivals[0].at <= now:
            waiting.append(arrivals.pop(0))
        for job in sorted(waiting, key=order):
            placed = fit(job, free)
            if placed is None:
                continue
            for node in placed:
                free[node] -= job.gpus
            running.append((now + job.seconds, job, placed))
            started[job.name] = now
            waiting.remove(job)
        upcoming = [r[0] for r in running] + [a.at for a in arrivals[:1]]
        if len(started) < len(plan):
            now = min(t for t in upcoming if t > now)
    window = max(started.values())  # every job has arrived by its start
    useful = sum(j.size * min(j.seconds, window - started[j.name]) for j in plan)
    waits = sorted(started[j.name] - j.at for j in plan)
    return {
        "utilisation": round(useful / (nodes * GPUS_PER_NODE * window), 3) if window else None,
        "window_s": round(window, 1),
        "wait_p50_s": round(waits[len(waits) // 2], 1),
        "wait_max_s": round(waits[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--arrival-seconds", type=float, default=60.0)
    parser.add_argument("--min-seconds", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--orders", type=int, default=2000, help="random job orders to try")
    args = parser.parse_args()
    plan = workload(
        args.seed, args.nodes * GPUS_PER_NODE, args.arrival_seconds, (args.min_seconds, args.max_seconds)
    )
    results = {name: play(plan, args.nodes, order) for name, order in ORDERS.items()}
    rng = random.Random(args.seed)
    tried = []
    for _ in range(args.orders):
        rank = {j.name: rng.random() for j in plan}
        tried.append(play(plan, args.nodes, lambda j, rank=rank: (rank[j.name],)))
    if tried:
        results[f"best_of_{args.orders}_random_orders"] = max(tried, key=lambda r: r["utilisation"] or 0.0)
    print(json.dumps({"jobs": len(plan), "schedules": results}, indent=2))


if __name__ == "__main__":
    main()
