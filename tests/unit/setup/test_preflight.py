"""preflight: what `make demo` / `make check` refuse at once instead of failing after minutes."""

from __future__ import annotations

import dataclasses

import pytest

from hostprep.preflight import GIB, Host, needed_bytes, refusals

READY = Host(
    python_version=(3, 11, 7),
    go_version=(1, 26, 8),
    root=True,
    sudo=True,
    apt=True,
    missing_packages=(),
    overlay=True,
    cgroups=True,
    unbuilt=frozenset(),
    cold=frozenset(),
    free_bytes=100 * GIB,
)
COLD = dataclasses.replace(
    READY,
    go_version=None,
    missing_packages=("buildah", "containerd"),
    unbuilt=frozenset({"tools", "prometheus", "coredns", "helm", "luahealth"}),
    cold=frozenset({"venv", "images", "realnode"}),
)

# (case, goal, changes to READY, substrings of each refusal in order; [] = it sets itself up)
CASES = [
    ("warm machine", "check", {}, []),
    ("warm machine, demo", "demo", {}, []),
    (
        "cold but Go and root: setup does the rest",
        "check",
        {"unbuilt": COLD.unbuilt, "cold": COLD.cold, "missing_packages": COLD.missing_packages},
        [],
    ),
    (
        "no Go, something to build",
        "check",
        {"go_version": None, "unbuilt": frozenset({"tools"})},
        ["Go is not installed and tools must be built"],
    ),
    ("no Go, nothing to build", "check", {"go_version": None}, []),
    (
        "no Go, only a build this goal does not use",
        "demo",
        {"go_version": None, "unbuilt": frozenset({"luahealth"})},
        [],
    ),
    (
        "old Go",
        "demo",
        {"go_version": (1, 22, 0), "unbuilt": frozenset({"coredns"})},
        ["Go 1.22.0 is older than 1.26.0, which coredns need"],
    ),
    ("old Python", "check", {"python_version": (3, 9, 2)}, ["Python 3.9.2 is older than 3.11"]),
    ("not root, real node", "demo", {"root": False}, ["a real kubelet node needs root: `sudo make demo`"]),
    (
        "not root, packages missing, test only",
        "test",
        {"root": False, "missing_packages": ("openssl",)},
        ["`sudo e2e/setup-host.sh`, then `make test`"],
    ),
    (
        "not root, no sudo",
        "test",
        {"root": False, "sudo": False, "missing_packages": ("openssl",)},
        ["missing packages openssl, and no sudo"],
    ),
    ("not Debian", "check", {"apt": False, "missing_packages": ("runc",)}, ["not a Debian-like system"]),
    ("no overlayfs", "check", {"overlay": False}, ["`sudo modprobe overlay`"]),
    ("no cgroups", "demo", {"cgroups": False}, ["no cgroup v2"]),
    (
        "disk too small for a cold demo",
        "demo",
        {"cold": COLD.cold, "free_bytes": 20 * GIB},
        ["20 GiB free in the cache's file system, 33 GiB needed", "`make clean-cache`"],
    ),
    ("disk enough when warm", "demo", {"free_bytes": 1 * GIB}, []),
    (
        "in-cluster demo builds helm too",
        "demo-in-cluster",
        {"go_version": None, "unbuilt": frozenset({"helm"})},
        ["helm must be built", "then `make demo`"],
    ),
]


@pytest.mark.parametrize(("case", "goal", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_refusals(case, goal, changes, expected):
    got = refusals(dataclasses.replace(READY, **changes), goal)
    if not expected:
        assert got == [], case
        return
    joined = "\n".join(got)
    for part in expected:
        assert part in joined, (case, got)
    # Every refusal says what to run next.
    assert all("make " in r for r in got), got


def test_a_cold_machine_without_go_hears_everything_in_one_go():
    got = refusals(COLD, "check")
    assert len(got) == 1
    assert "Go is not installed" in got[0]
    assert "coredns, helm, luahealth, prometheus, tools" in got[0]


def test_disk_need_counts_only_what_the_goal_builds():
    # `make test` makes no images and no real node, only the env and the Go builds.
    assert needed_bytes(COLD, "test") == needed_bytes(
        dataclasses.replace(COLD, cold=frozenset({"venv"})), "test"
    )
    assert needed_bytes(COLD, "check") > needed_bytes(COLD, "test")
    assert needed_bytes(READY, "check") == 0
