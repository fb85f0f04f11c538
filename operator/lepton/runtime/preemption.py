"""SIGTERM handling: Kubernetes (through the launcher) asks workers to stop; they checkpoint and exit.

The launcher forwards SIGTERM to every worker of the pod. A worker that merely noted it would run
into a collective its peers never join, so ``stop_requested()`` agrees on the answer across ranks.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import torch
import torch.distributed as dist

# What a process killed by SIGTERM reports (128 + 15); the operator's restart policy reads it.
PREEMPTED_EXIT_CODE = 128 + signal.SIGTERM

_received = threading.Event()
_installed = False


def _note(signum: int, frame: FrameType | None) -> None:
    _received.set()


def install_sigterm_handler() -> None:
    """Turn SIGTERM into a request to stop at the next step instead of an immediate death.
    Only the main thread may install signal handlers; elsewhere this does nothing."""
    global _installed  # noqa: PLW0603 - one handler per process
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _note)
    _installed = True


def sigterm_received() -> bool:
    """Whether this process got SIGTERM (no communication with other ranks)."""
    return _received.is_set()


def stop_requested(device: torch.device | None = None) -> bool:
    """Whether any rank got SIGTERM. A collective: every rank must call it at the same step."""
    local = _received.is_set()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    flag = torch.tensor([1 if local else 0], dtype=torch.int32, device=device or torch.device("cpu"))
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())
