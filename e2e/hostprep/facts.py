"""Facts about this machine and its cache that preflight and prune decide on (the I/O side)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import preflight

E2E = Path(__file__).resolve().parent.parent
REPO = E2E.parent
# Every Go-built binary the project uses: the script that builds it (its --print names the output,
# which exists once built). A build script missing here fails tests/unit/setup/test_make_graph.py.
GO_BUILDS = {
    "tools": "e2e/build-tools.sh",
    "prometheus": "e2e/build-prometheus.sh",
    "coredns": "e2e/realnode/build-coredns.sh",
    "helm": "e2e/realnode/build-helm.sh",
    "traefik": "e2e/build-traefik.sh",
    "keda": "e2e/tools/keda/build.sh",
    "luahealth": None,  # built by tests/support/luahealth.py, keyed by luahealth_dir()
}
# Packages e2e/setup-host.sh installs (parsed from it, so the two cannot disagree).
_PACKAGES = re.compile(r"^packages=\(([^)]*)\)", re.MULTILINE)


def cache_dir() -> Path:
    return Path(os.environ.get("LEPTON_CACHE", Path.home() / ".cache" / "lepton"))


def luahealth_dir(cache: Path) -> Path:
    harness = E2E / "tools" / "luahealth"
    key = hashlib.sha256(b"".join((harness / f).read_bytes() for f in ("go.mod", "go.sum", "main.go")))
    return cache / "bin" / f"luahealth-{key.hexdigest()[:16]}"


def _print(script: str) -> Path:
    out = subprocess.run([str(REPO / script), "--print"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def build_output(name: str, cache: Path) -> Path:
    """The file or folder the Go build `name` makes (folder builds are renamed into place whole)."""
    script = GO_BUILDS[name]
    return luahealth_dir(cache) / "luahealth" if script is None else _print(script)


def build_dir(name: str, cache: Path) -> Path:
    """The entry under cache/bin that holds build `name`'s current output."""
    out = build_output(name, cache)
    return out if out.parent == cache / "bin" else out.parent


def venv_dir() -> Path:
    return _print("e2e/python-env.sh")


def setup_packages() -> list[str]:
    found = _PACKAGES.search((E2E / "setup-host.sh").read_text())
    assert found, "e2e/setup-host.sh has no packages=(...) list"
    return found.group(1).split()


def missing_packages() -> tuple[str, ...]:
    if shutil.which("dpkg-query") is None:
        return tuple(p for p in setup_packages() if shutil.which(p) is None)
    missing = []
    for p in setup_packages():
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in out.stdout:
            missing.append(p)
    return tuple(missing)


def go_version() -> tuple[int, ...] | None:
    go = shutil.which("go")
    if go is None:
        return None
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    found = re.match(r"go(\d+)\.(\d+)(?:\.(\d+))?", out.stdout.strip())
    return tuple(int(x or 0) for x in found.groups()) if found else (0,)


def host(goal: str) -> preflight.Host:
    cache = cache_dir()
    unbuilt = frozenset(n for n in preflight.GOAL_BUILDS[goal] if not build_output(n, cache).exists())
    cold = set()
    if not (venv_dir() / ".complete").exists():
        cold.add("venv")
    if not (cache / "images" / "stamps" / "torch-base").exists():
        cold.add("images")
    bridge = os.environ.get("LEPTON_BRIDGE", "lepton0")
    if not (cache / "realnode" / f"{bridge}-0").exists():
        cold.add("realnode")
    probe = cache
    while not probe.exists():
        probe = probe.parent
    cgroup = Path("/sys/fs/cgroup")
    return preflight.Host(
        python_version=tuple(sys.version_info[:3]),
        go_version=go_version(),
        root=os.geteuid() == 0,
        sudo=shutil.which("sudo") is not None,
        apt=shutil.which("apt-get") is not None,
        missing_packages=missing_packages(),
        overlay="overlay" in Path("/proc/filesystems").read_text(),
        cgroups=(cgroup / "cgroup.controllers").exists() or (cgroup / "memory").is_dir(),
        unbuilt=unbuilt,
        cold=frozenset(cold),
        free_bytes=shutil.disk_usage(probe).free,
    )
