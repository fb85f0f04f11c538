"""Fixtures of the activator tests (the processes themselves: activator_harness)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from activator_harness import FakeOperator, Process

from lepton.artifacts import MLPClassifier, save_artifact


@pytest.fixture
def fake_operator() -> Iterator[FakeOperator]:
    fake = FakeOperator()
    server = fake.serve()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("activator-model") / "model"
    torch.manual_seed(0)
    save_artifact(MLPClassifier(16, 32, 4), directory, example_input=torch.randn(2, 16))
    return directory


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Processes a test started; killed at teardown whatever happened."""
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()
