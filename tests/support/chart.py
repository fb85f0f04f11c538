"""Rendering charts/lepton with the pinned helm (built once into ~/.cache/lepton) for the chart tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import yaml

from support.paths import REPO

CHART = REPO / "charts" / "lepton"
Render = Callable[..., list[dict[str, Any]]]


def build_helm() -> str:
    out = subprocess.run(
        [str(REPO / "e2e" / "realnode" / "build-helm.sh")], stdout=subprocess.PIPE, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, "template", "lepton", str(CHART), "-n", "lepton-system", "--include-crds", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def renderer(helm: str) -> Render:
    """The rendered objects for some `--set`/`--api-versions` arguments (the render must succeed)."""

    def _render(*args: str) -> list[dict[str, Any]]:
        out = run_helm(helm, *args)
        assert out.returncode == 0, out.stderr
        return [doc for doc in yaml.safe_load_all(out.stdout) if doc]

    return _render


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]
