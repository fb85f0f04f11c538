"""A TrainingJob's desired status from a plan, and the status write's one rule."""

from __future__ import annotations

import pytest

from lepton.api import TrainingJob
from lepton.api.trainingjob import TrainingJobReason
from lepton.controllers.kit.status import status_patch
from lepton.policies.admission_messages import RESERVATION_NOTE
from lepton.policies.job_status import MODEL_CONDITION, Recorded, build_status, job_state, standing_only
from lepton.policies.lifecycle import Admission, plan
from lepton.policies.status import PodState


def job(status=None):
    body = {
        "metadata": {"name": "j", "namespace": "ns", "uid": "u", "generation": 3},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {"containers": [{"name": "trainer", "resources": {"limits": {"nvidia.com/gpu": 4}}}]}
            },
        },
    }
    if status:
        body["status"] = status
    return TrainingJob.model_validate(body)


def test_status_round_trip_is_stable():
    first = plan(job_state(job()), [], now=1000.0, admission=Admission(True))
    status = build_status(job(), first, now=1000.0)
    assert (status["phase"], status["gpus"], status["observedGeneration"]) == ("Admitted", 8, 3)
    again = job(status)
    second = plan(
        job_state(again),
        [PodState("j-worker-0", 0, 0, "Pending"), PodState("j-worker-1", 1, 0, "Pending")],
        now=1001.0,
    )
    assert status_patch(status, build_status(again, second, now=1001.0)) == {
        "replicas": {"active": 2, "ready": 0, "succeeded": 0, "failed": 0}
    }


def test_status_patch_deletes_dropped_fields():
    assert status_patch({"a": 1, "b": 2}, {"a": 1, "b": None}) == {"b": None}
    assert status_patch({"a": 1}, {"a": 1, "c": None}) is None


def test_a_result_that_recorded_no_model_version_is_a_condition_that_later_statuses_keep():
    first = plan(job_state(job()), [], now=1000.0, admission=Admission(True))
    why = "no ModelVersion recorded: termination message is not JSON: Expecting value"
    status = build_status(job(), first, now=1000.0, recorded=Recorded(False, "NoModelVersion", why))
    recorded = [c for c in status["conditions"] if c["type"] == MODEL_CONDITION]
    assert recorded == [
        {
            "type": MODEL_CONDITION,
            "status": "False",
            "reason": "NoModelVersion",
            "message": why,
            "observedGeneration": 3,
            "lastTransitionTime": "1970-01-01T00:16:40Z",
        }
    ]
    # The next reconciles say nothing about the result: the condition stays as it was written.
    again = build_status(job(status), first, now=1001.0)
    assert [c for c in again["conditions"] if c["type"] == MODEL_CONDITION] == recorded
    assert status_patch(status, again) is None


WAITS = "needs 2 pods x 4 GPUs; 0 fit now"


def queued(message=WAITS, position=3, reason=TrainingJobReason.WAITING_FOR_GPUS, status=None, now=1000.0):
    """The status a reconcile of the job (as ``status`` shows it) would write with this answer."""
    answer = Admission(False, message, reason=reason, position=position)
    return build_status(job(status), plan(job_state(job(status)), [], now=now, admission=answer), now=now)


@pytest.mark.parametrize(
    ("then", "standing"),
    [
        # (what the next reconcile is told, 5 s later), whether only where it stands changed
        ({"position": 2}, True),  # a job ahead of it was admitted
        ({"message": "needs 2 pods x 4 GPUs; 1 fit now"}, True),  # GPUs freed or taken
        ({"position": 1, "message": "needs 2 pods x 4 GPUs; 1 fit now"}, True),
        ({}, False),  # nothing changed: nothing to write
        ({"reason": TrainingJobReason.WAITING_IN_QUEUE, "message": "behind ns/big"}, False),
        ({"message": WAITS + RESERVATION_NOTE, "position": 1}, False),  # its reservation's bound starts
    ],
)
def test_where_a_queued_job_stands_is_told_apart_from_what_it_is(then, standing):
    first = queued()
    later = queued(status=first, now=1005.0, **then)
    assert standing_only(first, later) is standing


def test_a_phase_change_is_never_only_where_it_stands():
    first = queued()
    admitted = build_status(
        job(first), plan(job_state(job(first)), [], now=1005.0, admission=Admission(True)), now=1005.0
    )
    assert admitted["phase"] == "Admitted"
    assert not standing_only(first, admitted)
    assert not standing_only(None, first), "the first Queued status is written at once"
    assert not standing_only(
        queued(WAITS + RESERVATION_NOTE), queued(status=queued(WAITS + RESERVATION_NOTE), message=WAITS)
    )
