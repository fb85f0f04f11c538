"""The error types artifact readers and writers raise."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import ClassVar


class ArtifactError(Exception):
    """An artifact is missing, corrupt, or in a format or architecture this process cannot load."""

    # A machine-readable name for the kind of failure, reported in termination messages; None for
    # the kinds the operator tells apart by the message.
    kind: ClassVar[str | None] = None


class ArtifactUnreadable(ArtifactError):
    """An artifact's file is there, but this process may not read it: its owner or mode shut this
    uid out. Unlike a missing artifact, fixing it means changing permissions, not paths."""

    kind = "ArtifactUnreadable"


def unreadable(exc: PermissionError, fallback: str | Path) -> ArtifactUnreadable:
    """The error for a PermissionError met reading an artifact: who was refused, and what the file's
    owner and mode are when the path can still be examined."""
    path = Path(exc.filename if exc.filename is not None else fallback)
    return ArtifactUnreadable(f"{path}: permission denied: {access_detail(path)}")


def access_detail(path: Path) -> str:
    """Who this process is and who may read ``path``, so the message says what to change."""
    who = f"this process runs as uid {os.geteuid()} gid {os.getegid()}"
    try:
        info = path.stat()
    except OSError:
        return f"{who} and may not search its directory"
    mode = stat.S_IMODE(info.st_mode)
    return (
        f"{who}; it has mode {mode:04o}, owner uid {info.st_uid} gid {info.st_gid}; artifacts must be "
        "readable by their readers (files 0644, directories 0755)"
    )
