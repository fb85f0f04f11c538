"""A real `lepton-serve` process: OIP v2 metadata, inference equal to the local model, metrics."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families

from lepton.artifacts import load_artifact
from support.servers import Server


@functools.cache
def _local_model(artifact: Path) -> Any:
    return load_artifact(artifact).module


def local_prediction(artifact: Path, inputs: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        out: np.ndarray = _local_model(artifact)(torch.from_numpy(inputs)).numpy()
    return out


def metric_samples(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_health_and_metadata_describe_the_served_model(example_server: Server) -> None:
    url = example_server.url
    server = httpx.get(f"{url}/v2", timeout=5).json()
    assert server["name"] == "lepton-serve"
    assert "binary_tensor_data" in server["extensions"]
    assert httpx.get(f"{url}/v2/health/live", timeout=5).status_code == 200
    assert httpx.get(f"{url}/v2/health/ready", timeout=5).json() == {"ready": True}
    for path in ("/v2/models/example", "/v2/models/example/versions/1"):
        metadata = httpx.get(f"{url}{path}", timeout=5).json()
        assert metadata["name"] == "example"
        assert metadata["versions"] == ["1"]
        assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 16]}]
        assert metadata["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 4]}]
    ready = httpx.get(f"{url}/v2/models/example/ready", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["ready"] is True


def _json_body(x: np.ndarray, *, nested: bool = False, **extra: Any) -> bytes:
    data = x.tolist() if nested else x.reshape(-1).tolist()
    return json.dumps(
        {
            "id": "req-1",
            "inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": data}],
            **extra,
        }
    ).encode()


def _binary_body(x: np.ndarray) -> tuple[bytes, dict[str, str]]:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": list(x.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "outputs": [{"name": "output", "parameters": {"binary_data": True}}],
        }
    ).encode()
    return header + x.tobytes(), {"Inference-Header-Content-Length": str(len(header))}


def _decode(response: httpx.Response) -> tuple[dict[str, Any], np.ndarray]:
    length = response.headers.get("Inference-Header-Content-Length")
    header = json.loads(response.content[: int(length)] if length else response.content)
    (output,) = header["outputs"]
    if length:
        raw = response.content[int(length) :]
        assert output["parameters"]["binary_data_size"] == len(raw)
        values = np.frombuffer(raw, dtype="<f4")
    else:
        values = np.asarray(output["data"], dtype=np.float32)
    return header, values.reshape(output["shape"])


ENCODINGS = ["json", "json without content-type", "nested json", "binary", "versioned path"]


@pytest.mark.parametrize("encoding", ENCODINGS, ids=ENCODINGS)
def test_inference_over_http_equals_the_local_prediction(
    example_server: Server, artifact: Path, encoding: str
) -> None:
    x = np.random.default_rng(7).normal(size=(5, 16)).astype(np.float32)
    path = (
        "/v2/models/example/versions/1/infer" if encoding == "versioned path" else "/v2/models/example/infer"
    )
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if encoding == "binary":
        body, headers = _binary_body(x)
    else:
        body = _json_body(x, nested=encoding == "nested json")
        if encoding == "json without content-type":
            headers = {}
    response = httpx.post(f"{example_server.url}{path}", content=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    if encoding == "json without content-type":
        assert "content-type" not in response.request.headers
    header, values = _decode(response)
    assert header["model_name"] == "example"
    assert header["model_version"] == "1"
    np.testing.assert_allclose(values, local_prediction(artifact, x), rtol=1e-5, atol=1e-6)


async def _burst(url: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(x: np.ndarray) -> np.ndarray:
            async with session.post(f"{url}/v2/models/example/infer", data=_json_body(x)) as response:
                assert response.status == 200, await response.text()
                output = (await response.json())["outputs"][0]
                return np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])

        return await asyncio.wait_for(asyncio.gather(*(one(x) for x in inputs)), 60)


def test_concurrent_requests_are_batched_and_each_gets_its_own_result(
    example_server: Server, artifact: Path
) -> None:
    rng = np.random.default_rng(3)
    inputs = [rng.normal(size=(1 + i % 3, 16)).astype(np.float32) for i in range(64)]
    before = metric_samples(example_server)
    results = asyncio.run(_burst(example_server.url, inputs))
    after = metric_samples(example_server)
    for x, got in zip(inputs, results, strict=True):
        np.testing.assert_allclose(got, local_prediction(artifact, x), rtol=1e-5, atol=1e-6)
    labels = {"model": "example", "version": "1"}
    batches = sample(after, "lepton_serving_batch_size_count", **labels) - sample(
        before, "lepton_serving_batch_size_count", **labels
    )
    rows = sample(after, "lepton_serving_batch_size_sum", **labels) - sample(
        before, "lepton_serving_batch_size_sum", **labels
    )
    assert rows == sum(x.shape[0] for x in inputs)
    assert 1 <= batches < len(inputs), f"{len(inputs)} concurrent requests ran in {batches} batches"


def test_metrics_count_the_requests_sent(example_server: Server) -> None:
    url = example_server.url
    good = _json_body(np.ones((2, 16), np.float32))
    bad = _json_body(np.ones((2, 15), np.float32))
    before = metric_samples(example_server)
    statuses = [
        httpx.post(f"{url}/v2/models/example/infer", content=good, timeout=10).status_code for _ in range(7)
    ]
    statuses += [
        httpx.post(f"{url}/v2/models/example/infer", content=bad, timeout=10).status_code for _ in range(3)
    ]
    statuses += [
        httpx.post(f"{url}/v2/models/other/infer", content=good, timeout=10).status_code for _ in range(2)
    ]
    assert statuses == [200] * 7 + [400] * 3 + [404] * 2
    after = metric_samples(example_server)
    labels = {"model": "example", "version": "1"}

    def delta(name: str, **extra: str) -> float:
        return sample(after, name, **extra) - sample(before, name, **extra)

    assert delta("lepton_serving_requests_total", code="200", **labels) == 7
    assert delta("lepton_serving_requests_total", code="400", **labels) == 3
    assert delta("lepton_serving_requests_total", code="404", model="", version="") == 2
    assert delta("lepton_serving_request_duration_seconds_count", **labels) == 10
    assert delta("lepton_serving_batch_size_sum", **labels) == 14
    assert delta("lepton_serving_inference_duration_seconds_count", **labels) == 7
    assert sample(after, "lepton_serving_inflight_requests", **labels) == 0
    assert sample(after, "lepton_serving_queue_depth", **labels) == 0
    assert sample(after, "lepton_serving_model_ready", **labels) == 1
