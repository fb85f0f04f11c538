"""Crash-safe file writes: a reader sees the old file or the whole new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Yield a temporary file next to ``path``; on success fsync it, rename it over ``path`` and
    fsync the directory so the rename survives a power cut. On error the temporary file is removed."""
    # Directories get 0777 less the umask (0755 usually), as mkdir(1) would.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        # mkstemp creates 0600, which the rename would keep: only the writer's uid could read the
        # artifact, and a verifier or server running as another uid failed with EACCES. The mode a
        # plain open() gives instead: 0666 less the umask (0644 usually).
        os.fchmod(fd, 0o666 & ~process_umask())
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def process_umask() -> int:
    """The process's umask. Linux shows it in /proc; elsewhere os.umask must set it to read it, which
    briefly changes it for every thread, so that is only the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    with atomic_file(path) as fh:
        write(fh)


def fsync_dir(directory: Path) -> None:
    # Not every filesystem lets a directory be opened for fsync; durability is then best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
