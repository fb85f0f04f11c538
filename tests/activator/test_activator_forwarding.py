"""Once the backend is ready the activator is a plain proxy: requests go through at once, the
binary tensor extension and errors pass unchanged, headers and bodies byte for byte."""

from __future__ import annotations

import json
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from activator_harness import FakeOperator, Process, infer_body, start_activator, start_backend, wait_ready

from support.ports import free_port
from support.wait import wait_for

INFER = "/v2/models/example/infer"


@pytest.fixture(scope="module")
def backend(artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    server = start_backend(artifact, free_port(), tmp_path_factory.mktemp("backend"))
    try:
        wait_ready(server)
        yield server
    finally:
        server.kill()


def _binary_body(x: np.ndarray) -> tuple[bytes, dict[str, str]]:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": list(x.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "outputs": [{"name": "output", "parameters": {"binary_data": True}}],
        }
    ).encode()
    return header + x.tobytes(), {"Inference-Header-Content-Length": str(len(header))}


@pytest.mark.slow
def test_a_ready_backend_is_reached_at_once_and_its_answers_pass_unchanged(
    backend: Process, fake_operator: FakeOperator, processes: list[Process], tmp_path: Path
) -> None:
    # A long poll interval: a request wrongly queued until the next poll would take seconds.
    activator = start_activator(backend.url, fake_operator.url, tmp_path, "--poll-interval", "3")
    processes.append(activator)
    first = httpx.post(f"{activator.url}{INFER}", content=infer_body(1, 0)[1], timeout=30)
    assert first.status_code == 200, first.text  # held until the first probe, which runs at once

    with httpx.Client(timeout=10) as client:

        def timed(url: str) -> float:
            start = time.monotonic()
            assert client.post(f"{url}{INFER}", content=infer_body(2, 1)[1]).status_code == 200
            return time.monotonic() - start

        direct = [timed(backend.url) for _ in range(10)]
        proxied = [timed(activator.url) for _ in range(10)]
    print(
        f"\nmedian latency direct {1000 * statistics.median(direct):.1f}ms, "
        f"through the activator {1000 * statistics.median(proxied):.1f}ms"
    )
    assert max(proxied) < 1.0, f"requests to a ready backend waited: {proxied}"

    x = np.random.default_rng(5).normal(size=(3, 16)).astype(np.float32)
    body, headers = _binary_body(x)
    cases: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("binary tensors", INFER, body, headers),
        ("bad shape", INFER, json.dumps({"inputs": [{"name": "input", "shape": [1, 15],
                                          "datatype": "FP32", "data": [0.0] * 15}]}).encode(), {}),
        ("unknown model", "/v2/models/nope/infer", infer_body(1, 2)[1], {}),
    ]  # fmt: skip
    for name, path, content, extra in cases:
        want = httpx.post(f"{backend.url}{path}", content=content, headers=extra, timeout=10)
        got = httpx.post(f"{activator.url}{path}", content=content, headers=extra, timeout=10)
        assert got.status_code == want.status_code, name
        assert got.content == want.content, name
        for header in ("Content-Type", "Inference-Header-Content-Length"):
            assert got.headers.get(header) == want.headers.get(header), (name, header)
    assert want.status_code == 404
    assert activator.metric("lepton_activator_requests_total", code="400") == 1
    assert activator.metric("lepton_activator_cold_start_seconds_count") == 1

    # /metrics is the activator's own and is not forwarded (a scrape must not wake a model).
    metrics = httpx.get(f"{activator.url}/metrics", timeout=5).text
    assert 'lepton_activator_pending_requests{namespace="team",service="demo"}' in metrics
    assert "lepton_serving_" not in metrics
    assert len(fake_operator.calls) == 1  # the first request's; the rest found the backend ready


class _Echo(BaseHTTPRequestHandler):
    """A backend that says what reached it, and answers with headers a proxy could mangle."""

    seen: list[dict[str, Any]] = []

    def _answer(self) -> None:
        if self.path == "/v2/health/ready":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
        self.send_response(207)
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("X-Backend", "echo")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[::-1])

    do_GET = do_PUT = do_DELETE = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


def test_method_path_query_headers_and_bodies_pass_through(
    fake_operator: FakeOperator, processes: list[Process], tmp_path: Path
) -> None:
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    try:
        backend = f"http://127.0.0.1:{echo.server_address[1]}"
        activator = start_activator(backend, fake_operator.url, tmp_path, "--max-body-bytes", "2000000")
        processes.append(activator)
        body = bytes(range(256)) * 4096  # 1 MiB, every byte value
        response = httpx.put(
            f"{activator.url}/v2/models/m/x?a=1&b=%2F",
            content=body,
            headers={
                "Authorization": "Bearer secret",
                "Inference-Header-Content-Length": "17",
                "Connection": "X-Hop",
                "X-Hop": "for the activator only",
            },
            timeout=30,
        )
        assert response.status_code == 207
        assert response.content == body[::-1]
        assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]
        assert response.headers["X-Backend"] == "echo"
        (seen,) = _Echo.seen
        assert seen["method"] == "PUT"
        assert seen["path"] == "/v2/models/m/x?a=1&b=%2F"
        assert seen["headers"]["Authorization"] == "Bearer secret"
        assert seen["headers"]["Inference-Header-Content-Length"] == "17"
        assert seen["headers"]["Content-Length"] == str(len(body))
        assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
        assert "X-Hop" not in seen["headers"]

        too_big = httpx.post(f"{activator.url}{INFER}", content=b"x" * 2_000_001, timeout=30)
        assert too_big.status_code == 413
        assert "exceeds" in too_big.json()["error"]
        assert len(_Echo.seen) == 1
    finally:
        echo.shutdown()
        echo.server_close()


def test_after_sigterm_it_is_not_ready_but_forwards_for_its_drain_delay_then_exits_0(
    backend: Process, fake_operator: FakeOperator, processes: list[Process], tmp_path: Path
) -> None:
    """The operator deletes the activator as soon as the stable Service selects the servers again;
    kube-proxy may route a request here a moment later. A closed listener would refuse it."""
    delay = 3.0
    activator = start_activator(backend.url, fake_operator.url, tmp_path, "--drain-delay-s", str(delay))
    processes.append(activator)
    assert httpx.post(f"{activator.url}{INFER}", content=infer_body(1, 0)[1], timeout=30).status_code == 200
    signalled = time.monotonic()
    activator.process.send_signal(signal.SIGTERM)
    wait_for(
        lambda: httpx.get(f"{activator.url}/-/activator/healthz", timeout=2).status_code == 503,
        delay,
        "readiness to turn false at once after SIGTERM",
        seen=activator.output,
    )
    answered = []
    while time.monotonic() - signalled < delay - 1.0:  # well inside the delay: every one must answer
        answered.append(httpx.post(f"{activator.url}{INFER}", content=infer_body(1, 3)[1], timeout=10))
    assert answered, "no request was sent inside the drain delay"
    assert all(r.status_code == 200 for r in answered), [r.status_code for r in answered]
    assert activator.process.wait(timeout=delay + 20) == 0, activator.output()
    assert time.monotonic() - signalled >= delay, "the listener closed before the drain delay"
