"""Pods and Events as the API server writes them, reduced to what policies.pod_start reads."""

from __future__ import annotations

from lepton.api.times import parse_time
from lepton.controllers.kit.pod_start import pod_event, pod_start
from lepton.policies.pod_start import Waiting

SCHEDULED = "2026-11-26T20:00:00Z"
CREATED = "2026-11-26T19:59:58Z"


def epoch(value: str) -> float:
    return parse_time(value).timestamp()


def pod(status: dict, node: str | None = "node-1", **meta: object) -> dict:
    return {
        "metadata": {"name": "s-v1-abc", "uid": "u1", "creationTimestamp": CREATED, **meta},
        "spec": {"nodeName": node} if node else {},
        "status": status,
    }


SCHEDULED_TRUE = {"type": "PodScheduled", "status": "True", "lastTransitionTime": SCHEDULED}


def test_pending_with_no_container_status_waits_since_it_was_bound() -> None:
    start = pod_start(pod({"phase": "Pending", "conditions": [SCHEDULED_TRUE]}))
    assert (start.name, start.uid, start.scheduled_at) == ("s-v1-abc", "u1", epoch(SCHEDULED))
    assert not (start.started)
    assert not (start.initializing)
    assert not (start.deleting)


def test_not_bound_is_not_waiting_to_start() -> None:
    unschedulable = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
    assert pod_start(pod({"phase": "Pending", "conditions": [unschedulable]}, node=None)).scheduled_at is None


def test_bound_by_hand_without_the_condition_counts_from_creation() -> None:
    assert pod_start(pod({"phase": "Pending"})).scheduled_at == epoch(CREATED)


def test_container_states() -> None:
    creating = {"name": "server", "state": {"waiting": {"reason": "ContainerCreating"}}}
    pulling = {
        "name": "server",
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
    }
    init_running = {"name": "fetch", "state": {"running": {"startedAt": SCHEDULED}}}
    init_done = {"name": "fetch", "state": {"terminated": {"exitCode": 0}}}
    crashed = {
        "name": "server",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1}},
    }
    base = {"phase": "Pending", "conditions": [SCHEDULED_TRUE]}
    start = pod_start(pod({**base, "containerStatuses": [creating]}))
    assert start.waiting == (Waiting("server", "ContainerCreating"),)
    assert not start.started
    start = pod_start(pod({**base, "initContainerStatuses": [init_running], "containerStatuses": [creating]}))
    assert start.initializing
    assert not start.started
    start = pod_start(pod({**base, "initContainerStatuses": [init_done], "containerStatuses": [pulling]}))
    assert not start.initializing
    assert not start.started
    assert start.waiting == (Waiting("server", "ImagePullBackOff", "Back-off pulling image"),)
    assert pod_start(pod({**base, "containerStatuses": [crashed]})).started  # it ran: not a start problem
    assert pod_start(pod(base, deletionTimestamp=SCHEDULED)).deleting


def test_the_schedulers_event_is_not_newer_than_a_kubelet_failure_of_the_same_second() -> None:
    scheduled = {"type": "Normal", "reason": "Scheduled", "eventTime": "2026-11-26T20:00:01.734201Z"}
    failed = {"type": "Warning", "reason": "FailedMount", "lastTimestamp": "2026-11-26T20:00:01Z"}
    assert pod_event(scheduled).at == pod_event(failed).at


def test_an_events_time_is_when_it_was_last_seen() -> None:
    repeated = {
        "type": "Warning",
        "reason": "FailedMount",
        "message": "m",
        "firstTimestamp": "2026-11-26T20:00:01Z",
        "lastTimestamp": "2026-11-26T20:02:09Z",
        "count": 5,
    }
    assert pod_event(repeated).at == epoch("2026-11-26T20:02:09Z")
    series = {
        "type": "Warning",
        "reason": "FailedMount",
        "eventTime": "2026-11-26T20:00:01.000000Z",
        "series": {"count": 3, "lastObservedTime": "2026-11-26T20:03:00.500000Z"},
    }
    event = pod_event(series)
    assert event.at == epoch("2026-11-26T20:03:00Z")  # whole seconds, as the kubelet's
    assert (event.type, event.reason, event.message) == ("Warning", "FailedMount", "")
