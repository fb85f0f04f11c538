"""Watched objects reduced to index values, and admission over the indices."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace

import pytest

from lepton.controllers.training.context import Created, Wakeups
from lepton.controllers.training.indices import Indices, tj_pods, tj_priorities
from lepton.controllers.training.observe import NodeInfo, bound_gpus, node_info, placement, pod_state
from lepton.controllers.training.pass_inputs import JobSummary, Observed, decide
from lepton.controllers.training.queue import Queue
from lepton.policies.placement import Placement, Toleration
from lepton.policies.status import Phase, PodState


def pod_body(phase="Running", node="gpu-0", index="0", *, exit_code=None, deleting=False, reason=None):
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True"}]}
    if exit_code is not None:
        status["containerStatuses"] = [
            {
                "name": "trainer",
                "state": {
                    "terminated": {
                        "exitCode": exit_code,
                        "message": "{}",
                        "finishedAt": "2026-01-01T00:00:00Z",
                    }
                },
            }
        ]
    if reason:
        status["reason"] = reason
    meta = {
        "name": f"j-worker-{index}",
        "namespace": "ns",
        "labels": {
            "lepton.ai/job-name": "j",
            "lepton.ai/replica-index": index,
            "lepton.ai/restart-attempt": "2",
        },
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {
            "nodeName": node,
            "containers": [{"name": "trainer", "resources": {"limits": {"nvidia.com/gpu": "8"}}}],
        },
        "status": status,
    }


def pinned(body, reason):
    """``body`` as the operator pins it, with kube-scheduler's PodScheduled condition (None: none yet)."""
    body["metadata"]["annotations"] = {"lepton.ai/pinned-node": "gpu-3"}
    if reason is not None:
        body["status"]["conditions"].append({"type": "PodScheduled", "status": "False", "reason": reason})
    return body


POD_CASES = [
    ("running", pod_body(), {"phase": "Running", "ready": True, "exit_code": None, "attempt": 2, "gpus": 8}),
    ("failed with code", pod_body("Failed", exit_code=137), {"phase": "Failed", "exit_code": 137}),
    (
        "evicted is pod loss",
        pod_body("Failed", exit_code=137, reason="Evicted"),
        {"exit_code": None, "reason": "Evicted"},
    ),
    ("deleting", pod_body(deleting=True), {"deleting": True}),
    (
        "rank 0 keeps its message",
        pod_body("Succeeded", exit_code=0),
        {"termination_message": "{}", "finished_at": 1767225600.0},
    ),
    ("other ranks drop it", pod_body("Succeeded", index="1", exit_code=0), {"termination_message": None}),
    (
        "not pinned, scheduled",
        pod_body(),
        {"pinned": None, "unschedulable": False, "unplaceable": False, "placed_on": "gpu-0"},
    ),
    (
        "pinned by the operator to a node that cannot take it",
        pinned(pod_body("Pending", node=None), "Unschedulable"),
        {"pinned": "gpu-3", "unschedulable": True, "unplaceable": True, "placed_on": None},
    ),
    (
        "pinned, not tried yet",
        pinned(pod_body("Pending", node=None), None),
        {"pinned": "gpu-3", "unschedulable": False, "unplaceable": False, "placed_on": "gpu-3"},
    ),
    (
        "pinned and gated (another reason than Unschedulable)",
        pinned(pod_body("Pending", node=None), "SchedulingGated"),
        {"pinned": "gpu-3", "unschedulable": False},
    ),
]


@pytest.mark.parametrize("case", POD_CASES, ids=[c[0] for c in POD_CASES])
def test_pod_state(case):
    _, body, expected = case
    state = pod_state(body)
    assert state is not None
    assert {k: getattr(state, k) for k in expected} == expected


def test_unlabelled_pod_is_not_a_worker_and_finished_pods_hold_no_gpus():
    assert pod_state({"metadata": {"name": "x", "labels": {}}}) is None
    assert bound_gpus(pod_body()) == ("gpu-0", 8)
    assert bound_gpus(pod_body("Succeeded", exit_code=0)) is None
    assert bound_gpus(pod_body(node=None)) is None


def test_node_info_and_placement():
    node = node_info(
        {
            "metadata": {"name": "n", "labels": {"a": "b"}},
            "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}], "unschedulable": True},
            "status": {
                "allocatable": {"nvidia.com/gpu": "8"},
                "conditions": [{"type": "Ready", "status": "False"}],
            },
        }
    )
    assert (node.allocatable_gpus, node.ready, node.unschedulable) == (8, False, True)
    assert placement(
        {"nodeSelector": {"a": "b"}, "tolerations": [{"key": "k", "operator": "Exists"}]}
    ) == Placement.of(
        {"a": "b"},
        [Toleration("k", "Exists")],
    )


