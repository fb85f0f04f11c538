"""Decide, from facts about the machine, whether a goal can set itself up (pure: no I/O).

A goal (`make demo`, `make check`) installs what it can by itself (Debian packages through apt as
root, Go-built tools, the Python env, images). What it cannot install is refused here, before any
build starts, with the one command to run: a missing or too old Go (only when a Go build is still
due), Python < 3.11, no root where a real node or apt needs it, a kernel without overlayfs or
cgroups, or too little disk for what is still to be built.
"""

from __future__ import annotations

from dataclasses import dataclass

GO_MIN = (1, 26, 0)
GIB = 1 << 30

# Go builds each goal uses, by the names of facts.GO_BUILDS. `check` runs the chart and Argo CD
# tests (helm, luahealth) and the e2e suite on a real node (CoreDNS; Traefik for the rollouts through
# a Gateway); `demo` runs only the cluster with a real node (helm too with IN_CLUSTER=1).
GOAL_BUILDS = {
    "demo": ("tools", "prometheus", "coredns"),
    "demo-in-cluster": ("tools", "prometheus", "coredns", "helm"),
    "check": ("tools", "prometheus", "coredns", "helm", "luahealth", "traefik"),
    "test": ("tools", "prometheus", "helm", "luahealth"),
}
# Goals that start a real kubelet node (mounts, network namespaces, a bridge): root only.
REAL_NODE_GOALS = frozenset({"demo", "demo-in-cluster", "check"})

# Disk a cold part takes (measured here, rounded up): the venv with torch 5.8 GB; the images'
# buildah store and OCI export 14.2 GB; a real node's containerd root 9.2 GB; the Go builds and Go's
# module and build caches about 4 GB.
SIZES = {"venv": 7 * GIB, "images": 16 * GIB, "realnode": 10 * GIB, "go": 4 * GIB}


@dataclass(frozen=True)
class Host:
    python_version: tuple[int, ...]
    go_version: tuple[int, ...] | None
    """None: no `go` on PATH."""
    root: bool
    sudo: bool
    apt: bool
    missing_packages: tuple[str, ...]
    overlay: bool
    cgroups: bool
    unbuilt: frozenset[str]
    """Names of facts.GO_BUILDS whose output is not in the cache."""
    cold: frozenset[str]
    """Keys of SIZES still to be made (no venv, no images, ...)."""
    free_bytes: int


def _version(v: tuple[int, ...]) -> str:
    return ".".join(map(str, v))


def refusals(host: Host, goal: str) -> list[str]:
    """Why `make <goal>` cannot set itself up here, each with what to run; empty when it can."""
    rerun = f"make {goal.removesuffix('-in-cluster')}"
    out: list[str] = []
    if host.python_version < (3, 11):
        out.append(
            f"Python {_version(host.python_version)} is older than 3.11: install python3 >= 3.11 "
            f"(or point PYTHON= at one), then `{rerun}`"
        )
    due = sorted(set(GOAL_BUILDS[goal]) & host.unbuilt)
    if due and host.go_version is None:
        out.append(
            f"Go is not installed and {', '.join(due)} must be built with it: install Go >= "
            f"{_version(GO_MIN)} (https://go.dev/dl, then `export PATH=$PATH:/usr/local/go/bin`), "
            f"then `{rerun}`"
        )
    elif due and host.go_version is not None and host.go_version < GO_MIN:
        out.append(
            f"Go {_version(host.go_version)} is older than {_version(GO_MIN)}, which {', '.join(due)} "
            f"need: install Go >= {_version(GO_MIN)} (https://go.dev/dl), then `{rerun}`"
        )
    if goal in REAL_NODE_GOALS and not host.root:
        out.append(
            f"a real kubelet node needs root: `sudo {rerun}` (or `make test` for the suite without e2e)"
        )
    elif host.missing_packages and not host.root:
        packages = " ".join(host.missing_packages)
        if host.sudo and host.apt:
            out.append(
                f"Debian packages are missing and installing them needs root: `sudo e2e/setup-host.sh`, "
                f"then `{rerun}`"
            )
        else:
            out.append(
                f"missing packages {packages}, and no sudo to install them: install them as root, "
                f"then `{rerun}`"
            )
    if host.missing_packages and not host.apt:
        out.append(
            f"missing {' '.join(host.missing_packages)} and this is not a Debian-like system (no apt-get): "
            f"install them by hand, then `{rerun}`"
        )
    if goal in REAL_NODE_GOALS and not host.overlay:
        out.append(
            "the kernel has no overlay filesystem (containerd and buildah need it): "
            f"`sudo modprobe overlay`, then `{rerun}`"
        )
    if goal in REAL_NODE_GOALS and not host.cgroups:
        out.append(
            "no cgroup v2 or v1 memory controller under /sys/fs/cgroup (a kubelet needs one): "
            f"mount cgroups, then `{rerun}`"
        )
    needed = needed_bytes(host, goal)
    if host.free_bytes < needed:
        out.append(
            f"{host.free_bytes / GIB:.0f} GiB free in the cache's file system, "
            f"{needed / GIB:.0f} GiB needed for "
            f"what is still to be built ({', '.join(sorted(_cold_parts(host, goal)))}): free space or run "
            f"`make clean-cache`, then `{rerun}`"
        )
    return out


def _cold_parts(host: Host, goal: str) -> set[str]:
    parts = set(host.cold) & ({"venv", "images", "realnode"} if goal in REAL_NODE_GOALS else {"venv"})
    if set(GOAL_BUILDS[goal]) & host.unbuilt:
        parts.add("go")
    return parts


def needed_bytes(host: Host, goal: str) -> int:
    return sum(SIZES[p] for p in _cold_parts(host, goal))
