"""``lepton-init``: fetch a TrainingJob's dataset or model into the shared volume, once.

The initializer pod runs one container per initializer (dataset, model), each
``lepton-init --name dataset --source <uri> --dest <dir> [--digest sha256:<hex>]``. Sources:
a path, ``file://``, ``pvc://<claim>/<path>`` (read where the pod mounts the claim), ``s3://`` (boto3,
the ``s3`` extra) and ``http(s)://`` (streamed with urllib). A source is one file (copied into
``<dest>/<its name>``) or a directory tree (an s3 prefix: every object under it).

The copy goes to a staging directory next to ``dest`` and is renamed into place only once complete
and verified, so workers never see half a dataset; ``<dest>/.lepton-init.json`` records what was
fetched, and a second run for the same source and digest fetches nothing. The digest of one file is
its sha256; of a tree, the sha256 of its ``sha256sum`` listing (see :func:`tree_digest`).

Failures leave a termination message the operator turns into the job's condition: its ``kind`` is
SourceUnreachable, DigestMismatch or InitializerFailed, and the exit code says the same (3, 4, 1).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

from lepton import storage
from lepton.serving.termination import write_termination_message

MARKER = ".lepton-init.json"
CHUNK = 8 << 20
HTTP_TIMEOUT_SECONDS = 30.0
PROGRESS_EVERY_SECONDS = 2.0

INITIALIZER_FAILED = "InitializerFailed"
SOURCE_UNREACHABLE = "SourceUnreachable"
DIGEST_MISMATCH = "DigestMismatch"
EXIT_CODES = {INITIALIZER_FAILED: 1, SOURCE_UNREACHABLE: 3, DIGEST_MISMATCH: 4}
"""Exit code of each failure kind, for when the termination message is lost (the operator reads
the message first)."""
USAGE_EXIT_CODE = 2


class InitError(storage.StorageError):
    """A failure of one of the kinds above (InitializerFailed unless said otherwise)."""

    def __init__(self, message: str, kind: str = INITIALIZER_FAILED) -> None:
        super().__init__(message, kind)


@dataclass
class Progress:
    """Bytes copied so far, logged every few seconds and at the end."""

    name: str
    total: int | None = None
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    last: float = 0.0

    def add(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            print(self.line(), file=sys.stderr, flush=True)

    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        part = f"{_size(self.done)}"
        if self.total:
            part += f" of {_size(self.total)} ({100 * self.done / self.total:.0f}%)"
        return f"{self.name}: {part} at {_size(self.rate())}/s"


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


def copy_stream(source: BinaryIO, target: Path, progress: Progress) -> str:
    """Copy ``source`` into ``target`` and return the sha256 hex of the bytes, hashed as they pass."""
    sha = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            sha.update(chunk)
            out.write(chunk)
            progress.add(len(chunk))
    return sha.hexdigest()


def hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def tree_digest(files: dict[str, str]) -> str:
    """The digest of a tree of files (relative path -> sha256 hex): the sha256 of the listing
    ``sha256sum`` prints for them in path order, which a user reproduces with
    ``cd DIR && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum``."""
    listing = "".join(f"{files[path]}  {path}\n" for path in sorted(files))
    return f"sha256:{hashlib.sha256(listing.encode()).hexdigest()}"


Fetcher = Callable[[Path, Progress], dict[str, str]]
"""Copies a source into a staging directory; returns relative path -> sha256 hex of what it wrote."""


def local_fetcher(path: Path, uri: str) -> Fetcher:
    def fetch(staging: Path, progress: Progress) -> dict[str, str]:
        try:
            if path.is_file():
                files = {path.name: path}
            elif path.is_dir():
                files = {str(p.relative_to(path)): p for p in sorted(path.rglob("*")) if p.is_file()}
            else:
                raise InitError(f"{uri}: {path} does not exist (or is not mounted)", SOURCE_UNREACHABLE)
            progress.total = sum(p.stat().st_size for p in files.values())
            digests = {}
            for relative, source in files.items():
                with source.open("rb") as fh:
                    digests[relative] = copy_stream(fh, staging / relative, progress)
        except PermissionError as exc:
            raise InitError(f"{uri}: {exc.filename}: permission denied (uid {os.geteuid()})") from exc
        return digests

    return fetch


def http_fetcher(uri: str) -> Fetcher:
    name = PurePosixPath(unquote(urlparse(uri).path)).name or "data"

    def fetch(staging: Path, progress: Progress) -> dict[str, str]:
        request = urllib.request.Request(uri, headers={"User-Agent": "lepton-init"})  # noqa: S310 - http(s) only
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                length = response.headers.get("Content-Length")
                progress.total = int(length) if length and length.isdigit() else None
                digest = copy_stream(response, staging / name, progress)
        except urllib.error.HTTPError as exc:
            raise InitError(f"{uri}: HTTP {exc.code} {exc.reason}", SOURCE_UNREACHABLE) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InitError(f"{uri}: cannot download: {reason}", SOURCE_UNREACHABLE) from None
        if progress.total is not None and progress.done != progress.total:
            raise InitError(
                f"{uri}: the server sent {progress.done} of {progress.total} bytes", SOURCE_UNREACHABLE
            )
        return {name: digest}

    return fetch


def s3_fetcher(uri: str) -> Fetcher:
    def fetch(staging: Path, progress: Progress) -> dict[str, str]:
        client = storage.s3_client(uri)
        bucket, prefix = storage.s3_location(uri)
        try:
            objects = _s3_objects(client, bucket, prefix)
        except storage.StorageError:
            raise
        except Exception as exc:  # botocore's errors: endpoint down, no such bucket, access denied
            raise InitError(f"{uri}: cannot list: {exc}", SOURCE_UNREACHABLE) from None
        if not objects:
            raise InitError(
                f"{uri}: no object {prefix!r} and nothing under {prefix + '/'!r}", SOURCE_UNREACHABLE
            )
        progress.total = sum(objects.values())
        digests = {}
        for key in objects:
            relative = PurePosixPath(key).name if key == prefix else key[len(prefix) :].lstrip("/")
            if not relative or ".." in PurePosixPath(relative).parts:
                continue
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                # download_file: boto3's parallel ranged GETs, much faster than one stream.
                client.download_file(bucket, key, str(target), Callback=progress.add)
            except Exception as exc:
                raise InitError(f"{uri}: cannot download {key}: {exc}", SOURCE_UNREACHABLE) from None
            digests[relative] = hash_file(target)
        return digests

    return fetch


def _s3_objects(client: Any, bucket: str, prefix: str) -> dict[str, int]:
    """Key -> size: the object named ``prefix`` if there is one, else every object under it."""
    if prefix:
        try:
            head = client.head_object(Bucket=bucket, Key=prefix)
            return {prefix: int(head["ContentLength"])}
        except Exception as exc:
            if storage.s3_error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
    objects: dict[str, int] = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for item in page.get("Contents") or []:
            if not item["Key"].endswith("/"):
                objects[item["Key"]] = int(item["Size"])
    return objects


def fetcher_for(uri: str, pvc_root: Path) -> Fetcher:
    local = storage.resolve_local(uri, pvc_root, remote=("s3", "http", "https"))
    if local is not None:
        return local_fetcher(local, uri)
    return s3_fetcher(uri) if urlparse(uri).scheme == "s3" else http_fetcher(uri)


def initialize(
    name: str,
    uri: str,
    dest: Path,
    *,
    digest: str | None = None,
    pvc_root: Path = Path(storage.DEFAULT_PVC_ROOT),
) -> dict[str, Any]:
    """Fetch ``uri`` into ``dest`` (unless it holds this source already) and return the record."""
    marker = dest / MARKER
    if marker.is_file():
        try:
            record: dict[str, Any] = json.loads(marker.read_text())
        except ValueError:
            record = {}
        if record.get("source") == uri and (digest is None or record.get("digest") == digest):
            print(f"{name}: {dest} holds {uri} already; nothing to fetch", file=sys.stderr)
            return {**record, "seconds": 0.0, "cached": True}
    fetch = fetcher_for(uri, pvc_root)
    staging = dest.parent / f".{dest.name}.partial"
    progress = Progress(name)
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        files = fetch(staging, progress)
        actual = f"sha256:{files[next(iter(files))]}" if len(files) == 1 else tree_digest(files)
        if digest is not None and actual != digest:
            raise InitError(f"{uri}: digest mismatch: expected {digest}, fetched {actual}", DIGEST_MISMATCH)
        record = {
            "source": uri,
            "digest": actual,
            "verified": digest is not None,
            "files": len(files),
            "sizeBytes": progress.done,
            "seconds": round(time.monotonic() - progress.started, 3),
        }
        (staging / MARKER).write_text(json.dumps(record))
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    except OSError as exc:
        raise InitError(f"{uri}: cannot write {dest}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(progress.line(), file=sys.stderr, flush=True)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lepton-init", description="Fetch a dataset or model, once.")
    parser.add_argument("--name", default="data", help="what is fetched (dataset, model): log and message")
    parser.add_argument("--source", required=True, help="path, file://, pvc://, s3:// or http(s):// URI")
    parser.add_argument("--dest", required=True, help="directory to fetch into (replaced once complete)")
    parser.add_argument("--digest", default=None, help="expected sha256:<hex> (one file, or tree_digest)")
    parser.add_argument(
        "--pvc-root",
        default=os.environ.get("LEPTON_PVC_ROOT", storage.DEFAULT_PVC_ROOT),
        help="where claims are mounted: pvc://<claim>/<path> is read from <pvc-root>/<claim>/<path>",
    )
    args = parser.parse_args(argv)
    if args.digest is not None and not _is_digest(args.digest):
        print(f"lepton-init: --digest {args.digest!r} is not sha256:<64 hex digits>", file=sys.stderr)
        return USAGE_EXIT_CODE
    try:
        record = initialize(
            args.name, args.source, Path(args.dest), digest=args.digest, pvc_root=Path(args.pvc_root)
        )
    except storage.StorageError as exc:
        kind = exc.kind or INITIALIZER_FAILED
        print(f"lepton-init: {args.name}: {kind}: {exc}", file=sys.stderr)
        write_termination_message({"fetched": False, "name": args.name, "kind": kind, "reason": str(exc)})
        return EXIT_CODES.get(kind, 1)
    write_termination_message({"fetched": True, "name": args.name, **record})
    print(json.dumps({"name": args.name, **record}))
    return 0


def _is_digest(text: str) -> bool:
    hexpart = text.removeprefix("sha256:")
    return text.startswith("sha256:") and len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart)


if __name__ == "__main__":
    sys.exit(main())
