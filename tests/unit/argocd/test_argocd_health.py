"""Argo CD health checks run by Argo CD's Lua engine (gopher-lua, e2e/tools/luahealth)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.luahealth import luahealth_binary
from support.paths import REPO

KINDS = REPO / "argocd" / "resource_customizations" / "lepton.ai"


@pytest.fixture(scope="session")
def luahealth() -> Path:
    return luahealth_binary()


def test_every_kind_maps_every_phase(luahealth: Path) -> None:
    out = subprocess.run(
        [str(luahealth), *map(str, sorted(KINDS.iterdir()))], check=False, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 failed" in out.stdout


@pytest.mark.parametrize(
    ("kind", "phases"),
    [
        (
            "TrainingJob",
            ["Created", "Queued", "Admitted", "Running", "Restarting", "Succeeded", "Failed", "Suspended"],
        ),
        ("ModelVersion", ["Pending", "Verifying", "Ready", "Failed"]),
        (
            "InferenceService",
            [
                "Pending",
                "Deploying",
                "Ready",
                "RollingOut",
                "Degraded",
                "ScaledToZero",
                "Activating",
                "Failed",
            ],
        ),
    ],
)
def test_test_cases_cover_every_phase_of_the_api(kind: str, phases: list[str]) -> None:
    from lepton.api import inferenceservice, modelversion, trainingjob

    enums = {
        "TrainingJob": trainingjob.TrainingJobPhase,
        "ModelVersion": modelversion.ModelVersionPhase,
        "InferenceService": inferenceservice.InferenceServicePhase,
    }
    assert sorted(p.value for p in enums[kind]) == sorted(phases)  # a new phase needs a case here
    tests = yaml.safe_load((KINDS / kind / "health_test.yaml").read_text())["tests"]
    covered = set()
    for case in tests:
        body = yaml.safe_load((KINDS / kind / case["inputPath"]).read_text())
        covered.add(body.get("status", {}).get("phase"))
    assert set(phases) <= covered


def test_a_wrong_expectation_fails_the_harness(luahealth: Path, tmp_path: Path) -> None:
    copy = tmp_path / "TrainingJob"
    shutil.copytree(KINDS / "TrainingJob", copy)
    cases = yaml.safe_load((copy / "health_test.yaml").read_text())
    failed = next(c for c in cases["tests"] if c["inputPath"] == "testdata/failed.yaml")
    failed["healthStatus"]["status"] = "Healthy"
    (copy / "health_test.yaml").write_text(yaml.safe_dump(cases))
    out = subprocess.run([str(luahealth), str(copy)], check=False, capture_output=True, text=True)
    assert out.returncode == 1
    assert "FAIL" in out.stdout
    assert "testdata/failed.yaml" in out.stdout


def test_synthetic_testdata_are_those_testdata_py_derives_from_the_recorded_ones() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "operator")}
    out = subprocess.run(
        [sys.executable, str(REPO / "argocd" / "testdata.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr


def synthetic_cases() -> set[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("argocd_testdata", REPO / "argocd" / "testdata.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(module.SYNTHETIC)


@pytest.mark.parametrize("kind", ["TrainingJob", "ModelVersion", "InferenceService"])
def test_each_test_object_is_recorded_or_synthetic_and_has_one_case(kind: str) -> None:
    synthetic = synthetic_cases()
    files = sorted((KINDS / kind / "testdata").glob("*.yaml"))
    for path in files:
        header = path.read_text().splitlines()[0]
        recorded = header.startswith("# Recorded from the local cluster by tests/integration/argocd")
        made = header.startswith("# Synthetic, made by argocd/testdata.py")
        assert recorded != made, f"{path.name}: neither or both: {header}"
        assert made == ((kind, path.stem) in synthetic), path.name
    cases = [c["inputPath"] for c in yaml.safe_load((KINDS / kind / "health_test.yaml").read_text())["tests"]]
    assert sorted(cases) == [f"testdata/{p.name}" for p in files]
