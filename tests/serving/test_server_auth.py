"""A real `lepton-serve` with API tokens: 401/403/200, health and metrics open, tokens rotated by
rewriting the file (and by the kubelet's symlink swap) without a restart, and no token in its log."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from support.servers import Server
from support.wait import wait_for

pytestmark = pytest.mark.slow

INFER = "/v2/models/example/infer"
BODY = json.dumps(
    {"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [0.1] * 16}]}
).encode()
POLL_S = "0.2"


def token() -> str:
    return secrets.token_urlsafe(24)


def status(server: Server, path: str, bearer: str | None = None, *, post: bool = False) -> int:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    if post:
        return httpx.post(f"{server.url}{path}", content=BODY, headers=headers, timeout=10).status_code
    return httpx.get(f"{server.url}{path}", headers=headers, timeout=10).status_code


def accepted(server: Server, bearer: str) -> bool:
    return status(server, INFER, bearer, post=True) == 200


def test_requests_need_the_token_but_probes_and_prometheus_do_not(
    artifact: Path, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    good, wrong = token(), token()
    path = tmp_path / "token"
    path.write_text(f"{good}\n")
    server = start_server(artifact, "--token-file", str(path), "--log-level", "DEBUG")
    assert status(server, "/v2/health/live") == 200
    assert status(server, "/v2/health/ready") == 200
    assert status(server, "/metrics") == 200
    for path_ in ("/v2", "/v2/models/example", "/v2/models/example/ready"):
        assert status(server, path_) == 401
        assert status(server, path_, wrong) == 403
        assert status(server, path_, good) == 200
    assert status(server, INFER, post=True) == 401
    assert status(server, INFER, wrong, post=True) == 403
    answer = httpx.post(
        f"{server.url}{INFER}", content=BODY, headers={"Authorization": f"Bearer {good}"}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.json()["outputs"][0]["shape"] == [1, 4]
    metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
    assert 'lepton_serving_unauthorized_requests_total{code="401"} 4.0' in metrics
    assert 'lepton_serving_unauthorized_requests_total{code="403"} 4.0' in metrics
    # The autoscaler's counter saw the one authorised inference only.
    assert 'lepton_serving_requests_total{code="200",model="example",version="1"} 1.0' in metrics
    assert 'code="401",model=' not in metrics
    assert 'code="403",model=' not in metrics
    output = server.output()
    assert "API tokens loaded: 1 accepted" in output
    assert good not in output
    assert wrong not in output


def test_a_rewritten_token_file_rotates_the_tokens_without_a_restart(
    artifact: Path, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    old, new = token(), token()
    path = tmp_path / "token"
    path.write_text(old)
    server = start_server(artifact, "--token-file", str(path), "--token-poll-s", POLL_S)
    pid = server.process.pid
    assert accepted(server, old)
    assert not accepted(server, new)
    path.write_text(f"{old}\n{new}\n")  # both while clients move over
    wait_for(lambda: accepted(server, new), 10, "the new token accepted", seen=server.output)
    assert accepted(server, old)
    path.write_text(new)  # the old one revoked
    wait_for(lambda: not accepted(server, old), 10, "the old token refused", seen=server.output)
    assert accepted(server, new)
    path.write_text("")  # no token at all: everyone refused, never an open endpoint
    wait_for(lambda: not accepted(server, new), 10, "every token refused", seen=server.output)
    assert status(server, "/v2/health/ready") == 200
    assert server.process.pid == pid
    assert server.process.poll() is None
    output = server.output()
    assert "no API token loaded" in output
    assert old not in output
    assert new not in output


def _kubelet_write(volume: Path, generation: int, files: dict[str, str]) -> None:
    """What the kubelet's AtomicWriter does to a Secret volume: the files go into a fresh
    timestamped directory, ``..data`` is swapped to it by a rename, the visible names are symlinks
    through ``..data``, and the previous directory is removed."""
    fresh = volume / f"..gen_{generation}"
    fresh.mkdir()
    for name, content in files.items():
        (fresh / name).write_text(content)
    link = volume / "..data_tmp"
    link.symlink_to(fresh.name)
    previous = (volume / "..data").resolve() if (volume / "..data").exists() else None
    os.replace(link, volume / "..data")
    for name in files:
        visible = volume / name
        if not visible.is_symlink():
            visible.symlink_to(f"..data/{name}")
    if previous is not None:
        for child in previous.iterdir():
            child.unlink()
        previous.rmdir()


def test_a_secret_volume_updated_as_the_kubelet_does_rotates_the_tokens(
    artifact: Path, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    old, new = token(), token()
    volume = tmp_path / "api-tokens"
    volume.mkdir()
    _kubelet_write(volume, 1, {"token-0": old})
    server = start_server(artifact, "--token-file", str(volume / "token-0"), "--token-poll-s", POLL_S)
    assert accepted(server, old)
    _kubelet_write(volume, 2, {"token-0": new})
    wait_for(lambda: accepted(server, new), 10, "the swapped-in token accepted", seen=server.output)
    assert not accepted(server, old)


def test_a_missing_token_file_refuses_everyone(
    artifact: Path, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    """A Secret key that is not (yet) there: fail closed, say so, serve health."""
    server = start_server(artifact, "--token-file", str(tmp_path / "absent"))
    assert status(server, INFER, token(), post=True) == 403
    assert status(server, "/v2/health/ready") == 200
    assert "token files unreadable" in server.output()
