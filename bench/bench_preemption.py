"""Cost of choosing preemption victims, against the admission pass it follows (the anchor) on the same
inputs in the same run: ``python bench/bench_preemption.py [--nodes 1000] [--waiting 1000]``.

A job that does not fit runs one admission pass, then (when it may preempt) one victim choice under
the same lock, so the choice adds to the pass's time. Inputs: ``--nodes`` full 8-GPU nodes, each
held by a preemptible one-node gang of low priority (every one a candidate), ``--waiting`` gangs of
1-4 x 8 GPUs (as in bench_admission.py), and a preemptor of 4 x 8 GPUs: the exact search runs out
of its budget (MAX_FIT_CHECKS) and the greedy pass answers. Prints the median and p90 of
``--repeats`` runs of each, and their ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from lepton.policies.admission import Demand, Gang, decide
from lepton.policies.placement import Node
from lepton.policies.preemption import Running, choose


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = random.Random(1)
    nodes = [Node(f"gpu-{i}", 8, 0) for i in range(args.nodes)]
    demand = [Demand(0, 8, total_pods=1) for _ in range(args.nodes)]
    running = [Running(f"ns/run-{i}", 0, "", True, float(i), {f"gpu-{i}": 8}) for i in range(args.nodes)]
    preemptor = Gang("ns/high", 4, 8, priority=100, created=0.0)
    gangs = [preemptor] + [
        Gang(f"ns/job-{i}", rng.randint(1, 4), 8, created=float(i + 1)) for i in range(args.waiting)
    ]
    passes: list[float] = []
    choices: list[float] = []
    for _ in range(args.repeats):  # interleaved, so both see the same load
        started = time.perf_counter()
        decision = decide(nodes, demand, gangs)
        passes.append(time.perf_counter() - started)
        assert preemptor.key in decision.waiting
        started = time.perf_counter()
        victims = choose(preemptor, nodes, demand, running)
        choices.append(time.perf_counter() - started)
        assert len(victims) == 4, victims

    def summary(times: list[float]) -> str:
        p90 = statistics.quantiles(times, n=10)[-1]
        return f"median {statistics.median(times) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms"

    print(f"admission pass ({args.nodes} nodes, {args.waiting + 1} waiting): {summary(passes)}")
    print(f"victim choice ({args.nodes} candidates): {summary(choices)}")
    print(f"ratio choice / pass (medians): {statistics.median(choices) / statistics.median(passes):.2f}")


if __name__ == "__main__":
    main()
