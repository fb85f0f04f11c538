"""`lepton-init` as the initializer pod runs it: a real process fetching from a local path, a
pvc:// claim, a local HTTP server and a local S3 server (moto), verifying digests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.ports import free_port
from support.s3 import S3Server, moto_server
from support.wait import wait_for


@pytest.fixture
def payload() -> bytes:
    return os.urandom(3 << 20) + b"tail"


def sha(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def run_init(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    message = tmp / "termination-log"
    message.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "lepton.runtime.initializer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {}), "LEPTON_TERMINATION_MESSAGE_PATH": str(message)},
        check=False,
    )
    return done.returncode, json.loads(message.read_text()), done.stderr


def test_a_file_is_fetched_verified_and_not_fetched_twice(tmp_path: Path, payload: bytes) -> None:
    source = tmp_path / "src" / "train.bin"
    source.parent.mkdir()
    source.write_bytes(payload)
    dest = tmp_path / "workspace" / "dataset"
    code, message, log = run_init(
        tmp_path,
        "--name",
        "dataset",
        "--source",
        source.as_uri(),
        "--dest",
        str(dest),
        "--digest",
        sha(payload),
    )
    assert code == 0, log
    assert (dest / "train.bin").read_bytes() == payload
    assert message["fetched"] is True
    assert message["verified"] is True
    assert message["digest"] == sha(payload)
    assert message["sizeBytes"] == len(payload)
    assert "dataset: 3.0 MiB of 3.0 MiB (100%)" in log, "progress is logged"
    assert not list(dest.parent.glob(".*partial")), "no staging directory is left behind"

    before = (dest / "train.bin").stat().st_mtime_ns
    code, message, log = run_init(
        tmp_path, "--name", "dataset", "--source", source.as_uri(), "--dest", str(dest)
    )
    assert code == 0
    assert "nothing to fetch" in log
    assert message.get("cached") is True
    assert (dest / "train.bin").stat().st_mtime_ns == before


def test_a_tree_from_a_claim_has_the_digest_sha256sum_gives(tmp_path: Path) -> None:
    tree = tmp_path / "pvc" / "data" / "sets" / "mnist"
    (tree / "shards").mkdir(parents=True)
    (tree / "shards" / "a.bin").write_bytes(b"a" * 1000)
    (tree / "shards" / "b.bin").write_bytes(b"b" * 2000)
    (tree / "labels.txt").write_text("0\n1\n")
    # The documented recipe, run by the shell: what a user computes to pin a tree.
    listing = subprocess.run(
        "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum",
        shell=True, cwd=tree, capture_output=True, text=True, check=True,
    ).stdout.split()[0]  # fmt: skip
    dest = tmp_path / "workspace" / "dataset"
    args = ["--source", "pvc://data/sets/mnist", "--dest", str(dest), "--pvc-root", str(tmp_path / "pvc")]
    code, message, log = run_init(tmp_path, *args, "--digest", f"sha256:{listing}")
    assert code == 0, log
    assert message["files"] == 3
    assert message["verified"] is True
    assert (dest / "shards" / "b.bin").read_bytes() == b"b" * 2000


def test_a_digest_mismatch_fails_with_its_own_kind_and_leaves_nothing(tmp_path: Path, payload: bytes) -> None:
    source = tmp_path / "model.safetensors"
    source.write_bytes(payload)
    dest = tmp_path / "workspace" / "model"
    wrong = sha(b"something else")
    code, message, log = run_init(
        tmp_path, "--name", "model", "--source", str(source), "--dest", str(dest), "--digest", wrong
    )
    assert code == 4, log
    assert message["fetched"] is False
    assert message["kind"] == "DigestMismatch"
    assert wrong in message["reason"]
    assert sha(payload) in message["reason"]
    assert not dest.exists(), "an unverified copy must not be where workers look"


def test_a_missing_local_source_is_unreachable(tmp_path: Path) -> None:
    code, message, _ = run_init(tmp_path, "--source", str(tmp_path / "nope"), "--dest", str(tmp_path / "d"))
    assert (code, message["kind"]) == (3, "SourceUnreachable")
    assert "does not exist" in message["reason"]


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        wait_for(lambda: urllib.request.urlopen(url, timeout=2).status == 200, 30, "http.server up")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_http_is_streamed_and_verified_and_errors_are_unreachable(tmp_path: Path, payload: bytes) -> None:
    served = tmp_path / "www"
    served.mkdir()
    (served / "weights.bin").write_bytes(payload)
    dest = tmp_path / "workspace" / "model"
    with http_server(served) as url:
        code, message, log = run_init(
            tmp_path, "--source", f"{url}/weights.bin", "--dest", str(dest), "--digest", sha(payload)
        )
        assert code == 0, log
        assert (dest / "weights.bin").read_bytes() == payload
        assert message["verified"] is True
        code, message, _ = run_init(tmp_path, "--source", f"{url}/missing.bin", "--dest", str(tmp_path / "x"))
        assert (code, message["kind"]) == (3, "SourceUnreachable")
        assert "HTTP 404" in message["reason"]
    refused = f"http://127.0.0.1:{free_port()}/weights.bin"
    code, message, _ = run_init(tmp_path, "--source", refused, "--dest", str(tmp_path / "y"))
    assert (code, message["kind"]) == (3, "SourceUnreachable")


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    pytest.importorskip("boto3")
    with moto_server(tmp_path) as server:
        yield server


def test_s3_objects_and_prefixes_are_fetched_from_a_local_s3_server(
    tmp_path: Path, payload: bytes, s3: S3Server
) -> None:
    client = s3.client()
    client.create_bucket(Bucket="data")
    client.put_object(Bucket="data", Key="models/base/weights.bin", Body=payload)
    client.put_object(Bucket="data", Key="models/base/config.json", Body=b"{}")
    client.put_object(Bucket="data", Key="models/basement/other.bin", Body=b"not under models/base/")

    one = tmp_path / "one"
    code, message, log = run_init(
        tmp_path, "--source", "s3://data/models/base/weights.bin", "--dest", str(one),
        "--digest", sha(payload),
        env=s3.env(),
    )  # fmt: skip
    assert code == 0, log
    assert (one / "weights.bin").read_bytes() == payload
    assert message["verified"] is True

    tree = tmp_path / "tree"
    code, message, log = run_init(
        tmp_path, "--source", "s3://data/models/base", "--dest", str(tree), env=s3.env()
    )
    assert code == 0, log
    assert sorted(p.name for p in tree.iterdir() if not p.name.startswith(".")) == [
        "config.json",
        "weights.bin",
    ]
    assert message["files"] == 2
    assert message["sizeBytes"] == len(payload) + 2

    code, message, _ = run_init(
        tmp_path, "--source", "s3://nobucket/x", "--dest", str(tmp_path / "z"), env=s3.env()
    )
    assert (code, message["kind"]) == (3, "SourceUnreachable")
