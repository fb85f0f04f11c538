"""python3 -m localcluster up|down|status|kubeconfig|nodes GPU_NODES [GPUS_PER_NODE [CPU_NODES]]
python3 -m localcluster gpu-fault NODE [--gpus HEALTHY] [--clear]"""

from __future__ import annotations

import argparse
import sys
from functools import partial

from . import cluster, faults
from .config import Config


def main(argv: list[str]) -> int:
    cfg = Config.from_env()
    command = argv[0] if argv else "status"
    if command == "up":
        cluster.up(cfg)
    elif command == "down":
        cluster.down(cfg)
    elif command == "status":
        return cluster.status(cfg)
    elif command == "kubeconfig":
        print(cfg.kubeconfig)
    elif command == "nodes" and 2 <= len(argv) <= 4:
        counts = [int(a) for a in argv[1:]] + [cfg.gpus_per_node, cfg.cpu_nodes][len(argv) - 2 :]
        cluster.ensure_nodes(cfg, cluster.tools_dir(), counts[0], counts[1], counts[2], timeout=600)
    elif command == "gpu-fault" and len(argv) >= 2:
        parser = argparse.ArgumentParser(prog="localcluster gpu-fault")
        parser.add_argument("node")
        parser.add_argument(
            "--gpus",
            type=int,
            help="instead of the condition, lower allocatable nvidia.com/gpu to this (a failed card)",
        )
        parser.add_argument("--clear", action="store_true", help="the GPUs are healthy again")
        args = parser.parse_args(argv[1:])
        kubectl = partial(cluster.kubectl, cfg, cluster.tools_dir())
        print(faults.gpu_fault(kubectl, args.node, healthy_gpus=args.gpus, clear=args.clear))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
