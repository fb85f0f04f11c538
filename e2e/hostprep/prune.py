"""Which entries of the cache folder `make clean-cache` deletes (pure: facts in, paths out).

The cache (~/.cache/lepton) grows by one entry per pin change and never shrinks by itself:

    bin/<hash>, bin/<tool>-<hash>   Go builds keyed by their pins (0.1-0.8 GB each)
    venv/<hash>                     the Python env keyed by its dependencies (5.8 GB)
    images/storage, images/oci      buildah's store and the OCI export (build.sh drops unnamed blobs)
    images/<stem>-<hash>.oci.tar    the pause and busybox archives of the real nodes
    images/tmp/rootfs.*, images/oci/oci-put-blob*   leftovers of interrupted builds and pushes
    realnode/<bridge>-<i>/          a real node's containerd root (images, snapshots: 9 GB each)

Kept, always: what this checkout's pins name now (`current`), what a running process or a mount
uses (`live`), the env any worktree of this repository links as .venv (part of `current`), the
containerd roots of bridges that exist now or that this checkout uses (LEPTON_BRIDGE), anything
this module does not know, and temporary files younger than an hour (a build may be writing them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

TEMP_GRACE_SECONDS = 3600


@dataclass(frozen=True)
class Facts:
    cache: PurePath
    listing: Mapping[str, Sequence[str]]
    """Folder relative to the cache ("bin", "venv", "realnode", "images", "images/tmp", "images/oci")
    -> the names in it."""
    current: frozenset[PurePath]
    live: frozenset[PurePath]
    """Paths a running process or a mount is under (its executable, arguments, cwd, mount points)."""
    bridges: frozenset[str]
    ages: Mapping[PurePath, float]
    """Seconds since the last change, for the temporary entries."""


@dataclass(frozen=True)
class Doomed:
    path: PurePath
    why: str


def _in_use(path: PurePath, live: frozenset[PurePath]) -> bool:
    return any(p == path or path in p.parents for p in live)


def prune(facts: Facts) -> list[Doomed]:
    out: list[Doomed] = []

    def keyed(folder: str, why: str) -> None:
        for name in facts.listing.get(folder, ()):
            path = facts.cache / folder / name
            if name.startswith(".") or path in facts.current or _in_use(path, facts.live):
                continue
            if name.endswith(".partial") and facts.ages.get(path, 0.0) < TEMP_GRACE_SECONDS:
                continue  # a build is writing it
            out.append(Doomed(path, why))

    def temporary(folder: str, prefix: str, why: str) -> None:
        for name in facts.listing.get(folder, ()):
            path = facts.cache / folder / name
            if (
                name.startswith(prefix)
                and facts.ages.get(path, 0.0) >= TEMP_GRACE_SECONDS
                and not _in_use(path, facts.live)
            ):
                out.append(Doomed(path, why))

    keyed("bin", "a tool build whose pins are no longer this checkout's")
    keyed("venv", "a Python env of other dependencies, linked by no worktree and used by no process")
    for name in facts.listing.get("images", ()):
        path = facts.cache / "images" / name
        if name.endswith(".oci.tar") and path not in facts.current and not _in_use(path, facts.live):
            out.append(Doomed(path, "a superseded pause/busybox archive"))
    for name in facts.listing.get("realnode", ()):
        path = facts.cache / "realnode" / name
        bridge, _, index = name.rpartition("-")
        if not index.isdigit() or bridge in facts.bridges or _in_use(path, facts.live):
            continue
        out.append(Doomed(path, f"containerd root of bridge {bridge}, which is gone"))
    temporary("images/tmp", "rootfs.", "an interrupted debootstrap")
    temporary("images/oci", "oci-put-blob", "an interrupted image export")
    return out
