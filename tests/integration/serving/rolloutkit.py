"""What the canary rollout tests share: real `lepton-serve` processes standing in for each version's
replicas (KWOK pods run no process), registered with a real Prometheus under the labels the pod
scrape job gives a service's pods (namespace, service; the server labels its series with its own
`version`), the load that drives them, the operator that asks that Prometheus, and the manifest
of a canary service with short steps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from servekit import Serving, inference_service

from support.models import INPUT, artifact
from support.operator import Operator, running_operator
from support.prometheus import Prometheus
from support.servers import Load, Server, kill, launch, until_ready

INTERVAL = 5  # analysis intervalSeconds (the API's minimum)
STEPS = [{"weight": 25, "pauseSeconds": 5}, {"weight": 50, "pauseSeconds": 5}]


class Servers:
    """Model servers by version, each registered with Prometheus as the replicas of one service."""

    def __init__(self, root: Path, prometheus: Prometheus, namespace: str, service: str) -> None:
        self.root, self.prometheus = root, prometheus
        self.namespace, self.service = namespace, service
        self.running: dict[str, Server] = {}

    def start(self, *versions: tuple[str, bool]) -> None:
        """Start (version, good) servers side by side and wait until all are ready."""
        started = {
            version: launch(
                artifact(self.root, good),
                self.root,
                "--model-version",
                version,
                "--no-batching",
                name="iris",
                wait_ready=False,
            )
            for version, good in versions
        }
        self.running.update(started)
        for version, server in started.items():
            until_ready(server, 120, f"lepton-serve of {version} ready")
            address = server.url.removeprefix("http://")
            labels = {"namespace": self.namespace, "service": self.service}
            self.prometheus.add_target(f"{self.namespace}-{version}", address, labels)

    def url(self, version: str) -> str:
        return self.running[version].url

    def stop(self) -> None:
        for version, server in self.running.items():
            (self.prometheus.targets / f"{self.namespace}-{version}.json").unlink(missing_ok=True)
            kill(server)


def servers(root: Path, prometheus: Prometheus, namespace: str, service: str) -> Iterator[Servers]:
    group = Servers(root, prometheus, namespace, service)
    try:
        yield group
    finally:
        group.stop()


def load(url: str) -> Load:
    """10 requests/s of the positive input to one version's server."""
    return Load(url, INPUT)


@contextmanager
def rollout_operator(kubeconfig: str, prometheus: Prometheus, log: Path) -> Iterator[Operator]:
    """The operator with the module's Prometheus as its default (no autoscaling to name one)."""
    env = {"LEPTON_CLUSTER_DOMAIN": "cluster.local", "LEPTON_PROMETHEUS_URL": prometheus.url}
    with running_operator(kubeconfig, log, env) as op:
        yield op


def canary_service(name: str, replicas: int = 4, **spec: Any) -> dict[str, Any]:
    analysis = {"intervalSeconds": INTERVAL, "minRequests": 5, "failureLimit": 2, "maxErrorRate": 0.05}
    rollout = {"strategy": "Canary", "steps": STEPS, "analysis": analysis}
    return inference_service(name, "iris", replicas=replicas, rollout=rollout, **spec)


def replicas(serving: Serving, name: str, version: str) -> int | None:
    """spec.replicas of the version's Deployment; None when it does not exist."""
    found = [d for d in serving.apps.list_namespaced_deployment(serving.namespace).items]
    deployment = next((d for d in found if d.metadata.name == f"{name}-{version}"), None)
    return None if deployment is None else int(deployment.spec.replicas)


def canary(serving: Serving, name: str) -> dict[str, Any]:
    return dict(serving.status("inferenceservices", name).get("canary") or {})


def reasons(serving: Serving, name: str) -> list[str]:
    return [reason for _, reason, _ in serving.events(name)]


def annotate(serving: Serving, name: str, annotations: dict[str, str | None]) -> None:
    serving.custom.patch_namespaced_custom_object(
        "lepton.ai",
        "v1alpha1",
        serving.namespace,
        "inferenceservices",
        name,
        {"metadata": {"annotations": annotations}},
        _content_type="application/merge-patch+json",
    )
