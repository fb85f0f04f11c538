"""Where the artifact goes: LEPTON_OUTPUT_DIR, or the directory LEPTON_OUTPUT_URI names.

URIs read the same way the model server reads them (lepton.serving.fetch): ``file:///path``;
``pvc://<claim>/<path>`` under the claim's mount ``$LEPTON_PVC_ROOT/<claim>`` (default /mnt/pvc);
``s3://bucket/prefix``, written locally first and uploaded with boto3 (the ``s3`` extra).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from lepton.runtime import env

DEFAULT_PVC_ROOT = "/mnt/pvc"


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
        return OutputLocation(Path("lepton-output"), None)
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return OutputLocation(Path(unquote(parsed.path)), uri)
    if parsed.scheme == "pvc":
        root = Path(environ.get("LEPTON_PVC_ROOT") or DEFAULT_PVC_ROOT)
        return OutputLocation(root / parsed.netloc / unquote(parsed.path).lstrip("/"), uri)
    if parsed.scheme == "s3":
        return OutputLocation(Path(tempfile.gettempdir()) / "lepton-artifact", uri, upload_to=uri)
    raise ValueError(f"{env.OUTPUT_URI}={uri!r}: unsupported scheme (use file://, pvc:// or s3://)")


def upload_s3(directory: Path, uri: str) -> None:
    """Copy the artifact's files to ``s3://bucket/prefix/``; the manifest last, as when writing locally."""
    try:
        import boto3  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 - optional extra
    except ImportError:
        raise RuntimeError(f"{uri}: writing to s3:// needs boto3; install lepton[s3]") from None
    parsed = urlparse(uri)
    prefix = parsed.path.strip("/")
    client = boto3.client("s3")
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in sorted(files, key=lambda p: p.name == "manifest.json"):
        key = f"{prefix}/{path.name}" if prefix else path.name
        client.upload_file(str(path), parsed.netloc, key)
