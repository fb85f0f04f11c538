"""Real trainer processes on this machine: each "pod" is a local process group with its own env.

The ``pods`` fixture starts them, and kills every process group it started when the test ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from support.wait import wait_for

BIN = Path(sys.executable).parent
LEPTON_TRAIN = str(BIN / "lepton-train")
TORCHRUN = str(BIN / "torchrun")
EXAMPLE = ["-m", "lepton.runtime.examples.classifier"]

# Variables of an enclosing launcher or job that must not leak into the simulated pods.
_LEAKY_PREFIXES = ("PET_", "LEPTON_", "TORCHELASTIC_")
_LEAKY = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
          "NNODES", "NODE_RANK", "NPROC_PER_NODE"}  # fmt: skip


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY and not k.startswith(_LEAKY_PREFIXES)}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        OMP_NUM_THREADS="1",  # two shared cores: one thread per worker
        PYTHONDONTWRITEBYTECODE="1",
        LEPTON_METRICS_PORT="0",
        # As the operator sets it from runPolicy; the launcher gives the workers 20 s of it.
        LEPTON_TERMINATION_GRACE_SECONDS="25",
    )
    return env


def design_pod_env(
    *, job: str, replicas: int, nproc: int, index: int, port: int, root: Path, attempt: int = 0
) -> dict[str, str]:
    """A static job's worker environment as docs/architecture.md states it, master at 127.0.0.1."""
    pairs = {
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(replicas * nproc),
        "NNODES": str(replicas), "NODE_RANK": str(index), "NPROC_PER_NODE": str(nproc),
        "LEPTON_JOB_NAME": job, "LEPTON_NAMESPACE": "default", "LEPTON_RESTART_ATTEMPT": str(attempt),
        "LEPTON_CHECKPOINT_DIR": str(root / "checkpoints"), "LEPTON_OUTPUT_DIR": str(root / "output"),
    }  # fmt: skip
    for name in ("MASTER_ADDR", "MASTER_PORT", "NNODES", "NODE_RANK", "NPROC_PER_NODE"):
        pairs[f"PET_{name}"] = pairs[name]
    return pairs


@dataclasses.dataclass
class Pod:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    termination_log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def wait(self, timeout: float) -> int:
        wait_for(self.exited, timeout, f"pod {self.name} to exit", seen=lambda: self.output()[-3000:])
        return int(self.proc.returncode)

    def message(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.termination_log.read_text())
        return loaded

    def workers(self) -> list[int]:
        """PIDs of the launcher's direct children: the worker processes."""
        parents = _parents()
        return sorted(pid for pid, ppid in parents.items() if ppid == self.proc.pid)


def _parents() -> dict[int, int]:
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            out[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return out


def descendants(pid: int) -> list[int]:
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        children = [c for c, p in parents.items() if p in frontier]
        found += children
        frontier = children
    return found


class Pods:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Pod] = []

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Pod:
        log = self.root / f"{name}.log"
        term = self.root / f"{name}.termination-log"
        full_env = {**base_env(), "LEPTON_TERMINATION_MESSAGE_PATH": str(term), **env}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(argv), env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
                start_new_session=True,  # a process group per pod: killing the pod kills its workers
            )  # fmt: skip
        pod = Pod(name, proc, log, term)
        self.started.append(pod)
        return pod

    def kill(self, pod: Pod, sig: int = signal.SIGKILL) -> None:
        """Like deleting the pod: the launcher and every worker (torch starts each in its own session)."""
        for pid in [pod.proc.pid, *descendants(pod.proc.pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def close(self) -> None:
        for pod in self.started:
            self.kill(pod)
        for pod in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                pod.proc.wait(timeout=30)


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[Pods]:
    group = Pods(tmp_path)
    try:
        yield group
    finally:
        group.close()


def logs(*group: Pod) -> str:
    return "\n".join(f"--- {p.name} ---\n{p.output()[-4000:]}" for p in group)
