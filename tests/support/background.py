"""Work repeated from a thread while a test's block runs: requests sent, objects sampled."""

from __future__ import annotations

import threading
import time
from typing import Self


class Background:
    """``_run`` in a daemon thread of its own from entering the block until leaving it: it ends when
    ``_stop`` is set (waiting on it, never sleeping past it); leaving waits ``join_seconds`` for it."""

    join_seconds = 10.0

    def __init__(self, name: str | None = None) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.join_seconds)


class Repeating(Background):
    """Calls ``step()`` every ``interval`` seconds from a daemon thread, from entering the block until
    leaving it, on a fixed schedule (a slow step does not shift the next ones). What a step sees (a
    refused request, a failed read) is its data; an exception it lets out ends the thread."""

    def __init__(self, interval: float) -> None:
        super().__init__()
        self.interval = interval

    def step(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.step()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
