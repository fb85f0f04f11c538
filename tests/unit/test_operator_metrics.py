"""The operator's admission wait histogram, driven through job_phase with a fake clock."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from lepton.metrics import Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# (case, [(seconds later, phase)...], the waits observed)
CASES = [
    ("queued then admitted", [(0, "Created"), (2, "Queued"), (5, "Admitted"), (1, "Running")], [7.0]),
    ("admitted at once", [(0, "Created"), (0.5, "Admitted")], [0.5]),
    ("admitted on first sight (it fits)", [(0, "Admitted"), (1, "Running")], [0.0]),
    ("seen first running (operator restart)", [(0, "Running"), (3, "Succeeded")], []),
    ("deleted while queued", [(0, "Queued"), (4, None)], []),
    (
        "suspended while queued, resumed later",
        [(0, "Queued"), (3, "Suspended"), (100, "Queued"), (2, "Admitted")],
        [2.0],
    ),
    (
        "restarted: a second wait",
        [(0, "Queued"), (1, "Admitted"), (5, "Restarting"), (1, "Queued"), (4, "Admitted")],
        [1.0, 4.0],
    ),
]


@pytest.mark.parametrize(("case", "steps", "waits"), CASES, ids=[c[0] for c in CASES])
def test_admission_wait(case, steps, waits):
    clock, registry = Clock(), CollectorRegistry()
    metrics = Metrics(registry, clock=clock)
    for later, phase in steps:
        clock.now += later
        metrics.job_phase("ns/job", phase)
    count = registry.get_sample_value("lepton_operator_admission_wait_seconds_count") or 0
    total = registry.get_sample_value("lepton_operator_admission_wait_seconds_sum") or 0
    assert (count, total) == (len(waits), pytest.approx(sum(waits))), case


def test_jobs_wait_independently():
    clock, registry = Clock(), CollectorRegistry()
    metrics = Metrics(registry, clock=clock)
    metrics.job_phase("ns/a", "Queued")
    clock.now += 10
    metrics.job_phase("ns/b", "Queued")
    clock.now += 1
    metrics.job_phase("ns/b", "Admitted")
    metrics.job_phase("ns/a", "Queued")  # still waiting: its start is kept
    clock.now += 1
    metrics.job_phase("ns/a", "Admitted")
    assert registry.get_sample_value("lepton_operator_admission_wait_seconds_sum") == pytest.approx(1 + 12)
    assert registry.get_sample_value("lepton_operator_queue_length") == 0
