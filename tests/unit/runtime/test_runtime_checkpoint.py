"""Checkpoints: atomic writes by rank 0, the newest complete one loads, partial ones never do."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lepton.runtime import load_latest_checkpoint, save_checkpoint
from lepton.runtime.checkpoint import checkpoint_path, list_checkpoints


@pytest.fixture(autouse=True)
def _rank0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LEPTON_CHECKPOINT_DIR", str(tmp_path))


def _state(value: float) -> dict[str, object]:
    return {"model": {"w": torch.full((2, 2), float(value))}, "step": int(value)}


def test_newest_is_loaded(tmp_path: Path) -> None:
    for epoch in (1, 2, 3):
        save_checkpoint(_state(epoch), epoch)
    found = load_latest_checkpoint()
    assert found is not None
    assert found.epoch == 3
    assert found.path == checkpoint_path(tmp_path, 3)
    torch.testing.assert_close(found.state["model"]["w"], torch.full((2, 2), 3.0))


def test_none_without_checkpoints_or_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_latest_checkpoint() is None
    monkeypatch.delenv("LEPTON_CHECKPOINT_DIR")
    assert save_checkpoint(_state(1), 1) is None
    assert load_latest_checkpoint() is None


def test_only_the_newest_few_are_kept(tmp_path: Path) -> None:
    for epoch in range(1, 6):
        save_checkpoint(_state(epoch), epoch, keep=2)
    assert [epoch for epoch, _ in list_checkpoints(tmp_path)] == [5, 4]


def test_partial_write_is_never_loaded(tmp_path: Path) -> None:
    save_checkpoint(_state(1), 1)
    # What an interrupted atomic write leaves behind: a temporary file, never the final name.
    (tmp_path / ".checkpoint-000002.pt.abc.tmp").write_bytes(b"\x80\x02half")
    found = load_latest_checkpoint()
    assert found is not None
    assert found.epoch == 1


def test_damaged_newest_falls_back_to_the_previous(tmp_path: Path) -> None:
    save_checkpoint(_state(1), 1)
    checkpoint_path(tmp_path, 2).write_bytes(b"truncated by a full disk")
    found = load_latest_checkpoint()
    assert found is not None
    assert found.epoch == 1


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    class Unpicklable:
        def __reduce__(self) -> str:
            raise RuntimeError("boom")

    save_checkpoint(_state(1), 1)
    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint({"bad": Unpicklable()}, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-000001.pt"]


def test_other_ranks_do_not_write(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RANK", "1")
    assert save_checkpoint(_state(1), 1) is None
    assert list(tmp_path.iterdir()) == []


def test_code_in_a_checkpoint_is_not_run_by_default(tmp_path: Path) -> None:
    save_checkpoint({"obj": Path("x")}, 1)
    assert load_latest_checkpoint() is None
    found = load_latest_checkpoint(weights_only=False)
    assert found is not None
    assert found.state["obj"] == Path("x")
