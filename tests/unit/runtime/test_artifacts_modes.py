"""Artifact and checkpoint files are created as open() would create them (0666 less the umask) and
their directories as mkdir would (0777 less the umask), not 0600 as their temporary files are."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from lepton.artifacts import MLPClassifier, save_artifact
from lepton.artifacts.files import process_umask
from lepton.runtime.checkpoint import save_checkpoint


@pytest.fixture(params=[0o022, 0o027, 0o002], ids=["umask-022", "umask-027", "umask-002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_process_umask_reads_it_without_changing_it(umask: int) -> None:
    assert process_umask() == umask
    assert process_umask() == umask


def test_artifact_files_and_directories_honour_the_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "models" / "classifier" / "v1"
    torch.manual_seed(0)
    save_artifact(MLPClassifier(16, 8, 4, 1), out, format="safetensors", example_input=torch.randn(2, 16))

    files = sorted(p.name for p in out.iterdir())
    assert files == ["manifest.json", "model.safetensors"], "no temporary file may be left behind"
    for name in files:
        assert mode(out / name) == 0o666 & ~umask, f"{name}: {mode(out / name):04o}"
    for directory in (out, out.parent, out.parent.parent):
        assert mode(directory) == 0o777 & ~umask, f"{directory}: {mode(directory):04o}"


def test_checkpoints_honour_the_umask(tmp_path: Path, umask: int) -> None:
    path = save_checkpoint({"step": 1}, 1, directory=tmp_path / "checkpoints")

    assert path is not None
    assert mode(path) == 0o666 & ~umask
