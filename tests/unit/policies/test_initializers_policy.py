"""The initializer step, keyed by scenario: the job and its initializer pod in, the job's plan (or
the state machine's turn), the Initialized condition and the pod actions out."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from lepton.api.common import ConditionStatus
from lepton.policies.initializers import (
    Decision,
    InitContainer,
    InitPod,
    decide,
    is_initialized,
    with_condition,
)
from lepton.policies.lifecycle import JobState
from lepton.policies.status import Phase

NOW = 1000.0
SOURCES = {"dataset": "s3://data/mnist", "model": "https://hub.example/base.safetensors"}
NEW = JobState(replicas=2)


def done(size: int = 1 << 30, **extra: object) -> str:
    return json.dumps({"fetched": True, "sizeBytes": size, "digest": "sha256:" + "ab" * 32, **extra})


def failed(kind: str, reason: str) -> str:
    return json.dumps({"fetched": False, "kind": kind, "reason": reason})


def pod(phase: str, *containers: InitContainer, reason: str = "", deleting: bool = False) -> InitPod:
    return InitPod("j-init", phase, deleting, reason, containers)


OK_DATASET = InitContainer("dataset", "terminated", 0, done(verified=True))
OK_MODEL = InitContainer("model", "terminated", 0, done(300 << 20))


@dataclass
class Case:
    scenario: str
    pod: InitPod | None
    phase: Phase | None  # the plan's phase; None: the state machine plans (workers may start)
    condition: tuple[ConditionStatus, str] | None
    job: JobState = NEW
    initialized: bool = False
    sources: dict[str, str] | None = None
    create: bool = False
    delete: bool = False
    message: str = ""


CASES = [
    Case("no initializers: the state machine alone", None, None, None, sources={}),
    Case(
        "new job: create the pod, workers wait",
        None,
        Phase.CREATED,
        (ConditionStatus.FALSE, "Initializing"),
        create=True,
        message="dataset from s3://data/mnist; model from https://hub.example/base.safetensors",
    ),
    Case(
        "pod pending",
        pod("Pending", InitContainer("dataset"), InitContainer("model")),
        Phase.CREATED,
        (ConditionStatus.FALSE, "Initializing"),
        message="pending",
    ),
    Case(
        "one fetched, one fetching: progress per initializer",
        pod("Running", OK_DATASET, InitContainer("model", "running")),
        Phase.CREATED,
        (ConditionStatus.FALSE, "Initializing"),
        message="dataset: 1.00 GiB, sha256:abababababab… verified; model: fetching from https://",
    ),
    Case(
        "both succeeded: Initialized, the state machine goes on",
        pod("Succeeded", OK_DATASET, OK_MODEL),
        None,
        (ConditionStatus.TRUE, "Initialized"),
        message="model: 300.0 MiB",
    ),
    Case(
        "digest mismatch fails the job with its reason and stops the other initializer",
        pod(
            "Running",
            InitContainer("dataset", "terminated", 4, failed("DigestMismatch", "expected x, fetched y")),
            InitContainer("model", "running"),
        ),
        Phase.FAILED,
        (ConditionStatus.FALSE, "DigestMismatch"),
        delete=True,
        message="dataset: expected x, fetched y",
    ),
    Case(
        "unreachable source",
        pod(
            "Failed",
            OK_DATASET,
            InitContainer("model", "terminated", 3, failed("SourceUnreachable", "HTTP 404")),
        ),
        Phase.FAILED,
        (ConditionStatus.FALSE, "SourceUnreachable"),
        message="model: HTTP 404",
    ),
    Case(
        "the specific reason wins over a generic one",
        pod(
            "Failed",
            InitContainer("dataset", "terminated", 1, "Traceback ... boom"),
            InitContainer("model", "terminated", 4, failed("DigestMismatch", "mismatch")),
        ),
        Phase.FAILED,
        (ConditionStatus.FALSE, "DigestMismatch"),
        message="dataset: exited with code 1: Traceback ... boom",
    ),
    Case(
        "lost termination message: the exit code says unreachable",
        pod("Failed", InitContainer("dataset", "terminated", 3, None), OK_MODEL),
        Phase.FAILED,
        (ConditionStatus.FALSE, "SourceUnreachable"),
        message="exited with code 3",
    ),
    Case(
        "a result cut at the kubelet's 4096 bytes is no JSON: the exit code says, the tail shows",
        pod(
            "Failed",
            InitContainer(
                "dataset", "terminated", 4, ('{"kind": "DigestMismatch", "reason": "' + "y" * 5000)[:4096]
            ),
            OK_MODEL,
        ),
        Phase.FAILED,
        (ConditionStatus.FALSE, "DigestMismatch"),
        message="dataset: exited with code 4: " + "y" * 512,
    ),
    Case(
        "a crash of anything else is InitializerFailed",
        pod("Failed", InitContainer("dataset", "terminated", 137, "OOMKilled"), OK_MODEL),
        Phase.FAILED,
        (ConditionStatus.FALSE, "InitializerFailed"),
        message="code 137",
    ),
    Case(
        "evicted without a verdict: delete, start again",
        pod("Failed", InitContainer("dataset"), reason="Evicted"),
        Phase.CREATED,
        (ConditionStatus.FALSE, "Initializing"),
        delete=True,
        message="Evicted; starting it again",
    ),
    Case(
        "old pod going away: wait, do not create yet",
        pod("Running", InitContainer("dataset", "running"), deleting=True),
        Phase.CREATED,
        (ConditionStatus.FALSE, "Initializing"),
    ),
    Case(
        "initialized before: restarts never fetch again",
        None,
        None,
        None,
        job=JobState(replicas=2, phase=Phase.RESTARTING, restart_count=1),
        initialized=True,
    ),
    Case(
        "finished job: nothing",
        pod("Failed", InitContainer("dataset", "terminated", 4, "x")),
        None,
        None,
        job=JobState(replicas=2, phase=Phase.FAILED),
    ),
    Case(
        "invalid spec: the state machine fails it",
        None,
        None,
        None,
        job=JobState(replicas=2, invalid="bad volume"),
    ),
    Case(
        "suspended while fetching: stop the pod, the state machine suspends",
        pod("Running", InitContainer("dataset", "running")),
        None,
        None,
        job=JobState(replicas=2, suspend=True),
        delete=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_initializer_step(case: Case) -> None:
    sources = SOURCES if case.sources is None else case.sources
    decision = decide(case.job, sources, case.pod, initialized=case.initialized, now=NOW)
    assert (decision.plan.phase if decision.plan else None) == case.phase
    assert (decision.condition[:2] if decision.condition else None) == case.condition
    assert (decision.create, decision.delete) == (case.create, case.delete)
    if case.message:
        assert decision.condition is not None
        assert case.message in decision.condition[2]
    if decision.plan is not None:
        assert decision.plan.restart_count == case.job.restart_count, "never charged to the restart budget"
        assert decision.plan.create == ()
        assert decision.plan.reason == decision.condition[1]  # type: ignore[index]
        assert decision.plan.completion_time == (NOW if case.phase is Phase.FAILED else None)


def test_the_condition_is_set_once_and_read_back() -> None:
    decision = decide(NEW, SOURCES, pod("Succeeded", OK_DATASET, OK_MODEL), initialized=False, now=NOW)
    conditions = with_condition([], decision, generation=3, at="2025-01-01T00:00:00Z")
    assert is_initialized(conditions)
    again = with_condition(conditions, decision, generation=3, at="2025-01-01T00:05:00Z")
    assert again[0].last_transition_time == "2025-01-01T00:00:00Z", "no transition: the time stays"
    assert with_condition(conditions, Decision(), generation=3, at="x") == conditions


def test_a_failed_job_is_not_reconsidered() -> None:
    first = decide(
        NEW,
        SOURCES,
        pod("Failed", InitContainer("dataset", "terminated", 4, "x")),
        initialized=False,
        now=NOW,
    )
    assert first.plan is not None
    after = JobState(replicas=2, phase=first.plan.phase, reason=first.plan.reason)
    assert decide(after, SOURCES, pod("Failed"), initialized=False, now=NOW + 60) == Decision(), "no hot loop"
