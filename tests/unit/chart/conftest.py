"""Session fixtures: the pinned helm and a renderer of charts/lepton."""

from __future__ import annotations

import pytest

from support.chart import Render, build_helm, renderer


@pytest.fixture(scope="session")
def helm() -> str:
    return build_helm()


@pytest.fixture(scope="session")
def render(helm: str) -> Render:
    return renderer(helm)
