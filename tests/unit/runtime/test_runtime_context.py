"""context() reads the torchrun worker environment and Lepton's injected variables."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch

from lepton.runtime import context

_CLEARED = [
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "PET_NODE_RANK", "NODE_RANK",
    "LEPTON_CHECKPOINT_DIR", "LEPTON_OUTPUT_DIR", "LEPTON_OUTPUT_URI", "LEPTON_OUTPUT_FORMAT",
    "LEPTON_RESTART_ATTEMPT",
    "TORCHELASTIC_RESTART_COUNT", "LEPTON_JOB_NAME", "LEPTON_NAMESPACE", "LEPTON_DIST_BACKEND",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)


def test_plain_python_is_a_one_process_job() -> None:
    ctx = context()
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.node_rank, ctx.restart_attempt) == (0, 1, 0, 0, 0)
    assert ctx.is_primary
    assert not ctx.distributed
    assert ctx.checkpoint_dir is None
    assert ctx.output_dir == Path(tempfile.gettempdir()) / "lepton-output"
    expected = "nccl" if torch.cuda.is_available() else "gloo"
    assert ctx.backend == expected


def test_worker_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {
        "RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "GROUP_RANK": "1",
        "LEPTON_CHECKPOINT_DIR": str(tmp_path / "ckpt"), "LEPTON_OUTPUT_DIR": str(tmp_path / "out"),
        "LEPTON_OUTPUT_URI": "pvc://models/job-1", "LEPTON_RESTART_ATTEMPT": "2",
        "TORCHELASTIC_RESTART_COUNT": "1", "LEPTON_JOB_NAME": "job-1", "LEPTON_NAMESPACE": "team-a",
        "LEPTON_DIST_BACKEND": "gloo",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    ctx = context()
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.local_world_size, ctx.node_rank) == (3, 4, 1, 2, 1)
    assert not ctx.is_primary
    assert ctx.distributed
    assert ctx.checkpoint_dir == tmp_path / "ckpt"
    assert ctx.output_dir == tmp_path / "out"
    assert ctx.output_uri == "pvc://models/job-1"
    assert (ctx.restart_attempt, ctx.local_restart_count) == (2, 1)
    assert (ctx.job_name, ctx.namespace) == ("job-1", "team-a")
    assert ctx.backend == "gloo"
    assert ctx.device == torch.device("cpu")


def test_node_rank_falls_back_to_injected_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_RANK", "5")
    assert context().node_rank == 5


def test_garbage_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEPTON_RESTART_ATTEMPT", "two")
    with pytest.raises(ValueError, match="LEPTON_RESTART_ATTEMPT='two'"):
        context()
