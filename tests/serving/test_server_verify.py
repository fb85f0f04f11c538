"""`lepton-serve --verify` (the ModelVersion check) and serving refusing a tampered artifact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lepton.artifacts import file_digest
from support.servers import LEPTON_SERVE


def verify(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    message = tmp_path / "termination-log"
    message.unlink(missing_ok=True)
    env = {**os.environ, "LEPTON_TERMINATION_MESSAGE_PATH": str(message)}
    done = subprocess.run(
        [LEPTON_SERVE, "--verify", "--device", "cpu", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done, json.loads(message.read_text())


@pytest.fixture
def tampered(artifact: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "pvc" / "claim" / "tampered"
    shutil.copytree(artifact, copy)
    model = copy / json.loads((copy / "manifest.json").read_text())["file"]
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    return copy


def test_verify_succeeds_on_a_good_artifact_fetched_from_a_pvc(artifact: Path, tmp_path: Path) -> None:
    shutil.copytree(artifact, tmp_path / "pvc" / "claim" / "models" / "v1")
    manifest = json.loads((artifact / "manifest.json").read_text())
    done, message = verify(
        tmp_path, "--source", "pvc://claim/models/v1", "--pvc-root", str(tmp_path / "pvc"),
        "--expect-digest", manifest["digest"],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout
    assert message["verified"] is True
    assert message["digest"] == manifest["digest"] == file_digest(artifact / manifest["file"])
    assert message["format"] == manifest["format"]
    assert message["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 16]}]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tampered model file", "digest mismatch"),
        ("unexpected digest", "digest mismatch: expected sha256:" + "0" * 64),
        ("no artifact", "no manifest.json"),
    ],
    ids=["tampered", "expected digest differs", "missing"],
)
def test_verify_fails_with_the_reason(
    artifact: Path, tampered: Path, tmp_path: Path, case: str, message: str
) -> None:
    args = {
        "tampered model file": ["--model-dir", str(tampered)],
        "unexpected digest": ["--model-dir", str(artifact), "--expect-digest", "sha256:" + "0" * 64],
        "no artifact": ["--model-dir", str(tmp_path / "nothing")],
    }[case]
    done, termination = verify(tmp_path, *args)
    assert done.returncode == 1
    assert "verification failed" in done.stderr
    assert message in done.stderr
    assert termination["verified"] is False
    assert message in termination["reason"]


def test_serving_a_tampered_artifact_exits_without_ever_being_ready(tampered: Path, tmp_path: Path) -> None:
    message = tmp_path / "termination-log"
    env = {**os.environ, "LEPTON_TERMINATION_MESSAGE_PATH": str(message)}
    done = subprocess.run(
        [LEPTON_SERVE, "--model-dir", str(tampered), "--model-name", "m", "--port", "0", "--device", "cpu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 1
    assert "cannot serve" in done.stderr
    assert "digest mismatch" in done.stderr
    assert "is ready" not in done.stderr
    assert "digest mismatch" in json.loads(message.read_text())["reason"]


@pytest.mark.parametrize("command", [[LEPTON_SERVE, "fetch"], [sys.executable, "-m", "lepton.serving.fetch"]])
def test_the_fetch_command_copies_an_artifact_from_a_pvc(
    artifact: Path, tmp_path: Path, command: list[str]
) -> None:
    shutil.copytree(artifact, tmp_path / "pvc" / "claim" / "v1")
    done = subprocess.run(
        [
            *command,
            "--source",
            "pvc://claim/v1",
            "--dest",
            str(tmp_path / "dest"),
            "--pvc-root",
            str(tmp_path / "pvc"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "dest" / "manifest.json").read_text())
    assert file_digest(tmp_path / "dest" / manifest["file"]) == manifest["digest"]
