"""Starting and stopping `lepton-serve` processes on loopback for the real-server tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

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
            wait_for(lambda: _is_ready(server), 90, "lepton-serve to become ready", seen=server.output)
        except BaseException:
            kill(server)
            raise
    return server


def kill(server: Server) -> None:
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)
