"""Resolution of an InferenceService's model reference, and version ordering."""

from __future__ import annotations

import pytest

from lepton.api import ModelVersionPhase
from lepton.policies.models import Unresolved, VersionInfo, highest, resolve, version_key

READY, FAILED, VERIFYING = ModelVersionPhase.READY, ModelVersionPhase.FAILED, ModelVersionPhase.VERIFYING


def mv(
    version: str, phase: ModelVersionPhase | None, *, model: str = "iris", created: str = "", **kw
) -> VersionInfo:
    return VersionInfo(
        name=f"{model}-{version}", model=model, version=version, phase=phase, created=created, **kw
    )


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        (["v1", "v2", "v10"], "v10"),
        (["1", "9", "10"], "10"),
        (["2024-01-31", "2024-02-01"], "2024-02-01"),
        (["v1-rc1", "v1-rc2", "v1"], "v1-rc2"),
        (["alpha", "beta"], "beta"),
        (["v2", "v2a"], "v2a"),
    ],
    ids=["numbers-in-text", "plain-numbers", "dates", "release-candidates", "words", "suffix"],
)
def test_highest_version_is_natural_order(versions, expected):
    found = highest(mv(v, READY) for v in versions)
    assert found is not None
    assert found.version == expected


def test_equal_versions_fall_back_to_creation_time():
    older = VersionInfo("a", "iris", "v1", READY, created="2026-01-01T00:00:00Z")
    newer = VersionInfo("b", "iris", "v01", READY, created="2026-01-02T00:00:00Z")
    assert version_key("v1") == version_key("v01")
    assert highest([newer, older]) == newer


@pytest.mark.parametrize(
    ("candidates", "ref", "version", "reason", "message"),
    [
        ([mv("v1", READY), mv("v2", READY)], "latest", "v2", None, ""),
        ([mv("v1", READY), mv("v2", VERIFYING), mv("v3", FAILED)], "latest", "v1", None, ""),
        ([mv("v1", READY), mv("v9", READY, model="other")], "latest", "v1", None, ""),
        ([mv("v1", READY), mv("v2", READY, deleting=True)], "latest", "v1", None, ""),
        ([mv("v1", READY), mv("v2", READY)], "v1", "v1", None, ""),
        ([], "latest", None, Unresolved.NOT_FOUND, "no ModelVersion of model 'iris' exists"),
        ([mv("v1", READY, model="other")], "latest", None, Unresolved.NOT_FOUND, "of model 'iris' exists"),
        (
            [mv("v1", READY)],
            "v2",
            None,
            Unresolved.NOT_FOUND,
            "no ModelVersion of model 'iris' has version 'v2'",
        ),
        (
            [mv("v1", FAILED, message="digest mismatch: x")],
            "v1",
            None,
            Unresolved.FAILED,
            "ModelVersion iris-v1 is Failed: digest mismatch: x",
        ),
        (
            [mv("v1", VERIFYING)],
            "v1",
            None,
            Unresolved.NOT_READY,
            "iris-v1 is Verifying; waiting for verification",
        ),
        ([mv("v1", None)], "v1", None, Unresolved.NOT_READY, "iris-v1 is Pending"),
        (
            [mv("v1", FAILED), mv("v2", VERIFYING)],
            "latest",
            None,
            Unresolved.NOT_READY,
            "no Ready version of model 'iris' yet (iris-v2 is Verifying)",
        ),
        (
            [mv("v1", FAILED, message="a"), mv("v2", FAILED, message="b")],
            "latest",
            None,
            Unresolved.NOT_READY,
            "all 2 versions failed verification (iris-v1 is Failed: a; iris-v2 is Failed: b)",
        ),
    ],
    ids=[
        "latest-highest-ready",
        "latest-skips-verifying-and-failed",
        "latest-other-models-ignored",
        "latest-skips-deleting",
        "pinned-ready",
        "no-versions",
        "only-other-models",
        "pinned-missing",
        "pinned-failed",
        "pinned-verifying",
        "pinned-not-looked-at",
        "latest-only-verifying",
        "latest-all-failed",
    ],
)
def test_resolve(candidates, ref, version, reason, message):
    resolution = resolve("iris", ref, candidates)
    assert (resolution.version.version if resolution.version else None) == version
    assert resolution.reason == reason
    assert message in resolution.message
