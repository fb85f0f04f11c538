"""Dynamic batching: merging, splitting, latency bound, buckets by shape, failure isolation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pytest

from lepton.serving.batching import DynamicBatcher

T = TypeVar("T")
Array = npt.NDArray[Any]


class Recorder:
    """A model that doubles its input and records every batch shape it was called with."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[tuple[int, ...]] = []
        self.dtypes: list[str] = []
        self.gate = gate

    def __call__(self, batch: Array) -> Array:
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        if np.isnan(batch).any():
            raise ValueError("NaN in batch")
        self.batches.append(tuple(batch.shape))
        self.dtypes.append(batch.dtype.str)
        result: Array = batch * 2
        return result


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro_fn(), 20)

    return asyncio.run(bounded())


def test_a_burst_of_100_becomes_few_batches_and_each_caller_gets_its_own_rows(
    executor: ThreadPoolExecutor,
) -> None:
    model = Recorder()
    seen_batches: list[int] = []

    async def burst() -> list[Array]:
        batcher = DynamicBatcher(
            model, executor, max_batch_size=32, max_latency_s=0.005, on_batch=seen_batches.append
        )
        return await asyncio.gather(*(batcher.submit(np.full((1, 3), i, np.float32)) for i in range(100)))

    results = run(burst)
    assert [rows for rows, _ in model.batches] == [32, 32, 32, 4]
    assert seen_batches == [32, 32, 32, 4]
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, np.full((1, 3), 2 * i, np.float32))


def test_multi_row_requests_are_split_back_by_their_row_counts(executor: ThreadPoolExecutor) -> None:
    model = Recorder()

    async def mixed() -> list[Array]:
        batcher = DynamicBatcher(model, executor, max_batch_size=64, max_latency_s=0.005)
        arrays = [
            np.arange(rows * 2, dtype=np.float32).reshape(rows, 2) + 100 * rows for rows in (1, 5, 2, 7)
        ]
        return await asyncio.gather(*(batcher.submit(a) for a in arrays))

    results = run(mixed)
    assert model.batches == [(15, 2)]
    assert [r.shape[0] for r in results] == [1, 5, 2, 7]
    for rows, result in zip((1, 5, 2, 7), results, strict=True):
        np.testing.assert_array_equal(
            result, 2 * (np.arange(rows * 2, dtype=np.float32).reshape(rows, 2) + 100 * rows)
        )


def test_requests_with_different_shapes_or_dtypes_are_batched_separately(
    executor: ThreadPoolExecutor,
) -> None:
    model = Recorder()

    async def shapes() -> list[Array]:
        batcher = DynamicBatcher(model, executor, max_batch_size=32, max_latency_s=0.005)
        arrays = (
            [np.ones((1, 3), np.float32)] * 4
            + [np.ones((1, 4), np.float32)] * 3
            + [np.ones((1, 3), np.int64)] * 2
        )
        return await asyncio.gather(*(batcher.submit(a) for a in arrays))

    results = run(shapes)
    assert sorted(zip(model.batches, model.dtypes, strict=True)) == [
        ((2, 3), "<i8"),
        ((3, 4), "<f4"),
        ((4, 3), "<f4"),
    ]
    assert [r.shape for r in results] == [(1, 3)] * 4 + [(1, 4)] * 3 + [(1, 3)] * 2
    assert results[-1].dtype == np.int64


def test_a_request_larger_than_the_max_batch_runs_alone(executor: ThreadPoolExecutor) -> None:
    model = Recorder()

    async def big() -> list[Array]:
        batcher = DynamicBatcher(model, executor, max_batch_size=8, max_latency_s=0.005)
        return list(await asyncio.gather(batcher.submit(np.ones((20, 2))), batcher.submit(np.ones((3, 2)))))

    results = run(big)
    assert model.batches == [(20, 2), (3, 2)]
    assert [r.shape for r in results] == [(20, 2), (3, 2)]


def test_a_failing_request_fails_alone_and_its_batch_neighbours_succeed(executor: ThreadPoolExecutor) -> None:
    model = Recorder()

    async def with_bad() -> list[Array | BaseException]:
        batcher = DynamicBatcher(model, executor, max_batch_size=32, max_latency_s=0.005)
        arrays = [np.full((1, 2), float(i)) for i in range(6)]
        arrays[3] = np.full((1, 2), np.nan)
        return await asyncio.gather(*(batcher.submit(a) for a in arrays), return_exceptions=True)

    results = run(with_bad)
    assert isinstance(results[3], ValueError)
    for i in (0, 1, 2, 4, 5):
        np.testing.assert_array_equal(results[i], np.full((1, 2), 2.0 * i))


def test_a_lone_request_does_not_wait_for_the_latency_bound(executor: ThreadPoolExecutor) -> None:
    async def lone() -> float:
        batcher = DynamicBatcher(Recorder(), executor, max_batch_size=32, max_latency_s=5.0)
        start = time.monotonic()
        await batcher.submit(np.ones((1, 2)))
        return time.monotonic() - start

    assert run(lone) < 2.0


def test_the_batch_waits_for_a_request_still_arriving(executor: ThreadPoolExecutor) -> None:
    model = Recorder()

    async def arriving() -> None:
        batcher = DynamicBatcher(model, executor, max_batch_size=32, max_latency_s=5.0)

        async def slow_client() -> Array:
            with batcher.incoming():  # reading and decoding its body takes a while
                await asyncio.sleep(0.05)
            return await batcher.submit(np.ones((1, 2)))

        late = asyncio.ensure_future(slow_client())
        await asyncio.sleep(0)
        first = asyncio.ensure_future(batcher.submit(np.ones((1, 2))))
        await asyncio.sleep(0.02)
        assert not first.done(), "dispatched although another request was on its way"
        await asyncio.gather(first, late)

    run(arriving)
    assert model.batches == [(2, 2)]


def test_the_latency_bound_caps_waiting_for_arrivals(executor: ThreadPoolExecutor) -> None:
    model = Recorder()

    async def capped() -> float:
        batcher = DynamicBatcher(model, executor, max_batch_size=32, max_latency_s=0.1)
        with batcher.incoming():  # a request that never finishes arriving within the test
            start = time.monotonic()
            await batcher.submit(np.ones((1, 2)))
            return time.monotonic() - start

    waited = run(capped)
    assert 0.09 <= waited < 3.0
    assert model.batches == [(1, 2)]


def test_queue_depth_counts_requests_waiting_behind_a_running_batch(executor: ThreadPoolExecutor) -> None:
    gate = threading.Event()
    model = Recorder(gate)

    async def queued() -> list[int]:
        batcher = DynamicBatcher(model, executor, max_batch_size=4, max_latency_s=0.0)
        first = asyncio.ensure_future(batcher.submit(np.ones((1, 2))))
        await asyncio.sleep(0)  # the first request is dispatched and blocks in the model
        await asyncio.sleep(0)
        rest = [asyncio.ensure_future(batcher.submit(np.ones((1, 2)))) for _ in range(6)]
        await asyncio.sleep(0.01)
        depths = [batcher.queue_depth]
        gate.set()
        await asyncio.gather(first, *rest)
        depths.append(batcher.queue_depth)
        return depths

    assert run(queued) == [6, 0]
    assert [rows for rows, _ in model.batches] == [1, 4, 2]


def test_max_batch_size_must_be_positive(executor: ThreadPoolExecutor) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DynamicBatcher(Recorder(), executor, max_batch_size=0, max_latency_s=0.0)
