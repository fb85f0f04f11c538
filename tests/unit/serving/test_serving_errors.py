"""Error mapping: the exception table, and what the REST layer answers for each kind of error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import torch
from aiohttp.test_utils import TestClient, TestServer

from lepton.artifacts import Manifest
from lepton.serving.dataplane import DataPlane, ServedModel
from lepton.serving.errors import (
    InferenceFailed,
    InvalidInput,
    ModelNotFound,
    PayloadTooLarge,
    ServerNotReady,
    ServingError,
    http_status,
)
from lepton.serving.metrics import ServingMetrics
from lepton.serving.model import ModelRunner
from lepton.serving.rest import create_app

T = TypeVar("T")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput, 400),
        (ModelNotFound, 404),
        (PayloadTooLarge, 413),
        (ServerNotReady, 503),
        (InferenceFailed, 500),
        (ServingError, 400),
    ],
    ids=["invalid input", "not found", "too large", "not ready", "model failed", "base class"],
)
def test_each_error_kind_has_its_status(error: type[ServingError], status: int) -> None:
    assert http_status(error("x")) == status


def _runner() -> ModelRunner:
    manifest = Manifest.model_validate(
        {
            "format": "torch-export",
            "file": "model.pt2",
            "digest": "sha256:" + "0" * 64,
            "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3]}],
            "outputs": [{"name": "output", "datatype": "FP32", "shape": [-1, 1]}],
        }
    )
    return ModelRunner(lambda x: x.sum(dim=1, keepdim=True), manifest, "cpu")


Scenario = Callable[[TestClient[Any, Any], ServedModel, ThreadPoolExecutor], Awaitable[T]]


def serve(scenario: Scenario[T], *, ready: bool = True, load_wait_s: float = 5.0, max_body: int = 4096) -> T:
    async def main() -> T:
        executor = ThreadPoolExecutor(max_workers=1)
        dataplane = DataPlane(ServingMetrics())
        model = ServedModel("m", "2", dataplane.metrics, load_wait_s=load_wait_s)
        dataplane.add(model)
        if ready:
            model.set_ready(_runner(), executor)
        try:
            async with TestClient(TestServer(create_app(dataplane, max_body_bytes=max_body))) as client:
                return await asyncio.wait_for(scenario(client, model, executor), 20)
        finally:
            executor.shutdown(wait=True)

    return asyncio.run(main())


GOOD = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]}


def _input(**changes: Any) -> dict[str, Any]:
    return {"inputs": [{**GOOD["inputs"][0], **changes}]}


BAD: dict[str, tuple[str, str, Any, int, str]] = {
    "unknown model": ("POST", "/v2/models/nope/infer", GOOD, 404, "model 'nope' is not served here"),
    "unknown version": ("POST", "/v2/models/m/versions/9/infer", GOOD, 404, "has no version '9'"),
    "unknown model metadata": ("GET", "/v2/models/nope", None, 404, "not served here"),
    "malformed JSON": ("POST", "/v2/models/m/infer", b"{", 400, "invalid inference request"),
    "wrong datatype": (
        "POST",
        "/v2/models/m/infer",
        _input(datatype="INT64"),
        400,
        "must be FP32, got INT64",
    ),
    "wrong shape": (
        "POST",
        "/v2/models/m/infer",
        _input(shape=[3, 2]),
        400,
        "has shape [3, 2] but the model takes [-1, 3]",
    ),
    "length vs shape": (
        "POST",
        "/v2/models/m/infer",
        _input(shape=[1, 3]),
        400,
        "data has 6 elements but shape [1, 3]",
    ),
    "wrong input name": (
        "POST",
        "/v2/models/m/infer",
        _input(name="x"),
        400,
        "exactly one input named 'input'",
    ),
    "unknown output": (
        "POST",
        "/v2/models/m/infer",
        {**GOOD, "outputs": [{"name": "z"}]},
        400,
        "unknown output 'z'",
    ),
    "empty batch": ("POST", "/v2/models/m/infer", _input(shape=[0, 3], data=[]), 400, "empty batch"),
    "oversized body": (
        "POST",
        "/v2/models/m/infer",
        _input(data=[1.0] * 2000),
        413,
        "exceeds the limit of 4096 bytes",
    ),
    "unknown route": ("GET", "/v2/nothing", None, 404, "Not Found"),
    "wrong method": ("GET", "/v2/models/m/infer", None, 405, "Method Not Allowed"),
}


@pytest.mark.parametrize("case", list(BAD.values()), ids=list(BAD))
def test_bad_requests_get_json_errors_with_their_status(case: tuple[str, str, Any, int, str]) -> None:
    method, path, payload, status, message = case

    async def scenario(
        client: TestClient[Any, Any], model: ServedModel, _: ThreadPoolExecutor
    ) -> tuple[int, Any]:
        data = payload if isinstance(payload, bytes) else None if payload is None else json.dumps(payload)
        response = await client.request(method, path, data=data)
        return response.status, await response.json()

    got_status, body = serve(scenario)
    assert got_status == status
    assert message in body["error"]


def test_a_request_during_loading_waits_and_then_succeeds() -> None:
    async def scenario(client: TestClient[Any, Any], model: ServedModel, executor: ThreadPoolExecutor) -> Any:
        pending = asyncio.ensure_future(client.post("/v2/models/m/infer", data=json.dumps(GOOD)))
        ready = await client.get("/v2/health/ready")
        assert ready.status == 503
        await asyncio.sleep(0.1)
        assert not pending.done()
        model.set_ready(_runner(), executor)
        response = await pending
        assert response.status == 200
        return await response.json()

    body = serve(scenario, ready=False)
    assert body["outputs"][0]["data"] == [6.0, 15.0]


@pytest.mark.parametrize(
    ("failure", "message"),
    [(None, "is still loading (waited 0.2s)"), ("digest mismatch", "failed to load: digest mismatch")],
    ids=["load takes too long", "load failed"],
)
def test_requests_for_a_model_that_is_not_loaded_get_503(failure: str | None, message: str) -> None:
    async def scenario(
        client: TestClient[Any, Any], model: ServedModel, _: ThreadPoolExecutor
    ) -> tuple[int, Any]:
        if failure is not None:
            model.set_failed(failure)
        response = await client.post("/v2/models/m/infer", data=json.dumps(GOOD))
        return response.status, await response.json()

    status, body = serve(scenario, ready=False, load_wait_s=0.2)
    assert status == 503
    assert message in body["error"]


def test_a_model_that_raises_gives_a_json_500_not_a_crash() -> None:
    async def scenario(
        client: TestClient[Any, Any], model: ServedModel, executor: ThreadPoolExecutor
    ) -> list[int]:
        runner = _runner()
        runner.module = lambda x: torch.zeros(1, 1) / x.new_tensor([0]).reshape(1, 1, 1, 1).sum(dim=(5,))
        model.batcher = None
        model.set_ready(runner, executor)
        bad = await client.post("/v2/models/m/infer", data=json.dumps(GOOD))
        assert "inference failed: " in (await bad.json())["error"]
        live = await client.get("/v2/health/live")
        return [bad.status, live.status]

    assert serve(scenario) == [500, 200]
