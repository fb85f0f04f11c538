"""report_metrics serves Prometheus metrics on rank 0 and save_model writes the termination message."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from lepton.artifacts import ArtifactInfo, MLPClassifier, file_digest, load_artifact
from lepton.builders.modelversion import parse_termination_message
from lepton.runtime import latest_metrics, report_metrics, save_model, termination_message
from lepton.runtime.metrics import reset_metrics
from lepton.runtime.model import MAX_TERMINATION_MESSAGE, TerminationMessageTooLong
from support.ports import free_port
from support.wait import wait_for


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("LEPTON_METRICS_PORT", "0")
    monkeypatch.setenv("LEPTON_TERMINATION_MESSAGE_PATH", str(tmp_path / "termination-log"))
    monkeypatch.delenv("LEPTON_OUTPUT_URI", raising=False)
    reset_metrics()
    yield
    reset_metrics()


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def test_rank0_serves_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("LEPTON_METRICS_PORT", str(port))
    monkeypatch.setenv("LEPTON_METRICS_ADDR", "127.0.0.1")
    report_metrics(step=10, epoch=2, loss=0.25, samples_per_second=1000.0)
    report_metrics({"accuracy": torch.tensor(0.5)})

    body = wait_for(lambda: _scrape(port), timeout=10, what="the metrics endpoint")
    assert "lepton_train_step 10.0" in body
    assert "lepton_train_epoch 2.0" in body
    assert "lepton_train_loss 0.25" in body
    assert "lepton_train_samples_per_second 1000.0" in body
    assert 'lepton_train_metric{name="accuracy"} 0.5' in body
    assert latest_metrics()["accuracy"] == 0.5


def test_metrics_must_be_numbers() -> None:
    with pytest.raises(TypeError, match="'note' must be a number"):
        report_metrics({"note": "hello"})


def test_other_ranks_keep_metrics_without_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LEPTON_METRICS_PORT", str(port))
    monkeypatch.setenv("LEPTON_METRICS_ADDR", "127.0.0.1")
    report_metrics(loss=0.5)
    assert latest_metrics() == {"loss": 0.5}
    with pytest.raises(OSError, match="refused"):
        _scrape(port)


def test_save_model_writes_artifact_and_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEPTON_OUTPUT_DIR", str(tmp_path / "out"))
    report_metrics(epoch=3, loss=0.125)
    model = MLPClassifier(16, 8, 4, 1)

    info = save_model(model, torch.randn(2, 16), metrics={"accuracy": 0.97})

    message = json.loads((tmp_path / "termination-log").read_text())
    assert message["artifact"] == {
        "uri": (tmp_path / "out").as_uri(),
        "digest": info.digest,
        "format": "torch-export",
    }
    assert message["metrics"] == {"epoch": 3, "loss": 0.125, "accuracy": 0.97}
    assert info.digest == file_digest(tmp_path / "out" / "model.pt2")
    assert load_artifact(tmp_path / "out").manifest.metrics == message["metrics"]


def test_save_model_reports_the_output_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEPTON_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("LEPTON_OUTPUT_URI", "s3://models/job-1")
    info = save_model(MLPClassifier(16, 8, 4, 1), torch.randn(2, 16), format="safetensors")
    assert info.uri == "s3://models/job-1"
    assert json.loads((tmp_path / "termination-log").read_text())["artifact"]["uri"] == "s3://models/job-1"


def test_termination_message_is_trimmed_to_fit() -> None:
    info = ArtifactInfo(uri="file:///out", digest="sha256:" + "a" * 64, format="torch-export", size_bytes=1)
    metrics: dict[str, object] = {f"extra_metric_{i:04d}": 1.5 for i in range(400)}
    metrics["loss"] = 0.01
    metrics["epoch"] = 10

    text = termination_message(info, metrics)
    message = json.loads(text)
    assert len(text.encode()) <= MAX_TERMINATION_MESSAGE
    assert message["metrics"]["loss"] == 0.01
    assert message["metrics"]["epoch"] == 10
    assert 10 < len(message["metrics"]) < 402
    assert message["artifact"]["digest"] == info.digest


def test_termination_message_is_as_full_as_it_can_be() -> None:
    # Metrics are dropped only when the next one would overflow: the accounting is exact.
    info = ArtifactInfo(uri="file:///out", digest="sha256:" + "a" * 64, format="torch-export", size_bytes=1)
    for count in range(195, 215):  # from all fitting to some dropped
        metrics = {f"m{i:03d}_\u00e9": i * 1.5 for i in range(count)}
        text = termination_message(info, metrics)
        kept = json.loads(text)["metrics"]
        assert len(text.encode()) <= MAX_TERMINATION_MESSAGE
        dropped = [k for k in metrics if k not in kept]
        if dropped:
            more = json.dumps(
                {
                    "metrics": {**kept, dropped[0]: metrics[dropped[0]]},
                    "artifact": json.loads(text)["artifact"],
                },
                separators=(",", ":"),
            )
            assert len(more.encode()) > MAX_TERMINATION_MESSAGE, (count, len(text))


def test_termination_message_keeps_finite_numbers_only() -> None:
    info = ArtifactInfo(uri="file:///out", digest="sha256:" + "a" * 64, format="torch-export", size_bytes=1)
    metrics: dict[str, object] = {
        "loss": torch.tensor(0.25), "nan": float("nan"), "inf": float("inf"), "flag": True,
        "note": "text", "vector": torch.ones(3), "huge": 10**5000, "epoch": 3,
    }  # fmt: skip

    text = termination_message(info, metrics)

    message = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert message["metrics"] == {"loss": 0.25, "epoch": 3}
    result = parse_termination_message(text)  # the operator's own reader accepts it
    assert result.metrics == {"loss": 0.25, "epoch": 3.0}


def test_an_artifact_reference_that_cannot_fit_is_refused_not_cut() -> None:
    info = ArtifactInfo(
        uri="file:///" + "d/" * 2100, digest="sha256:" + "a" * 64, format="torch-export", size_bytes=1
    )

    with pytest.raises(TerminationMessageTooLong, match="shorter URI"):
        termination_message(info, {"loss": 0.1})
