"""The TrainingJob controller's memory of objects this process created and the watch has not shown yet."""

from __future__ import annotations

import pytest

from lepton.controllers.training.context import CREATED_GRACE_SECONDS, Created

KEY = "ns/job"


def _steps(queue: Created, steps: list[tuple[str, str, float]]) -> None:
    for action, what, at in steps:
        if action == "created":
            queue.created(KEY, what, at)
        elif action == "seen":
            queue.seen(KEY, what)
        else:
            queue.forget(KEY)


@pytest.mark.parametrize(
    ("steps", "what", "now", "expected"),
    [
        ([], "pod/job-worker-0/0", 100.0, False),
        ([("created", "pod/job-worker-0/0", 100.0)], "pod/job-worker-0/0", 100.5, True),
        ([("created", "pod/job-worker-0/0", 100.0)], "pod/job-worker-0/1", 100.5, False),
        ([("created", "pod/job-worker-0/0", 100.0)], "pod/job-worker-1/0", 100.5, False),
        (
            [("created", "pod/job-worker-0/0", 100.0), ("seen", "pod/job-worker-0/0", 0.0)],
            "pod/job-worker-0/0",
            100.5,
            False,
        ),
        (
            [("created", "pod/job-worker-0/0", 100.0)],
            "pod/job-worker-0/0",
            100.0 + CREATED_GRACE_SECONDS,
            False,
        ),
        ([("created", "service/u1", 100.0), ("forget", "", 0.0)], "service/u1", 100.5, False),
    ],
    ids=[
        "never created",
        "created, watch lags",
        "other attempt",
        "other worker",
        "shown by the watch",
        "grace period over",
        "job forgotten",
    ],
)
def test_recently_created(steps: list[tuple[str, str, float]], what: str, now: float, expected: bool) -> None:
    queue = Created()
    _steps(queue, steps)
    assert queue.recently_created(KEY, what, now) is expected
