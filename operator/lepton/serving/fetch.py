"""Copy a model artifact into a local directory: the init container of model-server pods.

``python -m lepton.serving.fetch --source <uri> --dest <dir>`` (or ``lepton-serve fetch ...``).
Sources: a local path or ``file://`` URI; ``pvc://<claim>/<path>``, read from
``<pvc-root>/<claim>/<path>`` where the pod mounts the claim; ``s3://<bucket>/<prefix>`` with the
optional ``s3`` extra (boto3; credentials and ``AWS_ENDPOINT_URL`` from the environment).
Only ``manifest.json`` and the model file it names are copied, the manifest last, so a partial
copy is never mistaken for an artifact. Digests are checked by the server when it loads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lepton import storage
from lepton.serving.termination import write_termination_message
from lepton.storage import StorageError

MANIFEST = "manifest.json"
DEFAULT_PVC_ROOT = storage.DEFAULT_PVC_ROOT
# The kind lepton.artifacts.ArtifactUnreadable reports; named again here because importing
# lepton.artifacts loads torch, which this init container never needs.
UNREADABLE = "ArtifactUnreadable"
# An s3 endpoint that did not answer: the artifact may well be there (not ArtifactNotFound).
UNREACHABLE = "SourceUnreachable"


FetchError = StorageError
"""The artifact could not be found or copied (lepton.storage.StorageError)."""


def unreadable_source(exc: PermissionError, fallback: Path) -> FetchError:
    """A source file or directory this uid may not read: who was refused, and the path's owner and
    mode (as lepton.artifacts.errors.unreadable says it for local loads)."""
    path = Path(exc.filename if exc.filename is not None else fallback)
    who = f"this process runs as uid {os.geteuid()} gid {os.getegid()}"
    try:
        info = path.stat()
        detail = (
            f"{who}; it has mode {stat.S_IMODE(info.st_mode):04o}, owner uid {info.st_uid} gid "
            f"{info.st_gid}; artifacts must be readable by their readers (files 0644, directories 0755)"
        )
    except OSError:
        detail = f"{who} and may not search its directory"
    return FetchError(f"{path}: permission denied: {detail}", kind=UNREADABLE)


def resolve_local(source: str, pvc_root: Path) -> Path | None:
    """The local directory a source names, or None for remote (s3://) sources."""
    return storage.resolve_local(source, pvc_root)


def _model_file(manifest_bytes: bytes, where: str) -> str:
    try:
        manifest: Any = json.loads(manifest_bytes)
        name = manifest["file"]
    except (ValueError, KeyError, TypeError):
        raise FetchError(f"{where}: {MANIFEST} is not a valid artifact manifest") from None
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise FetchError(f"{where}: {MANIFEST} names file {name!r}, which is not a plain file name")
    return name


def _install(dest: Path, name: str, write: Any) -> None:
    partial = dest / f".{name}.partial"
    write(partial)
    os.replace(partial, dest / name)


def fetch_local(source: Path, dest: Path) -> None:
    # Everything the source side reads happens in this block, so a PermissionError here is the
    # artifact's (ArtifactUnreadable), while one writing ``dest`` stays the pod's own problem.
    try:
        if source.is_file() and source.name == MANIFEST:
            source = source.parent
        manifest = source / MANIFEST
        if not manifest.is_file():
            raise FetchError(f"{source}: no {MANIFEST}; not an artifact directory (or not mounted)")
        data = manifest.read_bytes()
        name = _model_file(data, str(source))
        if not (source / name).is_file():
            raise FetchError(f"{source}: model file {name} is missing")
        # Opened only to learn now whether it may be read; shutil.copyfile keeps its in-kernel copy.
        with (source / name).open("rb"):
            pass
    except PermissionError as exc:
        raise unreadable_source(exc, source) from exc
    _install(dest, name, lambda target: shutil.copyfile(source / name, target))
    _install(dest, MANIFEST, lambda target: target.write_bytes(data))


def fetch_s3(source: str, dest: Path) -> None:
    client = storage.s3_client(source)
    bucket, prefix = storage.s3_location(source)
    try:
        data = client.get_object(Bucket=bucket, Key=storage.s3_key(prefix, MANIFEST))["Body"].read()
        name = _model_file(data, source)
        _install(
            dest, name, lambda target: client.download_file(bucket, storage.s3_key(prefix, name), str(target))
        )
    except FetchError:
        raise
    except Exception as exc:
        kind = None if storage.s3_error_code(exc) else UNREACHABLE
        raise FetchError(f"{source}: cannot download: {exc}", kind=kind) from exc
    _install(dest, MANIFEST, lambda target: target.write_bytes(data))


def fetch(source: str, dest: str | Path, *, pvc_root: str | Path = DEFAULT_PVC_ROOT) -> Path:
    """Copy the artifact at ``source`` into ``dest`` (created if missing) and return ``dest``."""
    target = Path(dest)
    local = resolve_local(source, Path(pvc_root))
    try:
        target.mkdir(parents=True, exist_ok=True)
        if local is None:
            fetch_s3(source, target)
        else:
            fetch_local(local, target)
    except OSError as exc:
        raise FetchError(f"{source}: cannot copy to {target}: {exc}") from exc
    return target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="artifact URI: path, file://, pvc:// or s3://")
    parser.add_argument("--dest", required=True, help="directory to copy the artifact into")
    parser.add_argument(
        "--pvc-root",
        default=os.environ.get("LEPTON_PVC_ROOT", DEFAULT_PVC_ROOT),
        help="where claims are mounted: pvc://<claim>/<path> is read from <pvc-root>/<claim>/<path>",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lepton-serve fetch", description="Copy a model artifact.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        fetch(args.source, args.dest, pvc_root=args.pvc_root)
    except FetchError as exc:
        print(f"fetch failed: {exc}", file=sys.stderr)
        kind = {"kind": exc.kind} if exc.kind else {}
        write_termination_message({"fetched": False, "reason": str(exc), **kind})
        return 1
    print(f"fetched {args.source} into {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
