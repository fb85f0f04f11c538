"""Rank 0's metrics read into status.progress: the runtime's own exposition in, the status out."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from lepton.policies.progress import ExpositionError, parse, progress_status
from lepton.runtime.metrics import MetricsReporter

AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def exposition(*reports: dict[str, float]) -> str:
    """What rank 0's endpoint serves after these report_metrics calls (no server started)."""
    reporter = MetricsReporter(None, "127.0.0.1")
    for values in reports:
        reporter.report(values)
    return generate_latest(reporter.registry).decode()


@pytest.mark.parametrize(
    ("scenario", "reports", "expected"),
    [
        (
            "all four",
            [{"step": 120, "epoch": 3, "loss": 0.25, "samples_per_second": 812.5}],
            {"step": 120, "epoch": 3.0, "loss": 0.25, "samplesPerSecond": 812.5},
        ),
        (
            "the latest report wins",
            [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}],
            {"step": 2, "loss": 1.5},
        ),
        # A gauge never reported must not read as 0: a loss of 0 nobody reported is a lie.
        ("only what was reported", [{"step": 7}], {"step": 7}),
        ("other metrics are not progress", [{"accuracy": 0.9, "step": 3}], {"step": 3}),
        ("non-finite values are dropped by the runtime", [{"loss": float("nan"), "step": 4}], {"step": 4}),
        ("nothing reported yet", [], {}),
    ],
)
def test_parse_the_runtime_exposition(scenario, reports, expected):
    values = parse(exposition(*reports))
    status = progress_status(values, at=AT)
    if not expected:
        assert status is None
        return
    assert status == {**expected, "lastUpdate": "2026-01-01T00:00:00Z"}
    assert isinstance(status.get("step", 0), int)


def test_labelled_or_foreign_series_are_ignored():
    text = (
        "# TYPE lepton_train_step gauge\n"
        'lepton_train_step{replica="1"} 99\n'
        "lepton_train_step 5\n"
        "# TYPE lepton_train_loss gauge\n"
        "lepton_train_loss +Inf\n"
        "# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total 12\n"
    )
    assert parse(text) == {"step": 5.0}


def test_a_page_that_is_not_the_text_format_is_an_error():
    with pytest.raises(ExpositionError):
        parse("<html><body>lepton_train_step five</body></html>\n")
