"""python3 -m localcluster up|down|status|kubeconfig|nodes GPU_NODES [GPUS_PER_NODE [CPU_NODES]]"""

from __future__ import annotations

import sys

from . import cluster
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
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
