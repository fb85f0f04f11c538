"""A Prometheus of a test's own (the pinned build of e2e/build-prometheus.sh) on a free loopback port, with
file-based discovery: the test adds targets, and may stop and start it again on the same port and
storage (an outage, then recovery)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx

from localcluster import prometheus as localcluster_prometheus
from support.ports import free_port
from support.wait import wait_for


class Prometheus:
    def __init__(self, home: Path, scrape_interval: str = "1s") -> None:
        # The pinned build the local cluster runs (built into the cache on first use).
        self.binary = localcluster_prometheus.binary()
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets = home / "targets"
        self.targets.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "scrape_configs": [
                {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{self.port}"]}]},
                {
                    "job_name": "file-sd",
                    "file_sd_configs": [{"files": [str(self.targets / "*.json")], "refresh_interval": "1s"}],
                },
            ],
        }
        (home / "prometheus.yml").write_text(json.dumps(config))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.home / "prometheus.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.home / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.home / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, 60, f"Prometheus on {self.url} to answer", seen=self.log)

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.process.returncode}: {self.log()}")
        return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def add_target(self, name: str, address: str, labels: dict[str, str]) -> None:
        (self.targets / f"{name}.json").write_text(json.dumps([{"targets": [address], "labels": labels}]))

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def log(self) -> str:
        path = self.home / "prometheus.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