def summary(key, phase=None, created=0.0, replicas=2, priority_class=None):
    return JobSummary(key, key, created, replicas, 8, Placement(), priority_class, phase, False, True)


def priority_class(name, value, global_default=False):
    body = {"metadata": {"name": name}, "value": value, "globalDefault": global_default}
    return asyncio.run(tj_priorities(body=body))


@pytest.mark.parametrize(
    ("default", "admitted"),
    [(100, ("ns/unnamed",)), (0, ("ns/low",))],
    ids=["globalDefault above the named class", "no globalDefault: an unnamed job has 0"],
)
def test_queue_ranks_jobs_without_a_class_by_the_global_default(default, admitted):
    priorities = {**priority_class("low", 1)}
    if default:
        priorities |= priority_class("everyone", default, global_default=True)
    jobs = [
        summary("ns/low", Phase.QUEUED, created=1, priority_class="low"),
        summary("ns/unnamed", created=2),
    ]
    nodes = [NodeInfo(f"gpu-{i}", 8, True) for i in range(2)]
    observed = Observed(jobs=jobs, pods_by_job={}, nodes=nodes, gpus_by_node={}, priorities=priorities)
    assert decide(observed, {}).admitted == admitted


def test_queue_counts_unbound_pods_of_admitted_jobs():
    nodes = [NodeInfo(f"gpu-{i}", 8, True) for i in range(3)]
    observed = Observed(
        jobs=[summary("ns/running", Phase.RUNNING), summary("ns/waiting", Phase.QUEUED, created=5)],
        pods_by_job={"ns/running": [PodState("running-worker-0", 0, 0, "Running", node="gpu-0")]},
        nodes=nodes,
        gpus_by_node={"gpu-0": [8]},
        priorities={},
    )
    decision = decide(observed, {})
    # gpu-0 is used, one of the running job's pods is not bound yet and takes gpu-1: one node left.
    assert decision.waiting == {"ns/waiting": "needs 2 pods x 8 GPUs; 1 fit now"}


def test_pinned_pods_not_bound_yet_hold_their_node_not_one_best_fit_would_choose_again():
    """ns/a's worker 1 is pinned to gpu-2 and not bound yet. Placed again by best fit it would take
    gpu-1 (equal nodes go by name), and ns/b would be pinned to gpu-2, where ns/a's worker binds."""
    nodes = [NodeInfo(f"gpu-{i}", 8, True) for i in range(3)]
    pods = [
        PodState("a-worker-0", 0, 0, "Running", node="gpu-0"),
        PodState("a-worker-1", 1, 0, "Pending", pinned="gpu-2"),
    ]

    def decided(pods):
        observed = Observed(
            jobs=[summary("ns/a", Phase.ADMITTED), summary("ns/b", Phase.QUEUED, created=5, replicas=1)],
            pods_by_job={"ns/a": pods},
            nodes=nodes,
            gpus_by_node={"gpu-0": [8]},
            priorities={},
        )
        return decide(observed, {}).nodes.get("ns/b")

    assert decided(pods) == ("gpu-1",)
    # Its node cannot take it (it is unpinned next): placed again like any pod not bound yet (gpu-1).
    assert decided([pods[0], replace(pods[1], unschedulable=True)]) == ("gpu-2",)
    assert decided([pods[0], replace(pods[1], pinned="gpu-1")]) == ("gpu-2",)


def test_queue_trusts_its_own_release_over_a_lagging_index():
    nodes = [NodeInfo(f"gpu-{i}", 8, True) for i in range(2)]
    jobs = [summary("ns/done", Phase.RUNNING), summary("ns/next", Phase.QUEUED, created=5)]
    observed = Observed(jobs=jobs, pods_by_job={}, nodes=nodes, gpus_by_node={}, priorities={})
    assert decide(observed, {}).admitted == (), "the index alone says ns/done still holds both nodes"
    assert decide(observed, {"ns/done": ("ns/done", False)}).admitted == ("ns/next",)


def test_jobs_being_deleted_need_nothing():
    nodes = [NodeInfo(f"gpu-{i}", 8, True) for i in range(2)]
    gone = JobSummary(
        "ns/gone", "ns/gone", 0.0, 2, 8, Placement(), None, Phase.RUNNING, False, True, deleting=True
    )
    observed = Observed(
        jobs=[gone, summary("ns/next", Phase.QUEUED)],
        pods_by_job={},
        nodes=nodes,
        gpus_by_node={},
        priorities={},
    )
    assert decide(observed, {}).admitted == ("ns/next",)


def test_nodes_count_as_lost_only_after_the_grace_period():
    nodes = [
        NodeInfo("ok", 8, True, ready_changed=0.0),
        NodeInfo("long-gone", 8, False, ready_changed=100.0),
        NodeInfo("blip", 8, False, ready_changed=150.0),
    ]
    indices = Indices(pods={}, gpu_pods={}, nodes={None: nodes}, jobs={}, priorities={})
    assert indices.lost_nodes(now=170.0, grace=60.0) == (frozenset({"long-gone"}), 210.0)
    assert indices.lost_nodes(now=220.0, grace=60.0) == (frozenset({"long-gone", "blip"}), None)


