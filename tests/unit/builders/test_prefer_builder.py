"""Packing worker pods where admission placed them: the preferred node affinity the builder adds."""

from __future__ import annotations

from typing import Any

import pytest

from lepton.builders.prefer import preferring


def on(node: str) -> dict[str, Any]:
    return {
        "weight": 100,
        "preference": {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]},
    }


ZONE = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}
USER_PREFERRED = {"weight": 7, "preference": {"matchExpressions": [ZONE]}}
REQUIRED = {"nodeSelectorTerms": [{"matchExpressions": [ZONE]}]}

CASES = [
    ("no node placed: the spec is untouched", {"containers": []}, None, {"containers": []}),
    (
        "no affinity: one preferred term for the node",
        {},
        "gpu-3",
        {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [on("gpu-3")]}}},
    ),
    (
        "the user's preferred and required terms and other affinities are kept",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": REQUIRED,
                    "preferredDuringSchedulingIgnoredDuringExecution": [USER_PREFERRED],
                },
                "podAntiAffinity": {"k": "v"},
            }
        },
        "gpu-1",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": REQUIRED,
                    "preferredDuringSchedulingIgnoredDuringExecution": [USER_PREFERRED, on("gpu-1")],
                },
                "podAntiAffinity": {"k": "v"},
            }
        },
    ),
]


@pytest.mark.parametrize(("scenario", "spec", "node", "expected"), CASES, ids=[c[0] for c in CASES])
def test_preferring(scenario: str, spec: dict[str, Any], node: str | None, expected: dict[str, Any]) -> None:
    before = repr(spec)
    assert preferring(spec, node) == expected
    assert repr(spec) == before, "the template is not changed in place"
