"""The chaos suite's parts: the faults, their seeded schedule, and the invariants read from the API
once everything has converged."""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config

from localcluster import components
from localcluster.config import Config
from support.background import Repeating
from support.operator import Operator
from support.servers import Server

OPERATOR_KILL = "operator SIGKILLed"
APISERVER = "API server restarted"
ETCD = "etcd restarted"
PROMETHEUS = "Prometheus stopped"
KINDS = (OPERATOR_KILL, APISERVER, ETCD, PROMETHEUS)
GROUP, VERSION = "lepton.ai", "v1alpha1"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw else default


@dataclass(frozen=True)
class Plan:
    """What one run does: the seed (printed, so a failure reproduces with LEPTON_CHAOS_SEED), the
    order of the faults, and how long Prometheus stays down."""

    seed: int
    kinds: list[str]
    kills_per_round: int
    prometheus_down_s: int

    @classmethod
    def from_env(cls) -> Plan:
        seed = _int_env("LEPTON_CHAOS_SEED", random.SystemRandom().randrange(1 << 31))
        rng = random.Random(seed)
        kinds: list[str] = []
        # One cycle of every kind in CI; LEPTON_CHAOS_ROUNDS cycles for the longer local mode.
        for _ in range(_int_env("LEPTON_CHAOS_ROUNDS", 1)):
            cycle = list(KINDS)
            rng.shuffle(cycle)
            kinds += cycle
        return cls(
            seed=seed,
            kinds=kinds,
            kills_per_round=_int_env("LEPTON_CHAOS_KILLS_PER_ROUND", 2),
            prometheus_down_s=_int_env("LEPTON_CHAOS_PROMETHEUS_DOWN_S", 60),
        )


@dataclass
class Faults:
    """Injects the faults and counts them. A fault counts as survived only when the run's invariants
    hold afterwards (the test prints the counts at the end)."""

    cfg: Config
    operator: Operator
    rng: random.Random
    injected: Counter[str] = field(default_factory=Counter)
    # (kind, began, ended) in time.monotonic(), to place what a sampler saw against the faults.
    timeline: list[tuple[str, float, float]] = field(default_factory=list)

    def inject(self, kind: str, plan: Plan, while_prometheus_down: Callable[[], None]) -> None:
        if kind == OPERATOR_KILL:
            for _ in range(plan.kills_per_round):
                # A random moment: mid-admission, mid-creation, mid-rollout, between status writes.
                time.sleep(self.rng.uniform(0, 4))
                began = time.monotonic()
                self.operator.kill()
                self.operator.start()
                self.injected[kind] += 1
                self.timeline.append((kind, began, time.monotonic()))
            return
        time.sleep(self.rng.uniform(0, 6))
        began = time.monotonic()
        if kind == APISERVER:
            components.restart(self.cfg, "kube-apiserver")
        elif kind == ETCD:
            components.restart(self.cfg, "etcd", down_for=self.rng.uniform(1, 5))
        elif kind == PROMETHEUS:
            components.restart(self.cfg, "prometheus", plan.prometheus_down_s, during=while_prometheus_down)
        else:
            raise AssertionError(f"unknown fault {kind!r}")
        self.injected[kind] += 1
        self.timeline.append((kind, began, time.monotonic()))


class Sampler(Repeating):
    """Reads a Deployment's spec.replicas every half second from a thread, through any fault (reads
    that fail while the API server is down are skipped), to check afterwards what it never did."""

    def __init__(self, kubeconfig: str, namespace: str, deployment: str) -> None:
        super().__init__(0.5)
        # A client of its own that does not retry: a read that fails is skipped, not logged three times.
        configuration = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        configuration.retries = 0
        self.api = client.ApiClient(configuration)
        self.apps = client.AppsV1Api(self.api)
        self.namespace, self.deployment = namespace, deployment
        self.seen: list[tuple[float, int]] = []

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.api.close()

    def step(self) -> None:
        try:
            found = self.apps.read_namespaced_deployment(self.deployment, self.namespace, _request_timeout=2)
        except Exception:  # the API server or etcd is down: nothing to read
            return
        self.seen.append((time.monotonic(), int(found.spec.replicas)))

    def lowered_after_reaching(self, level: int) -> list[tuple[float, int]]:
        """Samples below ``level`` after the first sample at ``level``."""
        reached = next((i for i, (_, n) in enumerate(self.seen) if n >= level), None)
        return [] if reached is None else [s for s in self.seen[reached:] if s[1] < level]


class Targets:
    """Scrape targets in the cluster Prometheus's file_sd folder, labelled as its pod job labels a
    service's pods. The `version` target label overrides the one the server puts on its series
    (honor_labels is off), so one good and one bad server stand in for every version."""

    def __init__(self, cfg: Config, namespace: str) -> None:
        self.folder, self.namespace = cfg.prometheus_targets, namespace
        self.written: list[Path] = []

    def set(self, name: str, server: Server, **labels: str) -> None:
        path = self.folder / f"{self.namespace}-{name}.json"
        body = [
            {
                "targets": [server.url.removeprefix("http://")],
                "labels": {"namespace": self.namespace, **labels},
            }
        ]
        path.write_text(json.dumps(body))
        self.written.append(path)

    def clear(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)


def model_versions(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    custom = client.CustomObjectsApi(api)
    return list(custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "modelversions")["items"])
