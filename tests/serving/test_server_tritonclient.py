"""Triton's `tritonclient[http]` works against lepton-serve unchanged (JSON and binary tensors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import tritonclient.http as httpclient

from lepton.artifacts import load_artifact
from support.servers import Server


@pytest.fixture
def client(example_server: Server) -> Iterator[Any]:
    triton = httpclient.InferenceServerClient(
        url=example_server.url.removeprefix("http://"), network_timeout=30
    )
    yield triton
    triton.close()


def test_health_and_metadata_through_tritonclient(client: Any) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("example")
    metadata = client.get_model_metadata("example")
    assert metadata["inputs"][0] == {"name": "input", "datatype": "FP32", "shape": [-1, 16]}


@pytest.mark.parametrize(
    ("binary_input", "binary_output", "request_outputs"),
    [(True, True, True), (False, False, True), (True, False, True), (False, True, True), (True, True, False)],
    ids=[
        "binary both ways",
        "json both ways",
        "binary in json out",
        "json in binary out",
        "no outputs named",
    ],
)
def test_inference_through_tritonclient_equals_the_local_prediction(
    client: Any, artifact: Path, binary_input: bool, binary_output: bool, request_outputs: bool
) -> None:
    x = np.random.default_rng(11).normal(size=(3, 16)).astype(np.float32)
    infer_input = httpclient.InferInput("input", list(x.shape), "FP32")
    infer_input.set_data_from_numpy(x, binary_data=binary_input)
    outputs = (
        [httpclient.InferRequestedOutput("output", binary_data=binary_output)] if request_outputs else None
    )
    result = client.infer("example", [infer_input], outputs=outputs, request_id="r7")
    got = result.as_numpy("output")
    with torch.inference_mode():
        expected = load_artifact(artifact).module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert result.get_response()["id"] == "r7"


def test_tritonclient_sees_server_errors_as_exceptions(client: Any) -> None:
    from tritonclient.utils import InferenceServerException  # type: ignore[import-untyped]

    bad = httpclient.InferInput("input", [2, 8], "FP32")
    bad.set_data_from_numpy(np.zeros((2, 8), np.float32))
    with pytest.raises(InferenceServerException, match=r"has shape \[2, 8\] but the model takes \[-1, 16\]"):
        client.infer("example", [bad])
