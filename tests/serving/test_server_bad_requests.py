"""A real `lepton-serve` answers every kind of bad request with its status and a JSON reason."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from support.servers import Server

INFER = "/v2/models/example/infer"
ROW = [0.5] * 16


def request(**changes: Any) -> bytes:
    tensor = {"name": "input", "datatype": "FP32", "shape": [1, 16], "data": ROW, **changes}
    return json.dumps({"inputs": [tensor]}).encode()


def binary(size_claimed: int, raw: bytes, header_length: int | None = None) -> tuple[bytes, dict[str, str]]:
    tensor = {
        "name": "input",
        "datatype": "FP32",
        "shape": [1, 16],
        "parameters": {"binary_data_size": size_claimed},
    }
    header = json.dumps({"inputs": [tensor]}).encode()
    length = len(header) if header_length is None else header_length
    return header + raw, {"Inference-Header-Content-Length": str(length)}


# scenario: (method, path, body, headers, status, message)
CASES: dict[str, tuple[str, str, bytes | None, dict[str, str], int, str]] = {
    "unknown model": ("POST", "/v2/models/nope/infer", request(), {}, 404, "model 'nope' is not served here"),
    "unknown version": (
        "POST",
        INFER.replace("example", "example/versions/7"),
        request(),
        {},
        404,
        "has no version '7'",
    ),
    "unknown model ready": ("GET", "/v2/models/nope/ready", None, {}, 404, "not served here"),
    "malformed JSON": ("POST", INFER, b'{"inputs": [', {}, 400, "invalid inference request"),
    "JSON that is not a request": ("POST", INFER, b'"hello"', {}, 400, "invalid inference request"),
    "empty body": ("POST", INFER, b"", {}, 400, "invalid inference request"),
    "missing inputs": ("POST", INFER, b"{}", {}, 400, "inputs: Field required"),
    "wrong datatype": (
        "POST",
        INFER,
        request(datatype="INT64", data=[1] * 16),
        {},
        400,
        "must be FP32, got INT64",
    ),
    "unsupported datatype": (
        "POST",
        INFER,
        request(datatype="COMPLEX"),
        {},
        400,
        "unsupported datatype 'COMPLEX'",
    ),
    "wrong rank": (
        "POST",
        INFER,
        request(shape=[16]),
        {},
        400,
        "has shape [16] but the model takes [-1, 16]",
    ),
    "wrong feature size": (
        "POST",
        INFER,
        request(shape=[2, 8]),
        {},
        400,
        "has shape [2, 8] but the model takes [-1, 16]",
    ),
    "data shorter than shape": (
        "POST",
        INFER,
        request(shape=[2, 16]),
        {},
        400,
        "data has 16 elements but shape [2, 16]",
    ),
    "data not numbers": ("POST", INFER, request(data=["a"] * 16), {}, 400, "does not hold FP32 values"),
    "ragged data": ("POST", INFER, request(data=[[1.0] * 16, [1.0]]), {}, 400, "not a rectangular array"),
    "wrong input name": ("POST", INFER, request(name="pixels"), {}, 400, "exactly one input named 'input'"),
    "unknown output": (
        "POST",
        INFER,
        json.dumps({"inputs": json.loads(request())["inputs"], "outputs": [{"name": "probs"}]}).encode(),
        {},
        400,
        "unknown output 'probs'",
    ),
    "binary size not matching shape": (
        "POST",
        INFER,
        *binary(32, b"\0" * 32),
        400,
        "32 bytes of binary data",
    ),
    "binary data cut short": ("POST", INFER, *binary(64, b"\0" * 10), 400, "runs past the end"),
    "header length past the body": (
        "POST",
        INFER,
        *binary(64, b"\0" * 64, header_length=10_000),
        400,
        "but the body has",
    ),
    "header length not a number": (
        "POST",
        INFER,
        request(),
        {"Inference-Header-Content-Length": "x"},
        400,
        "must be an integer",
    ),
    "oversized body": (
        "POST",
        INFER,
        request(shape=[5000, 16], data=ROW * 5000),
        {},
        413,
        "exceeds the limit of 65536",
    ),
    "unknown path": ("GET", "/v3/models", None, {}, 404, "Not Found"),
    "wrong method": ("DELETE", INFER, None, {}, 405, "Method Not Allowed"),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_request_gets_its_status_and_reason(
    example_server: Server, case: tuple[str, str, bytes | None, dict[str, str], int, str]
) -> None:
    method, path, body, headers, status, message = case
    response = httpx.request(method, f"{example_server.url}{path}", content=body, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert message in response.json()["error"]


def test_the_server_still_serves_after_the_bad_requests(example_server: Server) -> None:
    for _ in range(3):
        response = httpx.post(f"{example_server.url}{INFER}", content=request(), timeout=10)
        assert response.status_code == 200, response.text
    assert example_server.process.poll() is None
    assert "Traceback" not in example_server.output()
