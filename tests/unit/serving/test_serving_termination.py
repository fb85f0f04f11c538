"""Termination messages of the verify and fetch containers: valid JSON of at most 4096 bytes,
whatever the payload, keeping what the operator decides on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lepton.serving.termination import LIMIT, fit, write_termination_message

DIGEST = "sha256:" + "0" * 64


def _fits(text: str) -> dict[str, Any]:
    assert len(text.encode()) <= LIMIT, len(text.encode())
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.mark.parametrize("char", ["x", "é", "\u2603", "\U0001f600", '"', "\n"], ids=repr)
def test_a_long_reason_is_cut_to_fit_exactly(char: str) -> None:
    reason = "cannot load: " + char * 5000
    message = _fits(fit({"verified": False, "reason": reason, "kind": "ArtifactUnreadable"}))

    assert message["verified"] is False
    assert message["kind"] == "ArtifactUnreadable"
    assert message["reason"].endswith("...")
    assert reason.startswith(message["reason"][:-3])
    # The longest cut that fits: one more character would not.
    longer = {**message, "reason": reason[: len(message["reason"]) - 2] + "..."}
    assert len(json.dumps(longer, separators=(",", ":")).encode()) > LIMIT


def test_a_short_payload_is_left_alone() -> None:
    payload = {"verified": True, "digest": DIGEST, "format": "torch-export"}
    assert json.loads(fit(payload)) == payload


def test_fields_the_operator_does_not_read_make_room_for_those_it_does() -> None:
    inputs = [{"name": f"input_{i}", "datatype": "FP32", "shape": [-1, 16]} for i in range(200)]
    payload = {"verified": True, "digest": DIGEST, "format": "safetensors", "inputs": inputs,
               "outputs": [], "torchVersion": "2.15.0"}  # fmt: skip

    message = _fits(fit(payload))

    assert message == {key: value for key, value in payload.items() if key != "inputs"}


def test_essential_fields_that_cannot_fit_are_replaced_by_a_valid_message() -> None:
    message = _fits(fit({"fetched": False, "kind": "k" * 5000, "reason": "x"}))

    assert message["fetched"] is False
    assert "over 4096 bytes" in message["reason"]


def test_the_file_written_is_the_fitted_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "termination-log"
    monkeypatch.setenv("LEPTON_TERMINATION_MESSAGE_PATH", str(path))

    write_termination_message({"verified": False, "reason": "é" * 4000})

    assert _fits(path.read_text())["verified"] is False
