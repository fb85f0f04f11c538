"""Every condition reason and phase the operator can write is explained by `lepton describe`: a new
enum member without an explanation fails here."""

from __future__ import annotations

import pytest

from lepton import api
from lepton.client import explain

ENUMS = [
    ("TrainingJob", api.TrainingJobReason),
    ("TrainingJob", api.TrainingJobPhase),
    ("ModelVersion", api.ModelVersionReason),
    ("ModelVersion", api.ModelVersionPhase),
    ("ModelVersion", api.ModelVersionConditionType),
    ("InferenceService", api.InferenceServiceReason),
    ("InferenceService", api.InferenceServicePhase),
]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [(kind, member.value) for kind, enum in ENUMS for member in enum],
    ids=str,
)
def test_every_reason_is_explained(kind, reason):
    assert explain.explain(kind, reason), (
        f"{kind} reason {reason} has no explanation in lepton/client/explain.py"
    )


def test_no_explanation_for_a_reason_the_operator_never_writes():
    """Stale entries would explain reasons that no longer exist."""
    for kind, table in explain.BY_KIND.items():
        known = {m.value for k, enum in ENUMS if k == kind for m in enum}
        assert set(table) <= known, f"{kind}: {sorted(set(table) - known)} are not reasons of lepton.api"


def test_unknown_reason_from_a_newer_operator_is_empty_not_an_error():
    assert explain.explain("TrainingJob", "SomethingNew") == ""
    assert explain.explain("Pod", "Running") == ""
