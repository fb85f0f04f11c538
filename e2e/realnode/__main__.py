"""python3 -m realnode import ARCHIVE...   import OCI archives into every running real node
python3 -m realnode nodes                  print the running real nodes' names and IPs"""

from __future__ import annotations

import sys
from pathlib import Path

from localcluster.config import Config

from . import node
from .archives import import_all


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
