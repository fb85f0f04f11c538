"""Cost of one admission pass with ClusterQueues and ResourceQuotas, against the same pass without
them (the anchor) in the same run: ``python bench/bench_admission.py [--nodes 1000] [--waiting 1000]``.

Every waiting job's reconcile runs one pass over the whole queue (controllers/training/queue.py),
so the pass's time bounds how fast a burst of jobs is admitted. Inputs: ``--nodes`` 8-GPU nodes
half taken by admitted jobs, ``--waiting`` gangs of 1-4 x 8 GPUs spread over 4 queues (one
StrictFIFO, one with a nominal quota) and 50 namespaces, each with a GPU ResourceQuota; the heads
have waited past their reservation bound. Prints the median and p90 of ``--repeats`` passes of
each, and their ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from lepton.policies.admission import Demand, Gang, decide
from lepton.policies.placement import Node
from lepton.policies.queues import QueuePolicy, Quota

NOW = 100_000.0


def inputs(n_nodes: int, n_waiting: int, seed: int = 1) -> tuple[list[Node], list[Demand], list[Gang]]:
    rng = random.Random(seed)
    nodes = [Node(f"gpu-{i}", 8, 0 if i % 2 else 8) for i in range(n_nodes)]
    demand = [
        Demand(0, 8, queue=f"q{i % 4}", namespace=f"ns{i % 50}", total_pods=1) for i in range(n_nodes // 2)
    ]
    gangs = [
        Gang(
            f"ns{i % 50}/job-{i}",
            rng.randint(1, 4),
            8,
            priority=rng.choice((0, 0, 0, 100)),
            created=float(i),
            queue=f"q{i % 4}",
            waiting_since=NOW - rng.uniform(0, 1200),
        )
        for i in range(n_waiting)
    ]
    return nodes, demand, gangs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    nodes, demand, gangs = inputs(args.nodes, args.waiting)
    queues = {
        "q0": QueuePolicy("q0", reservation_after=300.0),
        "q1": QueuePolicy("q1", strict=True, reservation_after=300.0),
        "q2": QueuePolicy("q2", nominal_gpus=2000, reservation_after=300.0),
        "q3": QueuePolicy("q3", reservation_after=None),
    }
    quotas = [Quota(f"ns{i}", "gpus", gpus_hard=200, gpus_used=80) for i in range(50)]
    plain = [Gang(g.key, g.pods, g.gpus_per_pod, g.priority, g.created) for g in gangs]
    timings: dict[str, list[float]] = {"anchor (no queues, no quotas)": [], "queues + quotas": []}
    for _ in range(args.repeats):  # interleaved, so that load on the machine hits both alike
        start = time.perf_counter()
        decide(nodes, demand, plain)
        timings["anchor (no queues, no quotas)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        decision = decide(nodes, demand, gangs, queues=queues, quotas=quotas, now=NOW)
        timings["queues + quotas"].append(time.perf_counter() - start)
    for name, values in timings.items():
        values.sort()
        median, p90 = statistics.median(values), values[int(len(values) * 0.9)]
        print(f"{name}: median {median * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms")
    ratio = statistics.median(timings["queues + quotas"]) / statistics.median(
        timings["anchor (no queues, no quotas)"]
    )
    print(f"ratio (queues + quotas / anchor), medians: {ratio:.2f}")
    counts = len(decision.admitted), len(decision.waiting), len(decision.reserved)
    print("last pass: {} admitted, {} waiting, {} reserved".format(*counts))


if __name__ == "__main__":
    main()
