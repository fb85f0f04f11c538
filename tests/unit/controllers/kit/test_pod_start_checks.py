"""How often a stalled pod's Events are read: once per recheck period per owner, never per reconcile
(the reconciles of a service stuck for hours must not turn into a loop of list requests). The one
request is answered by a stand-in that counts; what the API server answers is the integration
test's (tests/integration/serving/test_inferenceservice_pod_start.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from lepton.controllers.kit.pod_start import PodStarts
from lepton.kube.client import Kube
from lepton.policies.pod_start import RECHECK_SECONDS, STALL_SECONDS, PodStart, StartProblem

NOW = 1000.0
STUCK = PodStart("s-v1-abc", "u1", scheduled_at=NOW - 60)
FAILED_MOUNT = {
    "type": "Warning",
    "reason": "FailedMount",
    "message": 'MountVolume.SetUp failed for volume "api-tokens" : secret "api-token" not found',
    "lastTimestamp": "2026-11-26T20:00:00Z",
}


class Answers:
    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, str]]] = []

    async def request(self, method: str, path: str, *, query: dict[str, str], **_: Any) -> dict[str, Any]:
        self.asked.append((path, query))
        return {"items": [FAILED_MOUNT]}


def check(starts: PodStarts, answers: Answers, pods: list[PodStart], now: float) -> Any:
    kube: Kube = answers  # type: ignore[assignment]
    tokens = [("api-token", "token")]
    return asyncio.run(starts.check(kube, "isvc/ns/s", "ns", pods, now, token_secrets=tokens))


def test_one_read_per_recheck_period_and_none_once_the_pod_starts() -> None:
    starts, answers = PodStarts(), Answers()
    first = check(starts, answers, [STUCK], NOW)
    assert first.finding is not None
    assert first.finding.reason is StartProblem.TOKEN_SECRET_MISSING
    assert first.due == NOW + RECHECK_SECONDS
    assert answers.asked == [
        ("/api/v1/namespaces/ns/events", {"fieldSelector": "involvedObject.uid=u1", "limit": "50"})
    ]
    again = check(starts, answers, [STUCK], NOW + 1)  # another reconcile soon after: no read
    assert (again.finding, again.due, len(answers.asked)) == (first.finding, NOW + RECHECK_SECONDS, 1)
    check(starts, answers, [STUCK], NOW + RECHECK_SECONDS)
    assert len(answers.asked) == 2
    started = check(
        starts, answers, [PodStart("s-v1-abc", "u1", scheduled_at=NOW - 60, started=True)], NOW + 30
    )
    assert (started.finding, started.due, len(answers.asked)) == (None, None, 2)


def test_a_pod_within_its_bound_costs_no_read() -> None:
    starts, answers = PodStarts(), Answers()
    fresh = PodStart("s-v1-new", "u2", scheduled_at=NOW - 1)
    result = check(starts, answers, [fresh], NOW)
    assert (result.finding, result.due, answers.asked) == (None, NOW - 1 + STALL_SECONDS, [])
