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


class SlowAnswers(Answers):
    """Answers once released: the reads stay in flight until then."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def request(self, method: str, path: str, *, query: dict[str, str], **_: Any) -> dict[str, Any]:
        self.asked.append((path, query))
        await self.release.wait()
        return {"items": [FAILED_MOUNT]}


def test_at_most_two_reads_in_flight_the_others_put_off_to_their_next_look() -> None:
    async def scenario() -> tuple[list[Any], int, int]:
        starts, answers = PodStarts(), SlowAnswers()
        kube: Kube = answers  # type: ignore[assignment]
        pods = [PodStart(f"w-{i}", f"u{i}", scheduled_at=NOW - 60) for i in range(5)]
        looks = [
            asyncio.create_task(starts.check(kube, f"tj/ns/job-{i}", "ns", [pod], NOW))
            for i, pod in enumerate(pods)
        ]

        async def settled() -> None:  # two reads waiting on the answers, three looks returned
            while len(answers.asked) < 2 or sum(t.done() for t in looks) < 3:
                await asyncio.sleep(0)

        await asyncio.wait_for(settled(), timeout=5)
        in_flight = len(answers.asked)
        answers.release.set()
        results = await asyncio.gather(*looks)
        return results, in_flight, starts.reading

    results, in_flight, reading = asyncio.run(scenario())
    assert in_flight == 2, f"{in_flight} Events lists in flight at once"
    put_off = [r for r in results if r.finding is None]
    assert len(put_off) == 3, results
    assert all(r.due == NOW + RECHECK_SECONDS for r in put_off), put_off
    assert len([r for r in results if r.finding is not None]) == 2, results
    assert reading == 0, "the count of reads in flight did not come back to 0"
