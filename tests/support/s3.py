"""A local S3 endpoint for tests and benches: moto's server mode (`moto_server`, the dev extra) on a
free loopback port, with the AWS_* environment a client needs to reach it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.ports import free_port
from support.wait import wait_for

MOTO_SERVER = str(Path(sys.executable).parent / "moto_server")


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    log: Path

    def env(self) -> dict[str, str]:
        """What a process needs to use this endpoint through boto3 (no real credentials)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> Any:
        import boto3

        env = self.env()
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )


def _up(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as response:
        return bool(response.status == 200)


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[S3Server]:
    """Start `moto_server` on loopback and stop it (SIGTERM, then SIGKILL) when done."""
    port = free_port()
    log = workdir / f"moto-{port}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    server = S3Server(f"http://127.0.0.1:{port}", log)
    try:
        wait_for(
            lambda: process.poll() is None and _up(server.endpoint), 60, "moto_server up", seen=log.read_text
        )
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
