"""Real `lepton-activator` and `lepton-serve` processes on loopback, and a fake operator that records
activation calls (and may start the backend when called)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from support.paths import REPO
from support.ports import free_port
from support.servers import LEPTON_SERVE
from support.wait import wait_for

ENV = {**os.environ, "PYTHONPATH": str(REPO / "operator")}


@dataclass
class Process:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return {
            (
                s.name,
                tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("namespace", "service"))),
            ): (s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def metric(self, name: str, **labels: str) -> float:
        return self.samples().get((name, tuple(sorted(labels.items()))), 0.0)


def _spawn(args: list[str], log: Path, url: str) -> Process:
    with log.open("w") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, text=True, env=ENV)
    return Process(process, url, log)


@dataclass
class FakeOperator:
    """An activation endpoint on loopback: records each call's arrival (monotonic) and body."""

    status: int = 200
    on_first_call: Callable[[], None] | None = None
    calls: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def serve(self) -> ThreadingHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls.append((arrived, body))
                if len(fake.calls) == 1 and fake.on_first_call is not None:
                    fake.on_first_call()
                self.send_response(fake.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/activate"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def backend_command(model_dir: Path, port: int, *extra: str) -> list[str]:
    return [
        LEPTON_SERVE, "--model-dir", str(model_dir), "--model-name", "example",
        "--host", "127.0.0.1", "--port", str(port), "--threads", "1", *extra,
    ]  # fmt: skip


def start_backend(model_dir: Path, port: int, workdir: Path, *extra: str) -> Process:
    """`lepton-serve` on ``port``, not waited for: in a cold start nobody waits but the activator."""
    return _spawn(
        backend_command(model_dir, port, *extra), workdir / f"backend-{port}.log", f"http://127.0.0.1:{port}"
    )


def wait_ready(backend: Process, timeout: float = 90) -> None:
    def ready() -> bool:
        if backend.process.poll() is not None:
            raise AssertionError(f"lepton-serve exited: {backend.output()}")
        return httpx.get(f"{backend.url}/v2/health/ready", timeout=2).status_code == 200

    wait_for(ready, timeout, "lepton-serve to become ready", seen=backend.output)


def start_activator(backend: str, activate_url: str, workdir: Path, *extra: str) -> Process:
    port = free_port()
    args = [
        sys.executable, "-m", "lepton.activator", "--service", "demo", "--namespace", "team",
        "--backend", backend, "--activate-url", activate_url,
        "--host", "127.0.0.1", "--port", str(port), *extra,
    ]  # fmt: skip
    activator = _spawn(args, workdir / f"activator-{port}.log", f"http://127.0.0.1:{port}")

    def healthy() -> bool:
        if activator.process.poll() is not None:
            raise AssertionError(f"the activator exited: {activator.output()}")
        return httpx.get(f"{activator.url}/-/activator/healthz", timeout=2).status_code == 200

    try:
        wait_for(healthy, 30, "the activator to listen", seen=activator.output)
    except BaseException:
        activator.kill()
        raise
    return activator


def infer_body(rows: int, seed: int) -> tuple[Any, bytes]:
    x = np.random.default_rng(seed).normal(size=(rows, 16)).astype(np.float32)
    body = {
        "inputs": [{"name": "input", "shape": [rows, 16], "datatype": "FP32", "data": x.ravel().tolist()}]
    }
    return x, json.dumps(body).encode()
