"""Artifacts written by one user and verified or fetched by another (issue #17, item 7): written
files are readable by others (0644 under the usual umask), and a file that is not gets its own
kind in the termination message, ArtifactUnreadable, instead of passing for a missing artifact."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch
from unreadable import OTHER_UID, as_root, hand_over, reader_preexec

from lepton.artifacts import MLPClassifier, save_artifact
from support.servers import LEPTON_SERVE


def run_reader(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    message = tmp_path / "termination-log"
    message.unlink(missing_ok=True)
    done = subprocess.run(
        [LEPTON_SERVE, *args],
        env={**os.environ, "LEPTON_TERMINATION_MESSAGE_PATH": str(message)},
        preexec_fn=reader_preexec,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done, json.loads(message.read_text())


@pytest.fixture
def written(tmp_path: Path) -> Path:
    """An artifact as lepton.artifacts.save_artifact writes it, under the usual umask."""
    old = os.umask(0o022)
    try:
        torch.manual_seed(0)
        model = MLPClassifier(16, 8, 4, 1)
        save_artifact(
            model, tmp_path / "models" / "v1", format="safetensors", example_input=torch.randn(2, 16)
        )
    finally:
        os.umask(old)
    return tmp_path / "models" / "v1"


@pytest.mark.skipif(not as_root(), reason="handing files to another uid needs root")
def test_an_artifact_another_user_wrote_verifies(written: Path, tmp_path: Path) -> None:
    hand_over(written, mode=(written / "manifest.json").stat().st_mode & 0o777)  # owner changes, mode kept

    done, message = run_reader(tmp_path, "--verify", "--device", "cpu", "--model-dir", str(written))

    assert done.returncode == 0, done.stderr
    assert message["verified"] is True


@pytest.mark.parametrize(
    "command",
    [
        ["--verify", "--device", "cpu", "--model-dir", "{artifact}"],
        ["--verify", "--device", "cpu", "--source", "{artifact}", "--model-dir", "{scratch}"],
        ["fetch", "--source", "{artifact}", "--dest", "{scratch}"],
    ],
    ids=["verify-in-place", "verify-fetching", "fetch-init-container"],
)
def test_an_unreadable_artifact_is_reported_as_unreadable(
    written: Path, tmp_path: Path, command: list[str]
) -> None:
    # 0600 is what every artifact got before the fix; without root, the owner is shut out by 0000.
    mode = 0o600 if as_root() else 0o000
    hand_over(written, mode=mode)
    args = [a.format(artifact=written, scratch=tmp_path / "scratch") for a in command]

    done, message = run_reader(tmp_path, *args)

    assert done.returncode == 1, done.stderr
    assert message.get("kind") == "ArtifactUnreadable", message
    assert "permission denied" in message["reason"], message
    assert f"mode {mode:04o}" in message["reason"], message
    if as_root():
        assert f"owner uid {OTHER_UID}" in message["reason"], message
