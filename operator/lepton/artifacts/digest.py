"""Content digests of model files."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def file_digest(path: str | Path) -> str:
    """Return ``"sha256:<hex>"`` of the file's bytes, read in chunks so large models fit in memory."""
    sha = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
    return f"sha256:{sha.hexdigest()}"
