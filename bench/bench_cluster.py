"""Figures of the local control plane: warm start time, and the time to add 1,000 fake GPU nodes.

Runs a cluster of its own (other state dir and ports), so a running cluster is left alone.
    python bench/bench_cluster.py [--nodes 1000] [--starts 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

E2E = Path(__file__).resolve().parent.parent / "e2e"
sys.path.insert(0, str(E2E))

from localcluster import cluster  # noqa: E402
from localcluster.config import Config, Ports  # noqa: E402


def bench_env() -> dict[str, str]:
    env = {
        "LEPTON_CLUSTER_DIR": "/tmp/lepton-bench-cluster",
        "GPU_NODES": "4",
        "CPU_NODES": "2",
        "PROMETHEUS": "0",
    }
    for name in Ports.__dataclass_fields__:
        env[f"LEPTON_PORT_{name.upper()}"] = str(getattr(Ports(), name) + 1000)
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(bench_env())
    cfg = Config.from_env()
    cluster.tools_dir()  # build outside the timings

    starts = []
    for _ in range(args.starts):
        began = time.monotonic()
        cluster.up(cfg)
        starts.append(time.monotonic() - began)
        cluster.down(cfg, quiet=True)

    cluster.up(dataclasses.replace(cfg, gpu_nodes=0, cpu_nodes=0))
    try:
        bin_dir = cluster.tools_dir()
        began = time.monotonic()
        cluster.ensure_nodes(cfg, bin_dir, args.nodes, 8, 0, timeout=900)
        nodes_s = time.monotonic() - began
        listing = json.loads(
            subprocess.run(
                [str(bin_dir / "kubectl"), "--kubeconfig", str(cfg.kubeconfig), "get", "nodes", "-o", "json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        gpus = sum(int(n["status"]["allocatable"].get("nvidia.com/gpu", "0")) for n in listing["items"])
    finally:
        cluster.down(cfg, quiet=True)

    print()
    print("| figure | value |")
    print("|---|---|")
    print(
        f"| cluster start, warm cache (median of {len(starts)}) | {statistics.median(starts):.1f} s "
        f"(min {min(starts):.1f}, max {max(starts):.1f}) |"
    )
    print(
        f"| {args.nodes} fake GPU nodes created and Ready | {nodes_s:.1f} s "
        f"({args.nodes / nodes_s:.0f} nodes/s) |"
    )
    print(f"| GPUs allocatable afterwards | {gpus} |")


if __name__ == "__main__":
    main()
