"""python3 -m realnode import LAYOUT REF...   import images of an OCI layout into every real node
python3 -m realnode nodes                      print the running real nodes' names and IPs"""

from __future__ import annotations

import sys
from pathlib import Path

from localcluster.config import Config

from . import node
from .archives import import_all


def main(argv: list[str]) -> int:
    cfg = Config.from_env()
    if len(argv) >= 3 and argv[0] == "import":
        import_all(cfg, Path(argv[1]), argv[2:])
    elif argv == ["nodes"]:
        for i in node.running_nodes(cfg):
            print(node.node_name(i), node.node_ip(cfg, i))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
