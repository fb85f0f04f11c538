"""python3 -m realnode import ARCHIVE...   import OCI archives into every running real node
python3 -m realnode nodes                  print the running real nodes' names and IPs"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from localcluster.config import Config
from localcluster.procs import ClusterError

from . import node


def import_all(cfg: Config, archives: list[Path]) -> None:
    indexes = node.running_nodes(cfg)
    if not indexes:
        raise ClusterError("no real node is running; start one with `make cluster REAL_NODES=1`")
    for archive in archives:
        if not archive.is_file():
            raise ClusterError(f"{archive}: no such archive")
        for i in indexes:
            # Archive names carry the image id, so a marker per name says it is already there.
            marker = node.node_dir(cfg, i) / "imported" / archive.name
            if marker.exists():
                continue
            began = time.monotonic()
            node.import_image(cfg, i, archive)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
            print(f"imported {archive.name} into {node.node_name(i)} in {time.monotonic() - began:.1f}s")


def main(argv: list[str]) -> int:
    cfg = Config.from_env()
    if len(argv) >= 2 and argv[0] == "import":
        import_all(cfg, [Path(a) for a in argv[1:]])
    elif argv == ["nodes"]:
        for i in node.running_nodes(cfg):
            print(node.node_name(i), node.node_ip(cfg, i))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
