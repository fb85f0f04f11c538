"""A request that gets no answer (the API server refuses the connection or drops it) is a KubeError
with status 0, retried like a 503: the controllers catch KubeError only, and any other exception
stopped an autoscaler's rounds for kopf's default daemon backoff (60 s)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lepton.kube import resources
from lepton.kube.client import Kube
from lepton.kube.errors import KubeError

REF = resources.Ref("v1", "configmaps", "default", "settings")


def kubeconfig(tmp_path: Path, port: int) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dropping_port() -> Iterator[int]:
    """A server that accepts each connection and closes it without a word."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    done.set()
    thread.join(timeout=5)
    server.close()


def _get(tmp_path: Path, port: int) -> KubeError:
    kube = Kube.connect(kubeconfig(tmp_path, port), workers=1)
    try:
        with pytest.raises(KubeError) as raised:
            asyncio.run(resources.get(kube, REF))
    finally:
        kube.close()
    return raised.value


def test_a_refused_connection_is_a_retryable_kube_error(tmp_path, closed_port):
    error = _get(tmp_path, closed_port)
    assert (error.status, error.retry_after, error.config_error) == (0, 5.0, False)
    assert str(error).startswith("reading configmaps/settings: HTTP 0: no answer: ")


def test_a_dropped_connection_is_a_retryable_kube_error(tmp_path, dropping_port):
    error = _get(tmp_path, dropping_port)
    assert (error.status, error.retry_after) == (0, 5.0)
    assert "no answer: " in error.message
