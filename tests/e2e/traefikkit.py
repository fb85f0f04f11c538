"""What the Gateway rollout e2e needs besides Traefik itself: the model artifacts of each version on
the real node's hostPath claim, the manifests, and a steady load through the Gateway that records
every answer (when, status, which version answered, and for failures what answered)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import torch
from e2ekit import REAL_NODE_SELECTOR, REAL_NODE_TOLERATION, SERVER_IMAGE, hostpath_claim

from lepton.artifacts import MLPClassifier, save_artifact
from support.background import Background

MODEL = "iris"
# Positive input: the good models answer it; the bad one refuses it with a 500 (its warm-up and the
# verification's example input are negative, so it loads, verifies and turns Ready like a good one).
ROW = [1.0] * 16
INPUT = {"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": ROW}]}


class Refuses(torch.nn.Module):
    """The bad version: an exported program that fails at inference on any positive input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert_async((x <= 0).all(), "this version fails on positive input")
        return x * 2


def write_artifact(models: Path, version: str, good: bool) -> str:
    """The artifact of ``version`` under the claim's folder (owned by uid 1000, who serves it); its
    digest."""
    directory = models / MODEL / version
    torch.manual_seed(len(version))
    model = MLPClassifier(16, 32, 4) if good else Refuses()
    info = save_artifact(model, directory, example_input=torch.zeros(2, 16) - 1)
    for path in (models / MODEL, directory, *directory.iterdir()):
        os.chown(path, 1000, 1000)
    return str(info.digest)


def storage(models: Path, namespace: str) -> list[dict[str, Any]]:
    """The claim `models` over the ``models`` folder (kept when the claim goes, as the demo's)."""
    return hostpath_claim(namespace, "models", str(models), reclaim="Retain")


def model_version(version: str, digest: str) -> dict[str, Any]:
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": f"{MODEL}-{version}"},
        "spec": {
            "model": MODEL,
            "version": version,
            "source": {"uri": f"pvc://models/{MODEL}/{version}", "format": "torch-export", "digest": digest},
        },
    }


def real_node_server() -> dict[str, Any]:
    """spec.server of a model server on the real node, from the image imported there."""
    return {
        "image": SERVER_IMAGE,
        "imagePullPolicy": "Never",
        "nodeSelector": REAL_NODE_SELECTOR,
        "tolerations": [REAL_NODE_TOLERATION],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "2Gi"}},
    }


def inference_service(
    version: str, gateway: dict[str, str], hostname: str, rollout: dict[str, Any], mirror_percent: int = 0
) -> dict[str, Any]:
    """One replica of ``version`` on the real node, routed by an HTTPRoute on ``gateway`` (mirroring
    ``mirror_percent`` % of the requests to a new version during a rollout)."""
    traffic: dict[str, Any] = {"gateway": gateway, "hostnames": [hostname]}
    if mirror_percent:
        traffic["mirrorPercent"] = mirror_percent
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": MODEL},
        "spec": {
            "model": {"name": MODEL, "version": version},
            "replicas": 1,
            "server": real_node_server(),
            "traffic": traffic,
            "rollout": rollout,
        },
    }


@dataclass(frozen=True)
class Answer:
    at: float
    """time.monotonic() when the answer came."""
    code: int
    """HTTP status; 0 when no response came (connection refused, reset, timeout)."""
    version: str | None
    """model_version of a 200 answer."""
    detail: str
    """The body of a failure, or the exception."""

    @property
    def from_model(self) -> bool:
        """A model server's own error (JSON {"error": ...}); a Gateway's errors are plain text."""
        return self.code == 500 and self.detail.startswith('{"error"')


class GatewayLoad(Background):
    """Inference requests at a steady rate through the Gateway, with the route's hostname, from a
    thread until stopped. Every answer is kept: a failure of any kind is a finding."""

    join_seconds = 30.0  # the last request may wait its whole timeout

    def __init__(self, url: str, hostname: str, per_second: float, timeout: float = 10) -> None:
        super().__init__()
        self.url = f"{url}/v2/models/{MODEL}/infer"
        self.hostname, self.period, self.timeout = hostname, 1.0 / per_second, timeout
        self.answers: list[Answer] = []

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, headers={"Host": self.hostname}) as http:
            next_at = time.monotonic()
            while not self._stop.is_set():
                self.answers.append(ask(http, self.url))
                next_at += self.period
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def failures(self) -> list[Answer]:
        return [a for a in self.answers if a.code != 200]

    def versions(self) -> dict[str, int]:
        """Answers by the version that gave them (200s only)."""
        found: dict[str, int] = {}
        for a in self.answers:
            if a.version is not None:
                found[a.version] = found.get(a.version, 0) + 1
        return found


def ask(http: httpx.Client, url: str) -> Answer:
    try:
        response = http.post(url, json=INPUT)
    except httpx.HTTPError as exc:
        return Answer(time.monotonic(), 0, None, repr(exc))
    if response.status_code == 200:
        return Answer(time.monotonic(), 200, json.loads(response.text).get("model_version"), "")
    return Answer(time.monotonic(), response.status_code, None, response.text[:300])
