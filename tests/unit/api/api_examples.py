"""Shared bits of the API unit tests: the examples and a deep "nothing lost" comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lepton.api import KINDS, LeptonModel

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
MODELS: dict[str, type[LeptonModel]] = {kind.__name__: kind for kind in KINDS}


def load_examples() -> list[tuple[str, dict[str, Any]]]:
    """(file name, object) for every object of every example file."""
    out = []
    for path in EXAMPLES:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((f"{path.name}:{doc['metadata']['name']}", doc))
    return out


def lost_fields(original: Any, dumped: Any, path: str = "") -> list[str]:
    """Paths of values in `original` that `dumped` lacks or changed (extra defaults are fine)."""
    if isinstance(original, dict):
        if not isinstance(dumped, dict):
            return [f"{path}: {original!r} became {dumped!r}"]
        lost = []
        for key, value in original.items():
            if key not in dumped:
                lost.append(f"{path}.{key}: missing")
            else:
                lost += lost_fields(value, dumped[key], f"{path}.{key}")
        return lost
    if isinstance(original, list):
        if not isinstance(dumped, list) or len(dumped) != len(original):
            return [f"{path}: {original!r} became {dumped!r}"]
        return [
            m
            for i, (a, b) in enumerate(zip(original, dumped, strict=True))
            for m in lost_fields(a, b, f"{path}[{i}]")
        ]
    if original != dumped or isinstance(original, bool) != isinstance(dumped, bool):
        return [f"{path}: {original!r} became {dumped!r}"]
    return []