@pytest.mark.parametrize(
    ("before", "event", "at_once"),
    [
        # (the job's workers in the pods index, by index: phase), the event's worker and phase
        ({"0": "Running", "1": "Running"}, ("0", "Succeeded"), False),  # another worker still runs
        ({"0": "Succeeded", "1": "Running"}, ("1", "Succeeded"), True),  # the last to stop
        ({"0": "Failed", "1": "Running"}, ("1", "Failed"), True),
        ({"0": "Succeeded", "1": "Pending"}, ("1", "Running"), False),  # a start is a burst's first event
        ({"0": "Running"}, ("0", "Succeeded"), True),  # the index holds the event's pod as it was
        ({}, ("0", "Succeeded"), True),
    ],
)
def test_the_last_worker_to_stop_wakes_its_job_at_once(before, event, at_once):
    """Its GPUs stand idle until the job's reconcile releases them: that reconcile skips the
    debounce that merges a burst of pod events (controllers.training.loops)."""
    training = stopping_worker(Queue(), before, event)
    assert training.wakeups.event("ns/j").is_set(), "every change of a worker wakes its job"
    assert training.wakeups.at_once("ns/j") is at_once


def stopping_worker(queue, before, event, job=None):
    """The pods index handler given ``event`` for a worker of ns/j (the index as ``before``; ``job``
    its job in the jobs index), a job ns/waiting in the queue; the training context it woke jobs in."""
    wakeups = Wakeups()
    for key in ("ns/j", "ns/waiting"):
        wakeups.event(key)
    training = SimpleNamespace(created=Created(), wakeups=wakeups, queue=queue)
    index = {"ns/j": [pod_state(pod_body(phase, index=i)) for i, phase in before.items()]}
    body = pod_body(event[1], index=event[0], exit_code=0 if event[1] == "Succeeded" else None)
    jobs = {None: [summary("ns/waiting", phase="Queued"), *([job] if job else [])]}
    asyncio.run(tj_pods(body=body, memo=SimpleNamespace(training=training), tj_pods=index, tj_jobs=jobs))
    return training


@pytest.mark.parametrize(
    ("decided", "phase", "deleting", "wakes"),
    [
        # (what this process last decided of ns/j, its phase in the jobs index, being deleted)
        ("holds", "Running", False, False),  # its reconcile releases the GPUs, and wakes them then
        ("released", "Running", False, True),  # released (done, failed): the index lags our write
        (None, "Failed", False, True),  # its workers stop after it
        (None, "Running", False, False),  # the operator restarted: as the pass counts it, by phase
        ("holds", "Running", True, True),  # being deleted: the pass counts nothing of it
    ],
)
def test_a_stopped_worker_wakes_the_waiting_jobs_only_when_its_gpus_are_free(decided, phase, deleting, wakes):
    """A job holding its admission counts its stopped workers' GPUs as its own until its reconcile
    releases them, and that reconcile wakes the waiting jobs: the stop itself waking every waiting
    job would have them all look before anything is free. Where the admission pass counts nothing
    of the job, the GPUs are free as each worker stops."""
    queue = Queue()
    if decided == "holds":
        queue.hold("ns/j", "ns/j")
    elif decided == "released":
        queue.release("ns/j", "ns/j")
    job = replace(summary("ns/j", phase=phase), deleting=deleting)
    training = stopping_worker(queue, {"0": "Succeeded", "1": "Running"}, ("1", "Succeeded"), job)
    assert training.wakeups.event("ns/waiting").is_set() is wakes


def test_the_job_that_runs_the_pass_once_gpus_are_released_is_one_queued_for_them():
    """The first of these is woken at once when a job releases its GPUs: its reconcile must run an
    admission pass (a job in its restart backoff, suspended, being deleted or without gang admission
    may not)."""
    jobs = [
        summary("ns/restarting", phase="Restarting", created=1.0),
        replace(summary("ns/deleting", phase="Queued", created=2.0), deleting=True),
        replace(summary("ns/suspended", phase="Queued", created=3.0), suspend=True),
        replace(summary("ns/no-gang", phase="Queued", created=4.0), gang=False),
        summary("ns/late", phase="Queued", created=9.0),
        summary("ns/new", phase=None, created=6.0),
        summary("ns/running", phase="Running", created=0.5),
        summary("ns/queued", phase="Queued", created=5.0),
    ]
    indices = Indices(pods={}, gpu_pods={}, nodes={None: []}, jobs={None: jobs}, priorities={})
    assert indices.queued_jobs() == ["ns/queued", "ns/new", "ns/late"]
