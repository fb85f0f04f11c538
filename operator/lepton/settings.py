"""Operator settings: environment variables (LEPTON_*), overridable by command-line flags."""

from __future__ import annotations

import argparse
import os
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from lepton.builders.serving_config import ServingConfig, ServingConfigError, serving_config_from_env
from lepton.policies.gpu_health import DEFAULT_FAULT_CONDITIONS


class SettingsError(ValueError):
    """A setting has a value the operator cannot use."""


@dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty watches the whole cluster."""
    kubeconfig: str | None = None
    metrics_host: str = "0.0.0.0"
    """Address of the metrics and health endpoints."""
    metrics_port: int = 8080
    """Port of the Prometheus endpoint; 0 disables it."""
    health_port: int = 8081
    """Port of the liveness endpoint (/healthz); 0 disables it."""
    activation_port: int = 8082
    """Port of the activation endpoint activators call to scale a service up from zero; 0 disables."""
    activation_host: str = ""
    """Address the activation endpoint binds to ("": metrics_host); pods must reach it."""
    log_format: str = "json"
    log_level: str = "info"
    peering: str | None = None
    """kopf peering object name for several replicas with leader handover; None runs standalone."""
    peering_priority: int = 0
    """This replica's kopf peering priority: peers of equal priority pause each other, so each
    replica needs its own (LEPTON_PEERING_PRIORITY, else from its start time and LEPTON_POD_NAME)."""
    peering_lifetime_seconds: int = 10
    """How long a replica's peering record lives without a keepalive: a standby takes over at most
    this long after the active replica dies (kopf's default, 60 s, would be the failover time)."""
    restart_backoff_seconds: float = 10.0
    restart_backoff_cap_seconds: float = 300.0
    success_grace_seconds: float = 30.0
    """How long other workers may keep running after rank 0 succeeded before they are stopped."""
    node_lost_seconds: float = 60.0
    """How long a node must stay NotReady before its workers count as lost (the job restarts)."""
    gpu_fault_conditions: tuple[str, ...] = DEFAULT_FAULT_CONDITIONS
    """Node condition types that mean the node's GPUs are faulty when True (a GPU health agent's):
    no gang is admitted there, and workers there restart elsewhere without spending their budget."""
    hardware_exit_codes: frozenset[int] = frozenset()
    """Worker exit codes that mean a hardware fault: the restart is not charged to any budget."""
    resync_seconds: float = 30.0
    """How often every active job is reconciled even when nothing happened."""
    queue_reservation_seconds: float = 300.0
    """How long a job naming no ClusterQueue may wait at the head of the default queue before it
    holds a reservation (backfill may no longer delay it)."""
    progress_poll_seconds: float = 10.0
    """How often the operator reads a running job's progress from rank 0's metrics endpoint into
    status.progress; 0 turns it off."""
    progress_timeout_seconds: float = 2.0
    """How long one read of rank 0's metrics endpoint may take."""
    api_workers: int = 16
    """Threads (and connections) for requests to the API server."""
    finalizer: str = "lepton.ai/finalizer"
    serving: ServingConfig = field(default_factory=ServingConfig)
    """Settings of the serving controllers (LEPTON_VERIFY_*, LEPTON_POD_ANNOTATION_PREFIXES, ...)."""

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise SettingsError(f"{name}={raw!r} must not be negative")
    return value


def from_env(env: Mapping[str, str] | None = None, started: float | None = None) -> Settings:
    """``started``: this process's start (epoch seconds; now when None), for its peering priority."""
    env = os.environ if env is None else env
    # Comma-separated names or globs ("team-*"); empty or "*" watches the whole cluster.
    raw_namespaces = env.get("LEPTON_NAMESPACES") or env.get("LEPTON_NAMESPACE") or ""
    namespaces = tuple(n.strip() for n in raw_namespaces.split(",") if n.strip() and n.strip() != "*")
    settings = Settings(
        namespaces=namespaces,
        kubeconfig=env.get("LEPTON_KUBECONFIG") or None,
        metrics_host=env.get("LEPTON_METRICS_HOST", Settings.metrics_host),
        metrics_port=int(_number(env, "LEPTON_METRICS_PORT", Settings.metrics_port)),
        health_port=int(_number(env, "LEPTON_HEALTH_PORT", Settings.health_port)),
        activation_port=int(_number(env, "LEPTON_ACTIVATION_PORT", Settings.activation_port)),
        activation_host=env.get("LEPTON_ACTIVATION_HOST", ""),
        log_format=env.get("LEPTON_LOG_FORMAT", Settings.log_format),
        log_level=env.get("LEPTON_LOG_LEVEL", Settings.log_level),
        peering=env.get("LEPTON_PEERING") or None,
        peering_priority=_peering_priority(env, time.time() if started is None else started),
        peering_lifetime_seconds=int(
            _number(env, "LEPTON_PEERING_LIFETIME_SECONDS", Settings.peering_lifetime_seconds)
        ),
        restart_backoff_seconds=_number(
            env, "LEPTON_RESTART_BACKOFF_SECONDS", Settings.restart_backoff_seconds
        ),
        restart_backoff_cap_seconds=_number(
            env, "LEPTON_RESTART_BACKOFF_CAP_SECONDS", Settings.restart_backoff_cap_seconds
        ),
        success_grace_seconds=_number(env, "LEPTON_SUCCESS_GRACE_SECONDS", Settings.success_grace_seconds),
        node_lost_seconds=_number(env, "LEPTON_NODE_LOST_SECONDS", Settings.node_lost_seconds),
        gpu_fault_conditions=_names(env, "LEPTON_GPU_FAULT_CONDITIONS", DEFAULT_FAULT_CONDITIONS),
        hardware_exit_codes=_exit_codes(env, "LEPTON_HARDWARE_EXIT_CODES"),
        resync_seconds=_number(env, "LEPTON_RESYNC_SECONDS", Settings.resync_seconds),
        queue_reservation_seconds=_number(
            env, "LEPTON_QUEUE_RESERVATION_SECONDS", Settings.queue_reservation_seconds
        ),
        progress_poll_seconds=_number(env, "LEPTON_PROGRESS_POLL_SECONDS", Settings.progress_poll_seconds),
        progress_timeout_seconds=_number(
            env, "LEPTON_PROGRESS_TIMEOUT_SECONDS", Settings.progress_timeout_seconds
        ),
        api_workers=int(_number(env, "LEPTON_API_WORKERS", Settings.api_workers)),
        serving=_serving(env),
    )
    return validate(settings)


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list; unset keeps the default, "" (or "-") turns the list off."""
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip() not in ("", "-")))


def _exit_codes(env: Mapping[str, str], name: str) -> frozenset[int]:
    codes = _names(env, name, ())
    try:
        values = frozenset(int(code) for code in codes)
    except ValueError:
        raise SettingsError(f"{name}={env.get(name)!r} must be comma-separated exit codes") from None
    if any(not 1 <= code <= 255 for code in values):
        raise SettingsError(f"{name}={env.get(name)!r}: exit codes are 1 to 255 (0 is success)")
    return values


_PRIORITY_EPOCH_MS = 2**42  # about the year 2109


def _peering_priority(env: Mapping[str, str], started: float) -> int:
    if env.get("LEPTON_PEERING_PRIORITY"):
        return int(_number(env, "LEPTON_PEERING_PRIORITY", 0))
    pod = env.get("LEPTON_POD_NAME")
    if not pod:
        return 0
    # The longest-running replica leads, as a Lease's holder keeps it: a replica that (re)starts
    # joins as a standby instead of pausing the active one while it is still warming up (seen: a
    # crash-looping leader held its standby off for 20 s). Milliseconds since the epoch counted
    # down; the pod name's hash tells apart replicas started in the same millisecond.
    return (_PRIORITY_EPOCH_MS - int(started * 1000)) * 1000 + zlib.crc32(pod.encode()) % 1000


def _serving(env: Mapping[str, str]) -> ServingConfig:
    try:
        return serving_config_from_env(env)
    except ServingConfigError as exc:
        raise SettingsError(str(exc)) from None


def validate(settings: Settings) -> Settings:
    if settings.log_format not in ("json", "text"):
        raise SettingsError(f"log format must be json or text, not {settings.log_format!r}")
    if settings.log_level not in ("debug", "info", "warning", "error"):
        raise SettingsError(f"log level must be debug, info, warning or error, not {settings.log_level!r}")
    if settings.api_workers < 1:
        raise SettingsError("LEPTON_API_WORKERS must be at least 1")
    if settings.peering_lifetime_seconds < 2:
        raise SettingsError("LEPTON_PEERING_LIFETIME_SECONDS must be at least 2")
    if settings.resync_seconds <= 0:
        raise SettingsError("LEPTON_RESYNC_SECONDS must be positive")
    return settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="watch this namespace (repeatable; default: LEPTON_NAMESPACES, else all)",
    )
    parser.add_argument("--all-namespaces", "-A", action="store_true", help="watch the whole cluster")
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    parser.add_argument("--metrics-host", help="address of the Prometheus endpoint")
    parser.add_argument("--metrics-port", type=int, help="port of the Prometheus endpoint (0: off)")
    parser.add_argument("--health-port", type=int, help="port of the /healthz endpoint (0: off)")
    parser.add_argument("--log-format", choices=["json", "text"])
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--peering", help="kopf peering name, for several operator replicas (default: standalone)"
    )


def from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    settings = from_env(env)
    changes: dict[str, object] = {}
    if args.all_namespaces:
        changes["namespaces"] = ()
    elif args.namespaces:
        changes["namespaces"] = tuple(args.namespaces)
    for name in (
        "kubeconfig",
        "metrics_host",
        "metrics_port",
        "health_port",
        "log_format",
        "log_level",
        "peering",
    ):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    return validate(replace(settings, **changes))  # type: ignore[arg-type]


def parse(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="lepton operator", description="Run the Lepton operator.")
    add_arguments(parser)
    return from_args(parser.parse_args(list(argv)), env)
