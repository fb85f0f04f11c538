"""The shell around queue admission: ClusterQueues and ResourceQuotas as the indices keep them, the
window after an admission in which a quota's used may lag the pods index, Volcano's queue names."""

from __future__ import annotations

import asyncio

from lepton.controllers.training.observe import NodeInfo
from lepton.controllers.training.pass_inputs import JobSummary, Observed
from lepton.controllers.training.queue import QUOTA_SETTLE_S, Queue
from lepton.controllers.training.quotas import queue_policy, resource_quota
from lepton.policies.placement import Placement
from lepton.policies.queues import QueuePolicy, Quota
from lepton.policies.status import Phase, PodState


def test_resource_quota_keeps_gpus_and_pods_and_leaves_scoped_quotas_out():
    body = {
        "metadata": {"namespace": "ns", "name": "q"},
        "spec": {"hard": {"requests.nvidia.com/gpu": "16", "pods": "10", "cpu": "8"}},
        "status": {"used": {"requests.nvidia.com/gpu": "8", "pods": "1"}},
    }
    assert resource_quota(body) == Quota("ns", "q", gpus_hard=16, gpus_used=8, pods_hard=10, pods_used=1)
    assert resource_quota({**body, "spec": {"hard": {"cpu": "8"}}}) is None, "limits neither GPUs nor pods"
    scoped = {**body, "spec": {**body["spec"], "scopes": ["BestEffort"]}}
    assert resource_quota(scoped) is None
    fresh = {**body, "status": {}}  # the quota controller has not written used yet
    assert resource_quota(fresh) == Quota("ns", "q", gpus_hard=16, pods_hard=10)


def test_queue_policy_from_a_cluster_queue():
    body = {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "ClusterQueue",
        "metadata": {"name": "team"},
        "spec": {"queueingStrategy": "StrictFIFO", "nominalQuota": {"gpus": 32}},
    }
    assert queue_policy(body) == QueuePolicy("team", strict=True, nominal_gpus=32, reservation_after=300.0)
    assert queue_policy({**body, "spec": {"queueingStrategy": "Sometimes"}}) is None


def job(
    key: str, replicas: int, phase: Phase | None = None, created: float = 0.0, **kw: object
) -> JobSummary:
    return JobSummary(key, key, created, replicas, 8, Placement(), None, phase, False, True, **kw)  # type: ignore[arg-type]


NODES = [NodeInfo(f"gpu-{i}", 8, True) for i in range(4)]


def test_a_quota_that_lags_the_pods_index_cannot_let_a_second_gang_in():
    queue, now = Queue(), 1000.0
    quota = Quota("ns", "gpus", gpus_hard=16)
    first = job("ns/first", 1, created=1)
    observed = Observed([first], {}, NODES, {}, {}, quotas=[quota], now=now)
    admitted, _ = asyncio.run(queue.admit("ns/first", "ns/first", observed))
    assert admitted.admitted

    # The pods index shows first's pod; the quota's used does not count it yet (0 of 16).
    pods = {"ns/first": [PodState("first-worker-0", 0, 0)]}
    second = job("ns/second", 2, created=2)
    lagging = Observed([first, second], pods, NODES, {}, {}, quotas=[quota], now=now + 0.5)
    waits, _ = asyncio.run(queue.admit("ns/second", "ns/second", lagging))
    assert not waits.admitted
    assert waits.reason == "WaitingForQuota"
    assert waits.message == "ResourceQuota gpus: needs 16 requests.nvidia.com/gpu, 8 of 16 used"
    assert waits.requeue_after == QUOTA_SETTLE_S, "it looks again once the window ends"

    # After the window the quota's used shows the pod: the verdict is the same, with no timer.
    settled = Quota("ns", "gpus", gpus_hard=16, gpus_used=8, pods_used=1)
    later = Observed([first, second], pods, NODES, {}, {}, quotas=[settled], now=now + QUOTA_SETTLE_S + 1)
    waits, _ = asyncio.run(queue.admit("ns/second", "ns/second", later))
    assert (waits.admitted, waits.requeue_after) == (False, None)
    assert waits.message == "ResourceQuota gpus: needs 16 requests.nvidia.com/gpu, 8 of 16 used"


def test_a_volcano_queue_name_is_a_cluster_queue_only_when_one_exists():
    volcano = job("ns/v", 1, queue="research", queue_optional=True)
    lepton = job("ns/l", 1, queue="research")
    observed = Observed([volcano, lepton], {}, NODES, {}, {}, now=1.0)
    admitted, _ = asyncio.run(Queue().admit("ns/v", "ns/v", observed))
    assert admitted.admitted, "Volcano's queue: Lepton's default queue admits it"
    missing, _ = asyncio.run(Queue().admit("ns/l", "ns/l", observed))
    assert (missing.admitted, missing.reason) == (False, "QueueNotFound")
    full = QueuePolicy("research", nominal_gpus=0)
    with_queue = Observed([volcano], {}, NODES, {}, {}, queues={"research": full}, now=1.0)
    waits, _ = asyncio.run(Queue().admit("ns/v", "ns/v", with_queue))
    assert (waits.admitted, waits.reason) == (False, "WaitingForQuota")
