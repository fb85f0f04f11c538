"""The examples as Argo CD drives them: applied server-side, reconciled by the operator, then
re-applied with no diff (the operator never writes a field the manifest owns, autoscaled replicas
included); and Argo CD's Lua health checks judged on those live objects."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.luahealth import luahealth_binary
from support.paths import REPO
from support.wait import wait_for

pytestmark = pytest.mark.integration

EXAMPLES = sorted(p for p in (REPO / "examples").glob("*.yaml"))
KINDS = REPO / "argocd" / "resource_customizations" / "lepton.ai"
PLURALS = {
    "TrainingJob": "trainingjobs",
    "ModelVersion": "modelversions",
    "InferenceService": "inferenceservices",
}
# Configuration the operator reads but does not reconcile (no status): Argo CD gives it no health
# check of ours, so it is checked for drift only.
CONFIGURATION = {"ClusterQueue"}
# What Argo CD should say of each phase these objects reach on the simulated cluster.
HEALTH = {
    ("TrainingJob", "Queued"): "Progressing",
    ("TrainingJob", "Admitted"): "Progressing",
    ("TrainingJob", "Running"): "Progressing",
    ("ModelVersion", "Pending"): "Progressing",
    ("ModelVersion", "Verifying"): "Progressing",
    ("InferenceService", "Pending"): "Progressing",
}


@pytest.fixture(scope="module")
def luahealth() -> Path:
    return luahealth_binary()


def objects(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def reconciled(kubectl: Any, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    out = kubectl("get", PLURALS[kind], name, "-n", namespace, "-o", "json").stdout
    body: dict[str, Any] = json.loads(out)
    status = body.get("status") or {}
    done = status.get("phase") and status.get("observedGeneration") == body["metadata"]["generation"]
    return body if done else None


def test_examples_reapplied_show_no_diff_and_argocd_health_reads_them(
    kubectl, namespace, operator, luahealth, tmp_path
):
    live: list[dict[str, Any]] = []
    for example in EXAMPLES:
        kubectl("apply", "--server-side", "-n", namespace, "-f", str(example))
    for example in EXAMPLES:
        for obj in objects(example):
            kind, name = obj["kind"], obj["metadata"]["name"]
            if kind in CONFIGURATION:
                continue
            live.append(
                wait_for(
                    lambda kind=kind, name=name: reconciled(kubectl, namespace, kind, name),
                    timeout=60,
                    what=f"{kind} {name} reconciled (phase and observedGeneration in its status)",
                )
            )
    for example in EXAMPLES:
        diff = kubectl("diff", "--server-side", "-n", namespace, "-f", str(example), check=False)
        assert diff.returncode == 0, f"re-applying {example.name} would change:\n{diff.stdout}{diff.stderr}"

    # Argo CD's health checks on the live objects, in its own Lua engine.
    cases: dict[str, list[dict[str, Any]]] = {}
    for body in live:
        kind, phase = body["kind"], body["status"]["phase"]
        expected = HEALTH.get((kind, phase))
        assert expected, f"no expected health for a live {kind} in phase {phase}: add it to HEALTH"
        directory = tmp_path / kind
        if not directory.exists():
            (directory / "testdata").mkdir(parents=True)
            shutil.copy(KINDS / kind / "health.lua", directory / "health.lua")
        path = directory / "testdata" / f"{body['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(body))
        cases.setdefault(kind, []).append(
            {"healthStatus": {"status": expected}, "inputPath": f"testdata/{path.name}"}
        )
    for kind, tests in cases.items():
        (tmp_path / kind / "health_test.yaml").write_text(yaml.safe_dump({"tests": tests}))
    out = subprocess.run(
        [str(luahealth), "--status-only", *(str(tmp_path / k) for k in sorted(cases))],
        check=False,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
