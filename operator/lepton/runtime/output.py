"""Where the artifact goes: LEPTON_OUTPUT_DIR, or the directory LEPTON_OUTPUT_URI names.

URIs read the same way the model server reads them (lepton.storage): ``file:///path``;
``pvc://<claim>/<path>`` under the claim's mount ``$LEPTON_PVC_ROOT/<claim>`` (default /mnt/pvc);
``s3://bucket/prefix``, written locally first and uploaded with boto3 (the ``s3`` extra).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from lepton import storage
from lepton.runtime import env


@dataclasses.dataclass(frozen=True)
class OutputLocation:
    directory: Path
    # What the termination message reports; None: the directory's file:// URI.
    uri: str | None
    # s3:// prefix to upload the directory to after writing it.
    upload_to: str | None = None


def resolve_output(environ: Mapping[str, str]) -> OutputLocation:
    uri = environ.get(env.OUTPUT_URI) or None
    explicit = environ.get(env.OUTPUT_DIR)
    if explicit:
        return OutputLocation(Path(explicit), uri)
    if uri is None:
        # Nowhere asked for: inside the pod, under TMPDIR, the one place a restricted worker (read-only
        # root filesystem) may write without a volume of its own.
        return OutputLocation(Path(tempfile.gettempdir()) / "lepton-output", None)
    if urlparse(uri).scheme == "":
        raise ValueError(f"{env.OUTPUT_URI}={uri!r}: unsupported scheme (use file://, pvc:// or s3://)")
    root = Path(environ.get("LEPTON_PVC_ROOT") or storage.DEFAULT_PVC_ROOT)
    try:
        local = storage.resolve_local(uri, root)
    except storage.StorageError as exc:
        raise ValueError(f"{env.OUTPUT_URI}={uri!r}: {exc} (unsupported scheme?)") from None
    if local is None:
        return OutputLocation(Path(tempfile.gettempdir()) / "lepton-artifact", uri, upload_to=uri)
    return OutputLocation(local, uri)


def upload_s3(directory: Path, uri: str) -> None:
    """Copy the artifact's files to ``s3://bucket/prefix/``; the manifest last, as when writing locally."""
    try:
        client = storage.s3_client(uri)
        bucket, prefix = storage.s3_location(uri)
    except storage.StorageError as exc:
        raise RuntimeError(str(exc)) from None
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in sorted(files, key=lambda p: p.name == "manifest.json"):
        client.upload_file(str(path), bucket, storage.s3_key(prefix, path.name))
