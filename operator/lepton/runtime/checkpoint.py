"""Checkpoints: rank 0 writes them atomically, numbered by epoch; every rank gets the newest one back."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from lepton.artifacts.files import atomic_file
from lepton.runtime.context import context

log = logging.getLogger(__name__)

_NAME = re.compile(r"^checkpoint-(\d+)\.pt$")


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    epoch: int
    state: dict[str, Any]
    path: Path


def checkpoint_path(directory: Path, epoch: int) -> Path:
    return directory / f"checkpoint-{epoch:06d}.pt"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, newest first. Temporary files of an interrupted write never match."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name)) and p.is_file()]
    return sorted(found, reverse=True)


def _directory(directory: str | Path | None) -> Path | None:
    if directory is not None:
        return Path(directory)
    return context().checkpoint_dir


def save_checkpoint(
    state: Mapping[str, Any], epoch: int, *, directory: str | Path | None = None, keep: int = 3
) -> Path | None:
    """On rank 0, write ``state`` as the checkpoint of ``epoch`` (the number of epochs completed) and
    keep the newest ``keep``; other ranks do nothing and return None. Without a directory (argument
    or LEPTON_CHECKPOINT_DIR) checkpointing is off and this returns None."""
    if context().rank != 0:
        return None
    root = _directory(directory)
    if root is None:
        return None
    path = checkpoint_path(root, epoch)
    payload = {"epoch": epoch, "state": dict(state)}
    with atomic_file(path) as fh:
        torch.save(payload, fh)
    for _, old in list_checkpoints(root)[max(keep, 1) :]:
        old.unlink(missing_ok=True)
    return path


def _read_newest(root: Path, map_location: str | torch.device, weights_only: bool) -> Checkpoint | None:
    for _, path in list_checkpoints(root):
        try:
            payload = torch.load(path, map_location=map_location, weights_only=weights_only)
            return Checkpoint(epoch=int(payload["epoch"]), state=dict(payload["state"]), path=path)
        except Exception as exc:  # a damaged checkpoint is skipped for an older one
            log.warning("skipping unreadable checkpoint %s: %s", path, exc)
    return None


def load_latest_checkpoint(
    *,
    directory: str | Path | None = None,
    map_location: str | torch.device = "cpu",
    weights_only: bool = True,
    broadcast: bool = True,
) -> Checkpoint | None:
    """The newest complete checkpoint, or None when there is none.

    With ``broadcast`` (the default) and a process group, rank 0 reads it and sends it to every rank,
    so pods need not share the checkpoint volume; it is then a collective all ranks must call.
    ``weights_only`` keeps torch.load from running code stored in the file.
    """
    root = _directory(directory)
    grouped = broadcast and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    if not grouped:
        return _read_newest(root, map_location, weights_only) if root is not None else None
    box: list[Any] = [None]
    if dist.get_rank() == 0 and root is not None:
        box[0] = _read_newest(root, "cpu", weights_only)
    dist.broadcast_object_list(box, src=0)
    found: Checkpoint | None = box[0]
    if found is not None and str(map_location) != "cpu":
        state = _move(found.state, torch.device(map_location))
        found = dataclasses.replace(found, state=state)
    return found


def _move(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _move(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_move(v, device) for v in value)
    return value
