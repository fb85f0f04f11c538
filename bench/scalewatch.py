"""What the autoscaling benchmark (bench_autoscaling.py) drives and watches: a load at a rate that
can change while it runs, a watcher that samples a Prometheus query and the namespace's
Deployments and pods, and the p50/p95 summary of the times measured from those samples."""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from support.background import Background
from support.wait import wait_for

# A pod with this label counts for the Deployment it names (the benchmark's own Deployments);
# a pod of an InferenceService counts for the InferenceService's Deployment the Watcher is given.
OWNER_LABEL = "bench.lepton.ai/deployment"
ISVC_LABEL = "lepton.ai/inferenceservice"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values): with 5 samples p95 is the largest."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 2)


def summary(values: list[float | None]) -> dict[str, Any]:
    seen = [v for v in values if v is not None]
    return {
        "p50": percentile(seen, 50),
        "p95": percentile(seen, 95),
        "n": len(seen),
        "missed": len(values) - len(seen),
        "each": [None if v is None else round(v, 2) for v in values],
    }


class Load(Background):
    """Requests to the real model server at a rate that can be changed while it runs; with `noise`,
    the rate is redrawn every 2 s within +/- that fraction (the noisy steady load)."""

    def __init__(self, url: str, model: str, payload: dict[str, Any]) -> None:
        super().__init__(name="load")
        self.url, self.payload = f"{url}/v2/models/{model}/infer", payload
        self.rate, self.noise, self.failures, self.sent = 0.0, 0.0, 0, 0
        self._rng = random.Random(12)

    def set(self, rate: float, noise: float = 0.0) -> None:
        self.rate, self.noise = rate, noise

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            next_at, redraw_at, rate = time.monotonic(), 0.0, 0.0
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= redraw_at:
                    rate = self.rate * (1 + self._rng.uniform(-self.noise, self.noise))
                    redraw_at = now + 2.0
                if rate <= 0:
                    next_at = now + 0.1  # idle: re-check the set rate, no catch-up burst after
                    self._stop.wait(0.1)
                    continue
                try:
                    ok = http.post(self.url, json=self.payload).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.sent += 1
                self.failures += 0 if ok else 1
                # A fixed schedule keeps the mean rate when one request is slow; never more than a
                # second of catch-up, so a stall does not become a burst.
                next_at = max(next_at + 1.0 / rate, time.monotonic() - 1.0)
                self._stop.wait(max(0.0, next_at - time.monotonic()))


class Watcher:
    """Samples the query in Prometheus every 0.5 s and, in `namespace`, the Deployments' spec/ready
    replicas and their pods' binding every 0.25 s (the benchmark's own sampling periods), each in a
    thread. Each loop waits what is left of its period after a sample: a slow sample is not
    followed by a burst of catch-up samples on a loaded host (unlike support.background.Repeating).
    `isvc_deployment` is the Deployment an InferenceService's pods count for (see OWNER_LABEL)."""

    def __init__(
        self,
        prometheus: str,
        query: str,
        apps: client.AppsV1Api,
        core: client.CoreV1Api,
        namespace: str,
        isvc_deployment: str,
    ) -> None:
        self.prometheus, self.query, self.apps, self.core = prometheus, query, apps, core
        self.namespace, self.isvc_deployment = namespace, isvc_deployment
        self.values: list[tuple[float, float | None]] = []
        self.replicas: list[tuple[float, dict[str, tuple[int, int]]]] = []
        self.bound: dict[str, float] = {}  # pod name -> first seen with a node
        self.pod_owner: dict[str, str] = {}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._prom, daemon=True, name="prom"),
            threading.Thread(target=self._kube, daemon=True, name="kube"),
        ]

    def __enter__(self) -> Watcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def value(self) -> float | None:
        rsp = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": self.query}, timeout=5)
        result = rsp.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def _prom(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.values.append((began, self.value()))
            except (httpx.HTTPError, KeyError, ValueError):
                self.values.append((began, None))
            self._stop.wait(max(0.0, 0.5 - (time.monotonic() - began)))

    def _kube(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                deployments = self.apps.list_namespaced_deployment(self.namespace).items
                pods = self.core.list_namespaced_pod(self.namespace).items
            except ApiException:
                self._stop.wait(0.25)
                continue
            now = time.monotonic()
            self.replicas.append(
                (
                    now,
                    {
                        d.metadata.name: (int(d.spec.replicas or 0), int(d.status.ready_replicas or 0))
                        for d in deployments
                    },
                )
            )
            for pod in pods:
                labels = pod.metadata.labels or {}
                owner = labels.get(OWNER_LABEL) or (self.isvc_deployment if labels.get(ISVC_LABEL) else "")
                self.pod_owner.setdefault(pod.metadata.name, owner)
                if pod.spec.node_name and pod.metadata.name not in self.bound:
                    self.bound[pod.metadata.name] = now
            self._stop.wait(max(0.0, 0.25 - (time.monotonic() - began)))

    def now(self, name: str) -> tuple[int, int]:
        return self.replicas[-1][1].get(name, (-1, -1)) if self.replicas else (-1, -1)

    def last_value(self) -> float | None:
        return self.values[-1][1] if self.values else None

    def crossing(self, since: float, above: float) -> float | None:
        return next((t for t, v in self.values if t >= since and v is not None and v > above), None)

    def first(self, name: str, since: float, test: Callable[[int, int], bool]) -> float | None:
        return next((t for t, r in self.replicas if t >= since and name in r and test(*r[name])), None)

    def changes(self, name: str, since: float, until: float) -> int:
        seen = [r[name][0] for t, r in self.replicas if since <= t <= until and name in r]
        return sum(1 for a, b in itertools.pairwise(seen) if a != b)

    def settle(self, names: list[str], replicas: int, timeout: float, what: str) -> None:
        """Waits until each of the Deployments `names` has `replicas` replicas, all Ready."""
        wait_for(
            lambda: all(self.now(name) == (replicas, replicas) for name in names),
            timeout,
            f"{', '.join(names)} at {replicas} replicas, all Ready ({what})",
            seen=lambda: {name: self.now(name) for name in names} | {"query": self.last_value()},
        )

    def first_bound(self, name: str, since: float) -> float | None:
        times = [t for pod, t in self.bound.items() if self.pod_owner.get(pod) == name and t >= since]
        return min(times) if times else None
