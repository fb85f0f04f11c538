"""One component of a running cluster stopped and started again, with its state kept: what the chaos
tests do to the control plane (an API server or etcd restart, a Prometheus outage) while the rest of
the cluster and the operator keep running."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from . import cluster, procs, prometheus
from .config import Config
from .procs import ClusterError, Probe

# What can be stopped and started alone. etcd keeps its data dir and the API server its certificates,
# so a restart is a restart, not a new cluster.
RESTARTABLE = ("etcd", "kube-apiserver", "prometheus")


def _argv_and_probe(cfg: Config, name: str, bin_dir: Path) -> tuple[list[str], Probe]:
    if name == "etcd":
        return cluster._etcd_argv(cfg, bin_dir), Probe(f"http://127.0.0.1:{cfg.ports.etcd_client}/health")
    if name == "kube-apiserver":
        return cluster._apiserver_argv(cfg, bin_dir), cluster.apiserver_probe(cfg)
    if name == "prometheus":
        # Prometheus's own kubectl apply of its RBAC needs the API server: it is up when this runs.
        argv = prometheus.configure(cfg, partial(cluster.kubectl, cfg, bin_dir))
        return argv, Probe(cfg.prometheus_url + "/-/ready")
    raise ClusterError(f"{name} cannot be restarted alone; one of: {', '.join(RESTARTABLE)}")


def stop(cfg: Config, name: str) -> bool:
    """Stop one component (SIGTERM, SIGKILL after 15 s). Returns whether it was running."""
    if name not in RESTARTABLE:
        raise ClusterError(f"{name} cannot be stopped alone; one of: {', '.join(RESTARTABLE)}")
    return procs.stop(cfg.run, name)


def start(cfg: Config, name: str, timeout: float = 90) -> float:
    """Start one stopped component with the arguments `up` gives it; wait until it answers its probe.
    Returns the seconds it took to be ready."""
    pid = procs.read_pid(cfg.run, name)
    if pid is not None and procs.alive(pid):
        raise ClusterError(f"{name} is already running (pid {pid})")
    argv, probe = _argv_and_probe(cfg, name, cluster.tools_dir())
    pid = procs.start(cfg.run, cfg.logs, name, argv)
    return procs.wait_ready(name, probe, pid, cfg.logs, timeout)


def restart(cfg: Config, name: str, down_for: float = 0, during: Callable[[], None] | None = None) -> float:
    """Stop a component, keep it down ``down_for`` seconds (running ``during`` first, if given: the
    caller's check of how the rest behaves without it), start it. Returns the seconds to ready."""
    stop(cfg, name)
    began = time.monotonic()
    if during is not None:
        during()
    remaining = down_for - (time.monotonic() - began)
    if remaining > 0:
        time.sleep(remaining)
    return start(cfg, name)
