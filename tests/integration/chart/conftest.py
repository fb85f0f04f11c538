"""Fixtures of the chart's integration tests: the pinned helm aimed at the local cluster."""

from __future__ import annotations

import pytest
from chartkit import Helm

from support.chart import build_helm


@pytest.fixture(scope="session")
def helm(kubeconfig: str) -> Helm:
    return Helm(build_helm(), kubeconfig)
