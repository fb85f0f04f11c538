"""Where artifact, dataset and model URIs point: the one reading of ``file://``, ``pvc://`` and
``s3://`` shared by the model server's fetch (lepton.serving.fetch), the trainer's output
(lepton.runtime.output) and the TrainingJob initializers (lepton.runtime.initializer).

Torch-free and operator-free: it runs in init containers and initializer pods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

DEFAULT_PVC_ROOT = "/mnt/pvc"
"""Where a pod mounts claims: pvc://<claim>/<path> is read from <pvc-root>/<claim>/<path>."""


class StorageError(Exception):
    """A source cannot be named, reached or copied; the message says why, ``kind`` (for the
    termination message) what sort of failure it is when the operator must tell it apart."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


def resolve_local(source: str, pvc_root: Path, *, remote: tuple[str, ...] = ("s3",)) -> Path | None:
    """The local path a source names (a path, ``file://`` or ``pvc://``), or None for a source of
    one of the ``remote`` schemes, which its reader downloads."""
    parsed = urlparse(source)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else source)
    if parsed.scheme == "pvc":
        if not parsed.netloc:
            raise StorageError(f"{source}: a pvc:// URI needs a claim name: pvc://<claim>/<path>")
        inner = Path(unquote(parsed.path).lstrip("/"))
        if ".." in inner.parts:
            raise StorageError(f"{source}: the path must stay inside the claim")
        return pvc_root / parsed.netloc / inner
    if parsed.scheme in remote:
        return None
    schemes = ", ".join(["a path", "file://", "pvc://", *(f"{s}://" for s in remote)])
    raise StorageError(f"{source}: unsupported URI scheme {parsed.scheme!r} (use {schemes})")


def s3_location(uri: str) -> tuple[str, str]:
    """(bucket, key prefix without slashes at either end) of an ``s3://bucket/prefix`` URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StorageError(f"{uri}: not an s3://<bucket>/<prefix> URI")
    return parsed.netloc, unquote(parsed.path).strip("/")


def s3_key(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def s3_error_code(exc: Exception) -> str:
    """The S3 error code of a botocore error ("404", "NoSuchKey", "AccessDenied"...); "" when no
    answer came at all (endpoint down, DNS, timeout): botocore's connection errors carry no response."""
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def s3_client(uri: str) -> Any:
    """A boto3 S3 client; credentials, region and AWS_ENDPOINT_URL come from the environment (or
    the pod's identity), as boto3 reads them."""
    try:
        import boto3  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 - optional extra
    except ImportError:
        raise StorageError(f"{uri}: s3:// needs boto3; install lepton[s3]") from None
    return boto3.client("s3")
