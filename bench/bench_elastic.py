"""Cost of elastic sizing in one admission pass, against the same pass without it (the anchor) in the
same run: ``python bench/bench_elastic.py [--nodes 1000] [--waiting 1000] [--growers 200]``.

Inputs are bench_admission's (``--nodes`` 8-GPU nodes half taken, ``--waiting`` gangs of 1-4 x 8
GPUs). The elastic pass makes every other waiting gang elastic (minReplicas 1, maxReplicas its size)
and adds ``--growers`` running elastic jobs at 1 of 4 workers, which grow after the queue once every
waiting gang of equal or higher priority has claimed its nodes. Prints the median and p90 of
``--repeats`` passes of each, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from bench_admission import inputs
from lepton.policies.admission import Grower, decide
from lepton.policies.elastic import Bounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--growers", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    nodes, demand, gangs = inputs(args.nodes, args.waiting)
    elastic = [replace(g, min_pods=1) if i % 2 else g for i, g in enumerate(gangs)]
    growers = [
        Grower(f"el/job-{i}", 1, Bounds(1, 4), 8, priority=(0, 100)[i % 2], created=float(i))
        for i in range(args.growers)
    ]
    anchor, sized = "anchor (fixed-size gangs, no growers)", "elastic gangs + growers"
    timings: dict[str, list[float]] = {anchor: [], sized: []}
    for _ in range(args.repeats):  # interleaved, so that load on the machine hits both alike
        start = time.perf_counter()
        decide(nodes, demand, gangs)
        timings[anchor].append(time.perf_counter() - start)
        start = time.perf_counter()
        decision = decide(nodes, demand, elastic, growers=growers)
        timings[sized].append(time.perf_counter() - start)
    for name, values in timings.items():
        values.sort()
        median, p90 = statistics.median(values), values[int(len(values) * 0.9)]
        print(f"{name}: median {median * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms")
    ratio = statistics.median(timings[sized]) / statistics.median(timings[anchor])
    print(f"ratio (elastic / anchor), medians: {ratio:.2f}")
    small = sum(1 for k, n in decision.sizes.items() if n < next(g.pods for g in elastic if g.key == k))
    print(
        f"last pass: {len(decision.admitted)} admitted ({small} below maxReplicas), "
        f"{len(decision.waiting)} waiting, {len(decision.grown)} grown"
    )


if __name__ == "__main__":
    main()
