"""Making a file another user's, and running a reader that the file's mode then shuts out.

As root (the CI machine, and pods that run as root) the file is handed to uid 65534 and the reader
runs as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so the mode bits apply to it as to
any other uid (dropping the uid itself would also lose the virtualenv under /root). As another user
the file keeps its owner, the reader is that user, and only the mode changes.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

OTHER_UID = 65534  # nobody
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def as_root() -> bool:
    return os.geteuid() == 0


def hand_over(path: Path, mode: int) -> None:
    """Give ``path`` (a file or a directory tree) to another user with ``mode`` on its files."""
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if as_root():
            os.chown(item, OTHER_UID, OTHER_UID)
        if item.is_file():
            os.chmod(item, mode)


def reader_preexec() -> None:
    """preexec_fn of a reader process: as root, give up the capabilities that ignore file modes."""
    if not as_root():
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {cap})")
