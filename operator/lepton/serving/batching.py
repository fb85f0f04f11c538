"""Dynamic batching: merge concurrent requests into one model call, then split the results back.

Requests queue in buckets keyed by (dtype, shape without the batch dimension), so only tensors that
can be concatenated are merged. One batch runs at a time on the inference executor (one thread),
off the event loop. The next batch of a bucket is dispatched when the executor is free and one of
these holds, whichever comes first:

- it has ``max_batch_size`` rows (a single request larger than that runs alone, never split);
- its oldest request has waited ``max_latency_s``;
- no other request is still arriving (accepted, body not yet decoded; see :meth:`incoming`):
  waiting longer could only add requests that have not been sent, so it would cost latency for
  nothing. This is what keeps a lone request at concurrency 1 from paying ``max_latency_s``.

If a merged batch fails, each of its requests is retried alone so one bad request cannot fail its
neighbours.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Runner = Callable[[Array], Array]
_Key = tuple[str, tuple[int, ...]]


@dataclass
class _Pending:
    array: Array
    future: asyncio.Future[Array]
    arrived: float


@dataclass
class _Bucket:
    items: collections.deque[_Pending] = field(default_factory=collections.deque)
    rows: int = 0


class DynamicBatcher:
    def __init__(
        self,
        run: Runner,
        executor: Executor,
        *,
        max_batch_size: int,
        max_latency_s: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._run = run
        self._executor = executor
        self.max_batch_size = max_batch_size
        self.max_latency_s = max(0.0, max_latency_s)
        self._on_batch = on_batch
        self._buckets: dict[_Key, _Bucket] = {}
        self._busy = False
        self._incoming = 0
        self._queued = 0
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a batch (not counting the batch that is running)."""
        return self._queued

    @contextlib.contextmanager
    def incoming(self) -> Iterator[None]:
        """Mark a request as on its way (being read and decoded) for the time of the block."""
        self._incoming += 1
        try:
            yield
        finally:
            self._incoming -= 1
            if self._incoming == 0:
                self._poke()

    async def submit(self, array: Array) -> Array:
        """Run ``array`` (batch dimension first) through the model as part of a batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Array] = loop.create_future()
        key = (array.dtype.str, tuple(array.shape[1:]))
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
        bucket.items.append(_Pending(array, future, loop.time()))
        bucket.rows += array.shape[0]
        self._queued += 1
        self._poke()
        return await future

    def _poke(self) -> None:
        # Deferred to the end of this loop iteration so handlers already runnable join the batch.
        if not self._scheduled and self._queued:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._maybe_dispatch)

    def _on_timer(self) -> None:
        self._timer = None
        self._maybe_dispatch()

    def _maybe_dispatch(self) -> None:
        self._scheduled = False
        if self._busy or not self._queued:
            return
        key, bucket = min(
            ((k, b) for k, b in self._buckets.items() if b.items), key=lambda kb: kb[1].items[0].arrived
        )
        loop = asyncio.get_running_loop()
        deadline = bucket.items[0].arrived + self.max_latency_s
        if bucket.rows >= self.max_batch_size or self._incoming == 0 or loop.time() >= deadline:
            self._dispatch(key, bucket)
        elif self._timer is None:
            self._timer = loop.call_at(deadline, self._on_timer)

    def _dispatch(self, key: _Key, bucket: _Bucket) -> None:
        batch: list[_Pending] = []
        rows = 0
        while bucket.items:
            size = bucket.items[0].array.shape[0]
            if batch and rows + size > self.max_batch_size:
                break
            item = bucket.items.popleft()
            bucket.rows -= size
            self._queued -= 1
            if not item.future.done():  # a caller that went away needs no result
                batch.append(item)
                rows += size
        if not bucket.items:
            del self._buckets[key]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not batch:
            self._poke()
            return
        self._busy = True
        arrays = [item.array for item in batch]
        running = asyncio.get_running_loop().run_in_executor(self._executor, run_batch, self._run, arrays)
        running.add_done_callback(lambda done: self._finish(batch, rows, done))

    def _finish(
        self, batch: list[_Pending], rows: int, done: asyncio.Future[list[Array | Exception]]
    ) -> None:
        self._busy = False
        try:
            results: list[Array | Exception] = done.result()
        except Exception as exc:  # the executor itself failed; every caller hears it
            results = [exc] * len(batch)
        for item, result in zip(batch, results, strict=True):
            if item.future.done():
                continue
            if isinstance(result, Exception):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)
        if self._on_batch is not None:
            self._on_batch(rows)
        self._poke()


def run_batch(run: Runner, arrays: list[Array]) -> list[Array | Exception]:
    """Concatenate, run, split (in the executor); on failure of a merged batch, run each alone."""
    try:
        batch = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        out = run(batch)
        if out.shape[:1] != batch.shape[:1]:
            raise ValueError(f"model returned {out.shape[:1]} rows for a batch of {batch.shape[0]}")
    except Exception as exc:  # handed to the callers, not swallowed
        if len(arrays) == 1:
            return [exc]
        return [result for array in arrays for result in run_batch(run, [array])]
    if len(arrays) == 1:
        return [out]
    bounds = np.cumsum([array.shape[0] for array in arrays[:-1]])
    return list(np.split(out, bounds))
