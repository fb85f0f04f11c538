"""Every rank's log in one stream: merged by timestamp, and followed across restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from lepton.client.logs import Line, follow, interleave, parse_line


def test_parse_line_splits_the_kubelet_timestamp():
    assert parse_line(b"2025-01-01T00:00:01.5Z epoch 1 loss 0.3\n", 2) == Line(
        "2025-01-01T00:00:01.5Z", 2, "epoch 1 loss 0.3"
    )
    assert parse_line(b"no timestamp here\n", 0) == Line("", 0, "no timestamp here")


def test_interleave_orders_by_time_and_keeps_each_ranks_order_on_ties():
    streams = {
        0: [b"2025-01-01T00:00:01Z r0 a\n", b"2025-01-01T00:00:03Z r0 b\n"],
        1: [b"2025-01-01T00:00:02Z r1 a\n", b"2025-01-01T00:00:02Z r1 b\n", b"2025-01-01T00:00:04Z r1 c\n"],
    }
    assert [line.render() for line in interleave(streams)] == [
        "[rank 0] r0 a",
        "[rank 1] r1 a",
        "[rank 1] r1 b",
        "[rank 0] r0 b",
        "[rank 1] r1 c",
    ]


def test_rank_prefix_is_aligned_for_wide_jobs():
    assert Line("", 3, "x").render(width=2) == "[rank  3] x"


def worker(rank: int, uid: str, phase: str = "Running", attempt: int = 0) -> dict:
    labels = {"lepton.ai/replica-index": str(rank), "lepton.ai/restart-attempt": str(attempt)}
    return {
        "metadata": {"name": f"j-worker-{rank}", "uid": uid, "labels": labels},
        "status": {"phase": phase},
    }


class Scripted:
    """A job whose pods change as logs are read: rank 1's first pod fails, a restart replaces it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current = {0: worker(0, "a0"), 1: worker(1, "a1")}
        self.logs = {
            "a0": [b"2025-01-01T00:00:01Z start\n", b"2025-01-01T00:00:09Z done\n"],
            "a1": [b"2025-01-01T00:00:02Z start\n", b"2025-01-01T00:00:03Z boom\n"],
            "b1": [b"2025-01-01T00:00:05Z resumed\n"],
        }
        self.read: list[str] = []

    def pods(self) -> list[dict]:
        with self.lock:
            return list(self.current.values())

    def lines(self, pod: str, *, follow: bool, since_time: str) -> Iterable[bytes]:
        assert follow
        uid = next(p["metadata"]["uid"] for p in self.pods() if p["metadata"]["name"] == pod)
        with self.lock:
            self.read.append(uid)
            if uid == "a1":  # the first attempt of rank 1 ends: the operator recreates the pod
                self.current[1] = worker(1, "b1", attempt=1)
            if uid == "b1":
                self.current = {
                    r: worker(r, p["metadata"]["uid"], "Succeeded") for r, p in self.current.items()
                }
        return list(self.logs[uid])

    def finished(self) -> bool:
        with self.lock:
            return all(p["status"]["phase"] == "Succeeded" for p in self.current.values())


def test_follow_goes_on_with_the_new_pod_after_a_restart_and_ends_with_the_job():
    source = Scripted()
    items = list(follow(source, [0, 1], poll_seconds=0.01))
    by_rank = {r: [i.text for i in items if isinstance(i, Line) and i.rank == r] for r in (0, 1)}
    assert by_rank == {0: ["start", "done"], 1: ["start", "boom", "resumed"]}
    assert "--- rank 1: restart attempt 1, pod j-worker-1" in items
    assert sorted(source.read) == ["a0", "a1", "b1"], "each pod's log is read exactly once"


class Broken(Scripted):
    def lines(self, pod: str, *, follow: bool, since_time: str) -> Iterable[bytes]:
        if pod == "j-worker-0":
            raise ConnectionError("node does not serve logs")
        with self.lock:
            self.current = {r: worker(r, f"x{r}", "Succeeded") for r in (0, 1)}
        return [b"2025-01-01T00:00:01Z fine\n"]


def test_one_ranks_broken_log_is_a_note_not_the_end():
    items = list(follow(Broken(), [0, 1], poll_seconds=0.01))
    assert any(isinstance(i, str) and "rank 0: log unavailable: node does not serve logs" in i for i in items)
    assert Line("2025-01-01T00:00:01Z", 1, "fine") in items
