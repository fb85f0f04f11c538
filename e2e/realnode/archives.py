"""Images built elsewhere (e2e/images/build.sh) brought into the real nodes' containerd."""

from __future__ import annotations

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
