"""The operator under test: `python -m lepton` as a subprocess against the local cluster, with short
timings so restarts, grace periods and node loss play out in seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from support.ports import free_port
from support.wait import wait_for


class Operator:
    def __init__(self, kubeconfig: str, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        # LEPTON_OPERATOR_KUBECONFIG: the operator (only) acts as someone else, e.g. the chart's
        # ServiceAccount in the least-privilege run (tests/integration/chart), while tests stay admin.
        self.kubeconfig = os.environ.get("LEPTON_OPERATOR_KUBECONFIG") or kubeconfig
        self.log_path = log_path
        self.env = dict(env or {})
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.activation_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "LEPTON_KUBECONFIG": self.kubeconfig,
            # Cluster-wide, as deployed: kopf starts the watches of cluster-scoped kinds (nodes,
            # PriorityClasses) only while some watched namespace exists, and tests make theirs later.
            "LEPTON_NAMESPACES": "",
            "LEPTON_METRICS_HOST": "127.0.0.1",
            "LEPTON_METRICS_PORT": str(self.metrics_port),
            "LEPTON_HEALTH_PORT": str(self.health_port),
            "LEPTON_ACTIVATION_PORT": str(self.activation_port),
            "LEPTON_LOG_FORMAT": "text",
            "LEPTON_RESTART_BACKOFF_SECONDS": "1",
            "LEPTON_RESTART_BACKOFF_CAP_SECONDS": "4",
            "LEPTON_SUCCESS_GRACE_SECONDS": "2",
            "LEPTON_RESYNC_SECONDS": "5",
            "LEPTON_NODE_LOST_SECONDS": "2",
            **self.env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lepton"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        try:
            wait_for(self.ready, timeout=60, what="the operator to watch the cluster", seen=self.tail)
        except BaseException:
            self.kill()  # never leave an operator behind that would act on later tests' objects
            raise

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"operator exited with {self.process.returncode}:\n{self.tail()}")
        # /healthz caches probe results for 10 s; the metric says at once that the indices are filled.
        return "lepton_operator_watching 1.0" in self.metrics()

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when the operator's node dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def tail(self, lines: int = 40, *, debug: bool = True) -> str:
        """The log's last ``lines``; without ``debug``, of the lines that are not kopf's DEBUG ones."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join([line for line in text if debug or "[DEBUG" not in line][-lines:])


@contextmanager
def running_operator(
    kubeconfig: str, log_path: Path, env: Mapping[str, str] | None = None
) -> Iterator[Operator]:
    """An operator started for a block (a module fixture) and stopped after it."""
    op = Operator(kubeconfig, log_path, env)
    op.start()
    try:
        yield op
    finally:
        op.stop()
