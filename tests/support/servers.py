"""Starting and stopping `lepton-serve` processes on loopback for the real-server tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.background import Repeating
from support.ports import free_port
from support.wait import wait_for

LEPTON_SERVE = str(Path(sys.executable).parent / "lepton-serve")


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log: Path
    args: list[str] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def _is_ready(server: Server) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"lepton-serve exited with {server.process.returncode}:\n{server.output()}")
    return httpx.get(f"{server.url}/v2/health/ready", timeout=2).status_code == 200


def until_ready(server: Server, timeout: float = 120, what: str = "lepton-serve to become ready") -> None:
    """Wait until a server launched with ``wait_ready=False`` reports ready (fails at once if it exits)."""
    wait_for(lambda: _is_ready(server), timeout, what, seen=server.output)


def launch(
    model_dir: Path, workdir: Path, *extra: str, name: str = "example", wait_ready: bool = True
) -> Server:
    """Start `lepton-serve` on a free loopback port; by default wait until it reports ready."""
    port = free_port()
    log = workdir / f"server-{port}.log"
    args = [
        LEPTON_SERVE, "--model-dir", str(model_dir), "--model-name", name,
        "--host", "127.0.0.1", "--port", str(port), "--threads", "1", *extra,
    ]  # fmt: skip
    env = {**os.environ, "LEPTON_TERMINATION_MESSAGE_PATH": str(workdir / f"termination-{port}.log")}
    with log.open("w") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, text=True, env=env)
    server = Server(process, f"http://127.0.0.1:{port}", log, args)
    if wait_ready:
        try:
            until_ready(server, 90)
        except BaseException:
            kill(server)
            raise
    return server


def kill(server: Server) -> None:
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)


class Load(Repeating):
    """Inference requests at a steady rate from a thread to one server, until stopped; counts the
    answers by status code and notes when each code was first seen (epoch seconds)."""

    def __init__(
        self, url: str, payload: dict[str, Any], per_second: float = 10, model: str = "iris"
    ) -> None:
        super().__init__(1.0 / per_second)
        self.url, self.payload = f"{url}/v2/models/{model}/infer", payload
        self.codes: dict[int, int] = {}
        self.first: dict[int, float] = {}
        self._http = httpx.Client(timeout=5)

    @property
    def failures(self) -> int:
        return sum(n for code, n in self.codes.items() if code != 200)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self._http.close()

    def step(self) -> None:
        code = self._http.post(self.url, json=self.payload).status_code
        self.codes[code] = self.codes.get(code, 0) + 1
        self.first.setdefault(code, time.time())
