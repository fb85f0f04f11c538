"""Fixtures of the real-server tests: example artifacts and `lepton-serve` processes serving them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from lepton.artifacts import MLPClassifier, save_artifact
from support.servers import Server, kill, launch


def _example_artifact(out: Path) -> Path | None:
    """A model trained by the built-in example, when lepton.runtime ships it."""
    try:
        import lepton.runtime.examples.classifier  # noqa: F401
    except ImportError:
        return None
    env = {
        **os.environ,
        "LEPTON_OUTPUT_DIR": str(out / "model"),
        "LEPTON_CHECKPOINT_DIR": str(out / "checkpoints"),
        "LEPTON_TERMINATION_MESSAGE_PATH": str(out / "termination-log"),
    }
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "lepton.runtime.examples.classifier", "--epochs", "10", "--samples", "512"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"the example failed to train: {done.stdout}\n{done.stderr}"
    return out / "model"


@pytest.fixture(scope="session")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example model (trained by lepton.runtime.examples.classifier when present, else untrained)."""
    root = tmp_path_factory.mktemp("example")
    trained = _example_artifact(root)
    if trained is not None:
        return trained
    torch.manual_seed(0)
    save_artifact(MLPClassifier(16, 32, 4), root / "model", example_input=torch.randn(2, 16))
    return root / "model"


@pytest.fixture(scope="session")
def heavy_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wider model, so a few hundred rows keep the inference thread busy for a while."""
    directory = tmp_path_factory.mktemp("heavy") / "model"
    torch.manual_seed(1)
    save_artifact(MLPClassifier(16, 512, 4, depth=3), directory, example_input=torch.randn(2, 16))
    return directory


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers for one test (see :func:`launch`); killed at teardown."""
    started: list[Server] = []

    def start(model_dir: Path, *extra: str, **options: Any) -> Server:
        server = launch(model_dir, tmp_path, *extra, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        kill(server)


@pytest.fixture(scope="session")
def example_server(artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One batching server on the example model, shared by the real-server tests."""
    server = launch(artifact, tmp_path_factory.mktemp("server"), "--max-body-bytes", "65536")
    yield server
    kill(server)
