"""The testdata recorder's fixtures: the serving suite's operator (it runs every controller),
Prometheus and model server (for scale to zero), and the recorder itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from argokit import Recorder

from integration.serving.conftest import model_server, operator, prometheus  # noqa: F401  reused as they are
from support.luahealth import luahealth_binary


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(luahealth_binary(), tmp_path)
