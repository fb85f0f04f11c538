"""The activator's own answers: 503 with Retry-After and a JSON error when the queue is full or a
cold start takes too long, a freed slot when a client goes away, a drain on SIGTERM. No backend
ever listens here, so these are quick."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import aiohttp
import httpx
import pytest
from activator_harness import FakeOperator, Process, infer_body, start_activator

from support.ports import free_port
from support.wait import wait_for

INFER = "/v2/models/example/infer"


def _held(activator: Process, count: int, what: str) -> None:
    wait_for(
        lambda: activator.metric("lepton_activator_pending_requests") == count,
        10,
        what,
        seen=lambda: (activator.samples(), activator.output()),
    )


def _send_in_background(url: str, out: list[tuple[httpx.Response, float]]) -> threading.Thread:
    def send() -> None:
        start = time.monotonic()
        response = httpx.post(f"{url}{INFER}", content=infer_body(1, 0)[1], timeout=30)
        out.append((response, time.monotonic() - start))

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _assert_unavailable(response: httpx.Response, phrase: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert phrase in response.json()["error"]
    assert int(response.headers["Retry-After"]) >= 1


def test_a_full_queue_and_a_slow_cold_start_get_503_with_retry_after_and_nothing_else_fails(
    fake_operator: FakeOperator, processes: list[Process], tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    activator = start_activator(
        nowhere, fake_operator.url, tmp_path, "--queue-size", "2", "--timeout-seconds", "1.5"
    )
    processes.append(activator)
    held: list[tuple[httpx.Response, float]] = []
    threads = [_send_in_background(activator.url, held) for _ in range(2)]
    _held(activator, 2, "two held requests")

    start = time.monotonic()
    full = httpx.post(f"{activator.url}{INFER}", content=infer_body(1, 0)[1], timeout=30)
    assert time.monotonic() - start < 0.5, "a request over the queue size must be refused at once"
    _assert_unavailable(full, "queue full")

    for thread in threads:
        thread.join(timeout=10)
    assert len(held) == 2
    for response, waited in held:
        _assert_unavailable(response, "took too long")
        assert 1.5 <= waited < 3.0, f"held {waited:.3f}s with a timeout of 1.5s"
    assert activator.metric("lepton_activator_requests_total", code="503") == 3
    assert {key for key in activator.samples() if key[0] == "lepton_activator_requests_total"} == {
        ("lepton_activator_requests_total", (("code", "503"),))
    }
    assert activator.metric("lepton_activator_pending_requests") == 0
    assert len(fake_operator.calls) == 1


def test_a_client_that_goes_away_frees_its_place_in_the_queue(
    fake_operator: FakeOperator, processes: list[Process], tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    activator = start_activator(nowhere, fake_operator.url, tmp_path, "--queue-size", "1")
    processes.append(activator)

    async def give_up() -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(TimeoutError):
                async with session.post(
                    f"{activator.url}{INFER}",
                    data=infer_body(1, 0)[1],
                    timeout=aiohttp.ClientTimeout(total=1.0),
                ):
                    pass

    asyncio.run(give_up())
    _held(activator, 0, "the abandoned request to leave the queue")
    late: list[tuple[httpx.Response, float]] = []
    thread = _send_in_background(activator.url, late)
    _held(activator, 1, "the next request to be held, not refused")
    assert activator.stop() == 0, activator.output()
    thread.join(timeout=10)
    _assert_unavailable(late[0][0], "shutting down")


def test_sigterm_answers_held_requests_503_and_exits_0(
    fake_operator: FakeOperator, processes: list[Process], tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    activator = start_activator(nowhere, fake_operator.url, tmp_path, "--timeout-seconds", "60")
    processes.append(activator)
    held: list[tuple[httpx.Response, float]] = []
    threads = [_send_in_background(activator.url, held) for _ in range(3)]
    _held(activator, 3, "three held requests")
    start = time.monotonic()
    assert activator.stop(timeout=10) == 0, activator.output()
    assert time.monotonic() - start < 5, "the drain waited although no replica could become ready"
    for thread in threads:
        thread.join(timeout=10)
    assert len(held) == 3
    for response, _ in held:
        _assert_unavailable(response, "shutting down")
