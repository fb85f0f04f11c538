"""The offline schedules of bench/utilisation_offline.py, on workloads small enough to work out."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from utilisation_kit import Job
from utilisation_offline import ORDERS, play


def test_a_gang_that_fits_after_an_end_starts_then_and_the_window_closes_there() -> None:
    """One node: the 8-GPU job runs 0-10 s, the 1-GPU job waits for it; the window closes at 10 s,
    when the last job starts, with all 8 GPUs used throughout."""
    plan = [Job("big", 0.0, 1, 8, 10.0), Job("small", 0.0, 1, 1, 10.0)]
    assert play(plan, 1, ORDERS["arrival"]) == {
        "utilisation": 1.0,
        "window_s": 10.0,
        "wait_p50_s": 10.0,
        "wait_max_s": 10.0,
    }


def test_best_fit_keeps_a_node_whole_for_the_gang() -> None:
    """Two nodes, 7 GPUs held on one: the 1-GPU job takes its last GPU, so the 8-GPU job arriving
    after it starts at once; spread onto the idle node it would wait 19 s."""
    plan = [Job("hold", 0.0, 1, 7, 20.0), Job("small", 0.0, 1, 1, 20.0), Job("big", 1.0, 1, 8, 20.0)]
    assert play(plan, 2, ORDERS["arrival"])["wait_max_s"] == 0.0


def test_backfill_starts_a_later_job_that_fits_past_one_that_does_not() -> None:
    """One node with 4 GPUs held until 30 s: the 8-GPU job waits, the 4-GPU one behind it runs."""
    plan = [Job("hold", 0.0, 1, 4, 30.0), Job("big", 1.0, 1, 8, 5.0), Job("fill", 2.0, 1, 4, 5.0)]
    result = play(plan, 1, ORDERS["arrival"])
    assert (result["window_s"], result["wait_p50_s"], result["wait_max_s"]) == (30.0, 0.0, 29.0)
    # 4 GPUs for 30 s, 4 more for 5 s of the 30 s window, the gang's 0 s: (120 + 20) / 240.
    assert result["utilisation"] == round(140 / 240, 3)
