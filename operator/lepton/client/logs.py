"""Every rank's log of a TrainingJob in one stream, each line prefixed with its rank.

Without follow, the current pods' logs are merged by the kubelet's timestamps. With follow, one
thread per rank streams its pod's log and, when the pod is replaced by a restart (same name, new
uid), goes on with the new pod; lines reach the reader in arrival order.
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

TRAINER = "trainer"
RESTART_LABEL = "lepton.ai/restart-attempt"
INDEX_LABEL = "lepton.ai/replica-index"
FINISHED = ("Succeeded", "Failed")


@dataclass(frozen=True, order=True)
class Line:
    timestamp: str
    rank: int
    text: str

    def render(self, width: int = 1) -> str:
        return f"[rank {self.rank:>{width}}] {self.text}"


def parse_line(raw: bytes, rank: int) -> Line:
    """A `timestamps=true` log line: "<RFC 3339 nanos> <text>"."""
    text = raw.decode(errors="replace").rstrip("\n")
    stamp, sep, rest = text.partition(" ")
    if sep and stamp[:4].isdigit() and "T" in stamp:
        return Line(stamp, rank, rest)
    return Line("", rank, text)


def interleave(streams: Mapping[int, Iterable[bytes]]) -> Iterator[Line]:
    """Lines of every rank merged by timestamp (RFC 3339 in UTC sorts as text); a rank's own order
    is kept even where its timestamps tie."""

    def parsed(rank: int, lines: Iterable[bytes]) -> Iterator[Line]:
        return (parse_line(raw, rank) for raw in lines)

    iterators = [parsed(rank, lines) for rank, lines in sorted(streams.items())]
    return heapq.merge(*iterators, key=lambda line: line.timestamp)


class LogSource(Protocol):
    """What the follower reads: the job's pods, their logs and whether the job is over."""

    def pods(self) -> Sequence[Mapping[str, Any]]: ...

    def lines(self, pod: str, *, follow: bool, since_time: str) -> Iterable[bytes]: ...

    def finished(self) -> bool: ...


def rank_of(pod: Mapping[str, Any]) -> int:
    return int(pod.get("metadata", {}).get("labels", {}).get(INDEX_LABEL, -1))


def _started(pod: Mapping[str, Any]) -> bool:
    return pod.get("status", {}).get("phase") in ("Running", *FINISHED)


@dataclass
class RankFollower:
    """Follows one rank across its pods: each pod (by uid) is read once to its end."""

    rank: int
    source: LogSource
    emit: Callable[[Line | str], None]
    poll_seconds: float = 1.0

    def run(self, stop: threading.Event) -> None:
        done_uid, last = "", ""
        while not stop.is_set():
            pod = next((p for p in self.source.pods() if rank_of(p) == self.rank), None)
            uid = str((pod or {}).get("metadata", {}).get("uid", ""))
            if pod is None or uid == done_uid or not _started(pod):
                if self.source.finished() and (pod is None or uid == done_uid):
                    return
                stop.wait(self.poll_seconds)
                continue
            attempt = pod["metadata"].get("labels", {}).get(RESTART_LABEL, "0")
            if done_uid:
                self.emit(f"--- rank {self.rank}: restart attempt {attempt}, pod {pod['metadata']['name']}")
            try:
                for raw in self.source.lines(pod["metadata"]["name"], follow=True, since_time=""):
                    line = parse_line(raw, self.rank)
                    last = line.timestamp or last
                    self.emit(line)
                    if stop.is_set():
                        return
            except Exception as exc:
                self.emit(f"--- rank {self.rank}: log unavailable: {exc}")
                stop.wait(self.poll_seconds)
            done_uid = uid


def follow(source: LogSource, ranks: Iterable[int], *, poll_seconds: float = 1.0) -> Iterator[Line | str]:
    """Lines of every rank as they come, until the job is finished and every rank's log is read.
    Strings are notes (a restart began, a log is unavailable)."""
    out: queue.Queue[Line | str | None] = queue.Queue()
    stop = threading.Event()

    def read(rank: int) -> None:
        try:
            RankFollower(rank, source, out.put, poll_seconds).run(stop)
        finally:
            out.put(None)  # this rank is done

    threads = [
        threading.Thread(target=read, args=(rank,), name=f"log-rank-{rank}", daemon=True)
        for rank in sorted(set(ranks))
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = out.get()
            if item is None:
                running -= 1
            else:
                yield item
    finally:
        stop.set()
