"""From the pod's environment (docs/architecture.md, torchrun's PET_* names) to an elastic launch
configuration."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence

import torch

from lepton.runtime import env
from lepton.runtime.grace import GraceError, shutdown_timeout_from_env

USAGE = "usage: lepton-train [-m module | script.py | --no-python command] [args...]"
DEFAULT_MASTER_PORT = 29500


@dataclasses.dataclass(frozen=True)
class LaunchSettings:
    """What torchrun would take from its flags, here taken from the environment the operator injects."""

    min_nodes: int
    max_nodes: int
    nproc_per_node: int
    node_rank: int
    rdzv_backend: str
    rdzv_endpoint: str
    rdzv_configs: dict[str, object]
    run_id: str
    max_restarts: int
    monitor_interval: float
    local_addr: str | None
    # Seconds the agent gives workers after SIGTERM before SIGKILL; None: torch's default (30).
    shutdown_timeout: int | None = None


class UsageError(ValueError):
    """The command line or the environment cannot describe a launch."""


def _lookup(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def _int(environ: Mapping[str, str], *names: str, default: int) -> int:
    value = _lookup(environ, *names)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{names[0]}={value!r} is not an integer") from None


def parse_nnodes(value: str) -> tuple[int, int]:
    """``"N"`` or ``"MIN:MAX"`` (elastic), as torchrun's --nnodes."""
    parts = value.split(":")
    try:
        if len(parts) == 1:
            low = high = int(parts[0])
        elif len(parts) == 2:
            low, high = int(parts[0]), int(parts[1])
        else:
            raise ValueError(value)
    except ValueError:
        raise UsageError(f"NNODES={value!r} is not N or MIN:MAX") from None
    if not 0 < low <= high:
        raise UsageError(f"NNODES={value!r}: need 0 < min <= max")
    return low, high


def parse_rdzv_conf(value: str) -> dict[str, object]:
    """``key=value,key=value`` as torchrun's --rdzv-conf."""
    out: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, sep, val = item.partition("=")
        if not key.strip() or not sep:
            raise UsageError(f"PET_RDZV_CONF={value!r} is not key=value,...")
        out[key.strip()] = val.strip()
    return out


def nproc_per_node(value: str | None) -> int:
    """An integer, or ``auto``/``gpu``/``cpu`` as torchrun: one process per GPU, else one."""
    if value in (None, "auto", "gpu"):
        if torch.cuda.is_available():
            return torch.cuda.device_count()
        if value == "gpu":
            raise UsageError("NPROC_PER_NODE=gpu but CUDA is not available")
        return 1
    if value == "cpu":
        return os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        raise UsageError(f"NPROC_PER_NODE={value!r} is not an integer") from None
    if count < 1:
        raise UsageError(f"NPROC_PER_NODE={value!r} must be at least 1")
    return count


def settings_from_env(environ: Mapping[str, str]) -> LaunchSettings:
    min_nodes, max_nodes = parse_nnodes(_lookup(environ, "PET_NNODES", "NNODES") or "1")
    node_rank = _int(environ, "PET_NODE_RANK", "NODE_RANK", default=0)
    master_addr = _lookup(environ, "PET_MASTER_ADDR", "MASTER_ADDR") or "127.0.0.1"
    master_port = _int(environ, "PET_MASTER_PORT", "MASTER_PORT", default=DEFAULT_MASTER_PORT)
    backend = _lookup(environ, "PET_RDZV_BACKEND") or "static"
    configs = parse_rdzv_conf(_lookup(environ, "PET_RDZV_CONF") or "")
    if backend == "static":
        if min_nodes != max_nodes:
            raise UsageError(f"elastic NNODES={min_nodes}:{max_nodes} needs PET_RDZV_BACKEND (c10d)")
        configs["rank"] = node_rank
    max_restarts = _int(environ, "PET_MAX_RESTARTS", default=0)
    if max_restarts < 0:
        raise UsageError("PET_MAX_RESTARTS must be >= 0")
    try:
        shutdown_timeout = shutdown_timeout_from_env(environ)
    except GraceError as exc:
        raise UsageError(str(exc)) from None
    return LaunchSettings(
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        nproc_per_node=nproc_per_node(_lookup(environ, "PET_NPROC_PER_NODE", "NPROC_PER_NODE")),
        node_rank=node_rank,
        rdzv_backend=backend,
        rdzv_endpoint=_lookup(environ, "PET_RDZV_ENDPOINT") or f"{master_addr}:{master_port}",
        rdzv_configs=configs,
        run_id=_lookup(environ, "PET_RDZV_ID", env.JOB_NAME) or "none",
        max_restarts=max_restarts,
        monitor_interval=float(_lookup(environ, "PET_MONITOR_INTERVAL") or 0.1),
        local_addr=_lookup(environ, "PET_LOCAL_ADDR"),
        shutdown_timeout=shutdown_timeout,
    )


def worker_command(argv: Sequence[str], python: str = sys.executable) -> tuple[str, list[str]]:
    """The program each worker runs and its arguments, as torchrun builds them (unbuffered python)."""
    if not argv or argv[0] in ("-h", "--help"):
        raise UsageError(USAGE)
    first, rest = argv[0], list(argv[1:])
    if first == "-m":
        if not rest:
            raise UsageError(USAGE)
        return python, ["-u", "-m", *rest]
    if first == "--no-python":
        if not rest:
            raise UsageError(USAGE)
        return rest[0], rest[1:]
    if first.startswith("-"):
        raise UsageError(f"unknown option {first}\n{USAGE}")
    if first.endswith(".py"):
        return python, ["-u", first, *rest]
    # Anything else is a program of its own (python itself, a shell, a compiled trainer).
    return first, rest
