"""SIGTERM during a burst: readiness turns false, in-flight requests all finish, the server exits 0."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from support.servers import Server
from support.wait import wait_for

ROWS = 256  # rows per request: a few milliseconds of work each for the wide model


def _inflight(server: Server) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "lepton_serving_inflight_requests":
                return sample.value
    return 0.0


async def _burst(url: str, count: int) -> list[tuple[int, Any]]:
    body = json.dumps(
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [ROWS, 16], "data": [0.25] * (ROWS * 16)}]}
    )
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:

        async def one() -> tuple[int, Any]:
            async with session.post(f"{url}/v2/models/example/infer", data=body) as response:
                return response.status, await response.json()

        return await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(count)), return_exceptions=False), 120
        )


def test_sigterm_drains_in_flight_requests_and_exits_zero(start_server: Any, heavy_artifact: Path) -> None:
    server: Server = start_server(
        heavy_artifact, "--no-batching", "--drain-delay-s", "1", "--drain-timeout-s", "60"
    )
    results: list[tuple[int, Any]] = []
    failure: list[BaseException] = []

    def client() -> None:
        try:
            results.extend(asyncio.run(_burst(server.url, 32)))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        wait_for(lambda: _inflight(server) >= 8, 30, "requests in flight", interval=0.02)
        server.process.terminate()
        not_ready = wait_for(
            lambda: httpx.get(f"{server.url}/v2/health/ready", timeout=2).status_code == 503,
            10,
            "readiness to turn false after SIGTERM",
            interval=0.05,
        )
        assert not_ready
    finally:
        thread.join(timeout=120)
    assert not thread.is_alive(), "the burst did not finish"
    assert not failure, f"the burst failed: {failure[0]!r}"
    assert len(results) == 32
    statuses = [status for status, _ in results]
    assert statuses == [200] * 32, f"statuses: {statuses}"
    first = np.asarray(results[0][1]["outputs"][0]["data"])
    assert all(np.array_equal(np.asarray(body["outputs"][0]["data"]), first) for _, body in results)
    assert server.process.wait(timeout=60) == 0, server.output()
    assert "drained in" in server.output()
    try:
        httpx.get(f"{server.url}/v2/health/live", timeout=2)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the server still accepts connections after exiting")
