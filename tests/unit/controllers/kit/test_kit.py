"""The controllers' kit: the status write's one rule, the freshest body, and whose child a name is."""

from __future__ import annotations

import asyncio

import pytest

from lepton.controllers.kit.objects import Objects, fresher
from lepton.controllers.kit.owners import foreign_holder
from lepton.controllers.kit.status import status_patch


@pytest.mark.parametrize(
    ("current", "desired", "expected"),
    [
        (None, {"phase": "Ready"}, {"phase": "Ready"}),
        ({"phase": "Ready"}, {"phase": "Ready"}, None),
        ({"phase": "Ready", "url": "u"}, {"phase": "Ready", "url": None}, {"url": None}),
        ({"phase": "Ready"}, {"phase": "Ready", "url": None}, None),
        # Keys the controller does not manage (another writer's) are never deleted.
        ({"phase": "Ready", "canary": {"weight": 20}}, {"phase": "Degraded"}, {"phase": "Degraded"}),
        # Below a managed key the whole value is the controller's: what it dropped is deleted.
        (
            {"autoscaler": {"desiredReplicas": 1, "memory": {"failures": 1, "lastScaleTime": 5.0}}},
            {"autoscaler": {"desiredReplicas": 1, "memory": {"lastScaleTime": 5.0}}},
            {"autoscaler": {"desiredReplicas": 1, "memory": {"lastScaleTime": 5.0, "failures": None}}},
        ),
        ({"autoscaler": {"memory": {"failures": 1}}}, {"autoscaler": {}}, {"autoscaler": {"memory": None}}),
        ({"traffic": [{"version": "v1"}]}, {"traffic": [{"weight": 1}]}, {"traffic": [{"weight": 1}]}),
    ],
    ids=[
        "first-write",
        "unchanged",
        "none-deletes",
        "none-of-absent-is-nothing",
        "unmanaged-left-alone",
        "nested-dropped-deleted",
        "nested-emptied",
        "lists-replaced-whole",
    ],
)
def test_status_patch(current, desired, expected):
    assert status_patch(current, desired) == expected


def test_fresher_prefers_our_newer_write_of_the_same_object():
    ours = {"metadata": {"uid": "a", "resourceVersion": "12"}}
    assert fresher({"metadata": {"uid": "a", "resourceVersion": "11"}}, ours) is ours
    assert fresher({"metadata": {"uid": "a", "resourceVersion": "13"}}, ours) is not ours
    assert fresher({"metadata": {"uid": "b", "resourceVersion": "99"}}, ours) is not ours
    assert fresher({"metadata": {"uid": "a", "resourceVersion": "x"}}, ours) is not ours
    assert fresher({"metadata": {"uid": "a"}}, None)["metadata"]["uid"] == "a"


def owned(*owners):
    return {"metadata": {"name": "svc", "ownerReferences": list(owners)}}


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, None),
        (owned({"kind": "TrainingJob", "name": "j", "uid": "me", "controller": True}), None),
        (
            owned({"kind": "InferenceService", "name": "iris", "uid": "other", "controller": True}),
            "InferenceService iris",
        ),
        (owned(), "no controller"),
        (owned({"kind": "ConfigMap", "name": "c", "uid": "other"}), "no controller"),
    ],
    ids=["absent", "ours", "another-controller", "unowned", "owned-without-controller"],
)
def test_foreign_holder(existing, expected):
    assert foreign_holder(existing, "me") == expected


def _body(uid: str, deleting: bool = False) -> dict:
    meta = {"name": "a", "namespace": "n", "uid": uid, "resourceVersion": "1"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta}


@pytest.mark.parametrize(
    ("gone", "body", "runs"),
    [
        (None, _body("u1"), True),
        (None, _body("u1", deleting=True), False),
        # A stale body of the deleted object (a child's event read from an index) after the DELETED
        # event: not reconciled, so it neither acts nor reports (metrics) for it again.
        ("u1", _body("u1"), False),
        # A new object of the same name is reconciled.
        ("u1", _body("u2"), True),
    ],
    ids=["live", "deleting", "stale-after-deletion", "recreated"],
)
def test_locked_skips_deleted_objects(gone, body, runs):
    objects = Objects()
    if gone:
        objects.forget("n/a", gone)
    ran: list[str] = []

    async def reconcile(fresh):
        ran.append(fresh["metadata"]["uid"])
        return "done"

    result = asyncio.run(objects.locked("n/a", body, reconcile))
    assert (result == "done", ran == [body["metadata"]["uid"]]) == (runs, runs)
