"""The InferenceService plan's sources, and when a child must be applied (pure tables)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lepton.api import ModelVersionPhase, RolloutStrategy
from lepton.policies.inference import DeploymentState, needs_apply, plan, scaled_by_hand
from lepton.policies.models import Resolution, Unresolved, VersionInfo

CANARY = RolloutStrategy.CANARY


def to(version: str) -> Resolution:
    return Resolution(VersionInfo(f"iris-{version}", "iris", version, ModelVersionPhase.READY))


MISSING = Resolution(None, Unresolved.NOT_FOUND, "no ModelVersion of model 'iris' has version 'v9'")


def dep(version: str, replicas: int = 2, **kw) -> DeploymentState:
    return DeploymentState(
        name=f"iris-{version}", version=version, replicas=replicas, current=replicas, ready=replicas,
        available=replicas, updated=replicas, generation=1, observed_generation=1, **kw,
    )  # fmt: skip


def with_uid(resolution: Resolution, uid: str) -> Resolution:
    assert resolution.version is not None
    return Resolution(replace(resolution.version, uid=uid))


@pytest.mark.parametrize(
    ("resolution", "recorded", "deployments", "expected"),
    [
        (with_uid(to("v1"), "u1"), None, [], {"v1": "u1"}),
        (with_uid(to("v2"), "u2"), "v1", [dep("v1", modelversion_uid="u1")], {"v2": "u2", "v1": "u1"}),
        # Resolved again after its ModelVersion was recreated: the new object is the source.
        (with_uid(to("v1"), "u1-new"), "v1", [dep("v1", modelversion_uid="u1")], {"v1": "u1-new"}),
        # The reference is broken: the running version keeps the ModelVersion it was made from.
        (MISSING, "v1", [dep("v1", modelversion_uid="u1")], {"v1": "u1"}),
        # Nothing says what the running Deployment was made from: it is left as it is.
        (MISSING, "v1", [dep("v1")], {}),
    ],
    ids=["new", "rolling-over", "recreated-namesake", "broken-reference", "unknown-source"],
)
def test_plan_carries_the_modelversion_each_deployment_is_built_from(
    resolution, recorded, deployments, expected
):
    decided = plan(
        replicas=2,
        strategy=CANARY,
        resolution=resolution,
        recorded_version=recorded,
        deployments=deployments,
        service_selects=recorded,
    )
    assert decided.sources == expected


@pytest.mark.parametrize(
    ("desired", "observed", "last_applied", "expected"),
    [
        ("h1", None, None, True),
        ("h1", "h0", None, True),
        ("h1", "h0", "h1", False),  # just applied; the watch has not caught up
        ("h1", "h1", "h1", False),
        ("h1", "h1", None, False),  # a restarted operator finds it as it wants it
        ("h1", None, "h1", True),  # deleted behind our back
        ("h2", "h1", "h1", True),  # the spec changed since our last apply
    ],
    ids=["missing", "differs", "watch-lags", "same", "same-after-restart", "deleted", "changed-again"],
)
def test_needs_apply(desired, observed, last_applied, expected):
    assert needs_apply(desired, observed, last_applied) is expected


@pytest.mark.parametrize(
    ("observed", "desired", "replicas", "expected"),
    [
        (None, "h1", 2, False),
        (dep("v1", 2, applied_hash="h1"), "h1", 2, False),
        (dep("v1", 5, applied_hash="h1"), "h1", 2, True),  # `kubectl scale` to 5: put back
        (dep("v1", 5, applied_hash="h0"), "h1", 2, False),  # our template changed: a plain apply
    ],
    ids=["missing", "as-applied", "scaled-by-hand", "template-changed"],
)
def test_scaled_by_hand(observed, desired, replicas, expected):
    assert scaled_by_hand(observed, desired, replicas) is expected
