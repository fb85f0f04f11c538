"""Why a scheduled pod does not start, keyed by scenario: the pods (or one pod and its Events) and
the clock in; which pod to look at, when to look again, and the reason and message out."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lepton.policies.pod_start import (
    MAX_MESSAGE,
    RECHECK_SECONDS,
    STALL_SECONDS,
    PodEvent,
    PodStart,
    StartProblem,
    Waiting,
    finding,
    look_at,
    needs_events,
    stalled,
)

NOW = 1000.0
NS = "team"
TOKENS = (("api-token", "token"), ("old-token", "token"))
MISSING = 'MountVolume.SetUp failed for volume "api-tokens" : secret "api-token" not found'


def pod(name: str = "s-v1-abc", since: float | None = NOW - 30, **kw: object) -> PodStart:
    return PodStart(name=name, uid=f"uid-{name}", scheduled_at=since, **kw)  # type: ignore[arg-type]


def warning(reason: str, message: str, at: float = NOW - 1) -> PodEvent:
    return PodEvent("Warning", reason, message, at)


def normal(reason: str, message: str = "", at: float = NOW - 1) -> PodEvent:
    return PodEvent("Normal", reason, message, at)


@dataclass
class Look:
    scenario: str
    pods: list[PodStart]
    looked_at: str | None
    due: float | None


LOOKS = [
    Look("no pod", [], None, None),
    Look("not scheduled yet: the scheduler's condition says why", [pod(since=None)], None, None),
    Look(
        "scheduled just now: look once the bound has passed",
        [pod(since=NOW - 1)],
        None,
        NOW - 1 + STALL_SECONDS,
    ),
    Look(
        "stalled past the bound: look now, again after the recheck",
        [pod()],
        "s-v1-abc",
        NOW + RECHECK_SECONDS,
    ),
    Look(
        "exactly at the bound counts as stalled",
        [pod(since=NOW - STALL_SECONDS)],
        "s-v1-abc",
        NOW + RECHECK_SECONDS,
    ),
    Look("started: nothing to look at", [pod(started=True)], None, None),
    Look(
        "an init container runs (fetching the model): busy, not stuck", [pod(initializing=True)], None, None
    ),
    Look("deleting: going anyway", [pod(deleting=True)], None, None),
    Look(
        "the longest-stalled pod is the one looked at",
        [pod("s-v1-b", since=NOW - 20), pod("s-v1-a", since=NOW - 40), pod("s-v1-c", started=True)],
        "s-v1-a",
        NOW + RECHECK_SECONDS,
    ),
    Look(
        "a tie on the time goes by name (the same pod every round)",
        [pod("s-v1-b"), pod("s-v1-a")],
        "s-v1-a",
        NOW + RECHECK_SECONDS,
    ),
    Look(
        "the next one to pass the bound sets the time",
        [pod("s-v1-a", since=NOW - 2), pod("s-v1-b", since=NOW - 1), pod("s-v1-c", started=True)],
        None,
        NOW - 2 + STALL_SECONDS,
    ),
]


@pytest.mark.parametrize("case", LOOKS, ids=lambda c: c.scenario)
def test_which_pod_is_looked_at_and_when(case: Look) -> None:
    look = stalled(case.pods, NOW)
    assert (look.pod.name if look.pod else None) == case.looked_at
    assert look.due == case.due


def test_a_pod_change_asks_for_a_look_when_its_bound_passes() -> None:
    assert look_at(pod(since=NOW)) == NOW + STALL_SECONDS
    assert look_at(pod(since=None)) is None
    assert look_at(pod(started=True)) is None


@dataclass
class Find:
    scenario: str
    pod: PodStart
    events: list[PodEvent]
    reason: StartProblem | None
    says: list[str] = field(default_factory=list)
    never: list[str] = field(default_factory=list)
    tokens: tuple[tuple[str, str], ...] = TOKENS


FINDS = [
    Find("no events yet", pod(), [], None),
    Find(
        "only the scheduler's event", pod(), [normal("Scheduled", "assigned team/s-v1-abc to node-1")], None
    ),
    Find(
        "the token Secret does not exist: named, with what to do",
        pod(),
        [normal("Scheduled", at=NOW - 20), warning("FailedMount", MISSING)],
        StartProblem.TOKEN_SECRET_MISSING,
        ["Secret api-token ", "spec.auth.tokenSecrets", f"namespace {NS}", "create it", "s-v1-abc"],
        ["old-token", "MountVolume"],
    ),
    Find(
        "the failure shares the scheduler's second: the Warning is the newer",
        pod(),
        [normal("Scheduled", at=NOW - 1), warning("FailedMount", MISSING, at=NOW - 1)],
        StartProblem.TOKEN_SECRET_MISSING,
        ["Secret api-token "],
    ),
    Find(
        "two token Secrets missing (the kubelet aggregates): both named, in the spec's order",
        pod(),
        [
            warning(
                "FailedMount",
                'MountVolume.SetUp failed for volume "api-tokens" : [secret "old-token" not found, '
                'secret "api-token" not found]',
            )
        ],
        StartProblem.TOKEN_SECRET_MISSING,
        ["Secrets api-token, old-token ", "create them"],
    ),
    Find(
        "a key missing from a token Secret",
        pod(),
        [
            warning(
                "FailedMount",
                'MountVolume.SetUp failed for volume "api-tokens" : '
                "references non-existent secret key: token",
            )
        ],
        StartProblem.TOKEN_SECRET_MISSING,
        ["key token of Secret api-token", "add it to the Secret"],
    ),
    Find(
        "a name in the message that the spec does not hold is never echoed as a token Secret",
        pod(),
        [
            warning(
                "FailedMount", 'MountVolume.SetUp failed for volume "api-tokens" : secret "other" not found'
            )
        ],
        StartProblem.POD_START_FAILED,
        ['FailedMount: MountVolume.SetUp failed for volume "api-tokens"'],
    ),
    Find(
        "another volume (a ConfigMap of a worker template): the kubelet's message, general reason",
        pod("job-worker-0"),
        [
            warning(
                "FailedMount", 'MountVolume.SetUp failed for volume "cfg" : configmap "settings" not found'
            )
        ],
        StartProblem.POD_START_FAILED,
        ["pod job-worker-0 cannot start: FailedMount:", 'configmap "settings" not found'],
        tokens=(),
    ),
    Find(
        "the sandbox cannot be made",
        pod(),
        [warning("FailedCreatePodSandBox", "Failed to create pod sandbox: rpc error: no such network")],
        StartProblem.POD_START_FAILED,
        ["FailedCreatePodSandBox: Failed to create pod sandbox"],
    ),
    Find(
        "the Secret was created since: the kubelet went on (a newer Normal event), nothing to say",
        pod(),
        [warning("FailedMount", MISSING, at=NOW - 9), normal("Pulled", "image present", at=NOW - 2)],
        None,
    ),
    Find(
        "a Warning the kubelet does not block on is not a start problem",
        pod(),
        [warning("Unhealthy", "probe")],
        None,
    ),
    Find(
        "the image cannot be pulled: the container status says so, no Event needed",
        pod(waiting=(Waiting("server", "ErrImagePull", "pull access denied for lepton/server:nope"),)),
        [],
        StartProblem.POD_START_FAILED,
        ["container server: ErrImagePull: pull access denied"],
    ),
    Find(
        "still creating (pulling): not a failure by itself",
        pod(waiting=(Waiting("server", "ContainerCreating"),)),
        [],
        None,
    ),
    Find(
        "a long kubelet message is cut",
        pod(),
        [warning("FailedCreatePodSandBox", "x" * 2000)],
        StartProblem.POD_START_FAILED,
        ["..."],
    ),
]


@pytest.mark.parametrize("case", FINDS, ids=lambda c: c.scenario)
def test_what_keeps_a_pod_from_starting(case: Find) -> None:
    found = finding(case.pod, case.events, namespace=NS, token_secrets=case.tokens)
    assert (found.reason if found else None) == case.reason
    message = found.message if found else ""
    for text in case.says:
        assert text in message
    for text in case.never:
        assert text not in message
    assert len(message) <= MAX_MESSAGE + 80  # the kubelet's part is cut, what Lepton adds is short
    if found is not None:
        assert found.pod == case.pod.name


def test_events_are_read_only_when_the_container_status_does_not_say() -> None:
    assert needs_events(pod(waiting=(Waiting("server", "ContainerCreating"),)))
    assert not needs_events(pod(waiting=(Waiting("server", "ImagePullBackOff", "back-off"),)))
