"""The demo's scenario, asserted: train on the real node, verify, serve, answer, scrape.

Runs `make demo`'s steps (e2e/realnode/demo.py) once for the module, against the cluster the
e2e fixture started, then checks what a bug in any piece would break.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from localcluster.config import Config
from realnode import demo
from realnode.demokit import NAMESPACE, Clock

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def result(e2e_cluster: Config) -> demo.Result:
    return demo.run(Clock(), e2e_cluster)


def worker_pods(kubectl: Any, job: str = "classifier") -> list[dict[str, Any]]:
    out = kubectl("get", "pods", "-n", NAMESPACE, "-l", f"lepton.ai/job-name={job}", "-o", "json")
    return list(json.loads(out.stdout)["items"])


def test_workers_ran_on_the_real_node_and_rendezvoused(result: demo.Result, kubectl: Any) -> None:
    pods = worker_pods(kubectl)
    assert sorted(p["metadata"]["name"] for p in pods) == ["classifier-worker-0", "classifier-worker-1"]
    assert {p["spec"]["nodeName"] for p in pods} <= {"lepton-real-0", "lepton-real-1"}
    log = kubectl("logs", "-n", NAMESPACE, "classifier-worker-0").stdout
    assert "world size 2" in log, log[-2000:]


def test_job_succeeded_with_target_loss(result: demo.Result) -> None:
    status = result.job["status"]
    assert any(c["type"] == "Succeeded" and c["status"] == "True" for c in status["conditions"])
    assert float(status["metrics"]["loss"]) <= 0.05


def test_version_is_ready_with_the_artifacts_digest(result: demo.Result, e2e_cluster: Config) -> None:
    digest = result.version["status"]["digest"]
    artifact = e2e_cluster.state_dir / "demo" / "models" / "classifier" / "demo"
    manifest = json.loads((artifact / "manifest.json").read_text())
    model_file = artifact / manifest["file"]
    assert digest == manifest["digest"] == "sha256:" + hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert result.version["spec"]["source"]["digest"] == digest


def test_service_answers_as_the_artifact_loaded_here(result: demo.Result, e2e_cluster: Config) -> None:
    torch = pytest.importorskip("torch")
    from lepton.artifacts import load_artifact

    assert any(c["type"] == "Ready" and c["status"] == "True" for c in result.service["status"]["conditions"])
    loaded = load_artifact(Path(e2e_cluster.state_dir / "demo" / "models" / "classifier" / "demo"))
    with torch.no_grad():
        expected = loaded.module(torch.tensor([result.row], dtype=torch.float32))[0].tolist()
    assert result.answer == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_prometheus_counted_the_answered_request(result: demo.Result) -> None:
    assert result.requests >= 1
