"""`make clean-cache`: which cache entries go, as a table (hostprep.prune is pure)."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from hostprep.prune import TEMP_GRACE_SECONDS, Facts, prune

CACHE = PurePath("/c")
OLD = TEMP_GRACE_SECONDS + 1
LISTING = {
    "bin": [".lock", "aaaa", "bbbb", "prometheus-cur", "prometheus-old", "cccc.partial", "dddd.partial"],
    "venv": ["cur", "linked", "old", "running"],
    "realnode": ["lepton0-0", "lepton0-1", "lepton9-0", "lepton7-0", "lepton5-0", "odd"],
    "images": ["pause-cur.oci.tar", "pause-old.oci.tar", "busybox-old.oci.tar", "storage", "oci", "stamps"],
    "images/tmp": ["rootfs.fresh", "rootfs.stale", "context", "pip.conf"],
    "images/oci": ["blobs", "index.json", "oci-put-blob1", "oci-put-blob2"],
}
CURRENT = {"bin/aaaa", "bin/prometheus-cur", "venv/cur", "venv/linked", "images/pause-cur.oci.tar"}
AGES = {
    "bin/cccc.partial": 60,
    "bin/dddd.partial": OLD,
    "images/tmp/rootfs.fresh": 60,
    "images/tmp/rootfs.stale": OLD,
    "images/oci/oci-put-blob1": OLD,
    "images/oci/oci-put-blob2": 5,
}
LIVE = {
    "/c/venv/running/bin/python",  # a process runs the env
    "/c/realnode/lepton5-0/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs",  # mounted
}
BRIDGES = {"lepton0", "lepton7", "eth0", "lo"}

GO = {
    "bin/bbbb": "a tool build whose pins are no longer this checkout's",
    "bin/prometheus-old": "a tool build whose pins are no longer this checkout's",
    "bin/dddd.partial": "a tool build whose pins are no longer this checkout's",
    "venv/old": "a Python env of other dependencies, linked by no worktree and used by no process",
    "images/pause-old.oci.tar": "a superseded pause/busybox archive",
    "images/busybox-old.oci.tar": "a superseded pause/busybox archive",
    "realnode/lepton9-0": "containerd root of bridge lepton9, which is gone",
    "images/tmp/rootfs.stale": "an interrupted debootstrap",
    "images/oci/oci-put-blob1": "an interrupted image export",
}
# Every listed entry not in GO stays, and why.
KEPT = {
    "bin/.lock": "hidden: the build lock",
    "bin/aaaa": "this checkout's tools",
    "bin/prometheus-cur": "this checkout's Prometheus",
    "bin/cccc.partial": "a build writing it now (younger than the grace)",
    "venv/cur": "this checkout's env",
    "venv/linked": "another worktree's .venv (in current)",
    "venv/running": "a process runs it",
    "realnode/lepton0-0": "bridge exists",
    "realnode/lepton0-1": "bridge exists (second node)",
    "realnode/lepton7-0": "bridge exists",
    "realnode/lepton5-0": "bridge gone but a snapshot is still mounted",
    "realnode/odd": "not <bridge>-<index>: unknown, left alone",
    "images/pause-cur.oci.tar": "current archive",
    "images/storage": "buildah's store (pruned by buildah itself)",
    "images/oci": "the OCI export (build.sh prunes its blobs)",
    "images/stamps": "build stamps",
    "images/tmp/rootfs.fresh": "a debootstrap running now",
    "images/tmp/context": "not a leftover prefix",
    "images/tmp/pip.conf": "not a leftover prefix",
    "images/oci/blobs": "the export's blobs",
    "images/oci/index.json": "the export's index",
    "images/oci/oci-put-blob2": "a push running now",
}


def facts() -> Facts:
    return Facts(
        cache=CACHE,
        listing=LISTING,
        current=frozenset(CACHE / p for p in CURRENT),
        live=frozenset(PurePath(p) for p in LIVE),
        bridges=frozenset(BRIDGES),
        ages={CACHE / p: a for p, a in AGES.items()},
    )


def test_the_table_covers_every_listed_entry():
    listed = {f"{folder}/{name}" for folder, names in LISTING.items() for name in names}
    assert listed == set(GO) | set(KEPT)
    assert not set(GO) & set(KEPT)


def test_exactly_the_old_entries_go_each_with_its_reason():
    got = {str(d.path.relative_to(CACHE)): d.why for d in prune(facts())}
    assert got == GO


@pytest.mark.parametrize("kept", sorted(KEPT))
def test_kept(kept):
    assert CACHE / kept not in {d.path for d in prune(facts())}, KEPT[kept]


def test_a_current_entry_never_goes_even_when_nothing_else_protects_it():
    bare = Facts(CACHE, LISTING, frozenset(CACHE / p for p in CURRENT), frozenset(), frozenset(), {})
    doomed = {d.path for d in prune(bare)}
    assert not doomed & {CACHE / p for p in CURRENT}
    # Without bridges, every real node root of the listing goes but the unknown name.
    assert {p for p in doomed if p.parent == CACHE / "realnode"} == {
        CACHE / "realnode" / n for n in ("lepton0-0", "lepton0-1", "lepton9-0", "lepton7-0", "lepton5-0")
    }
