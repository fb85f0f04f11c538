"""OIP v2 tensor encoding and decoding: every datatype, JSON and the binary extension."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest

from lepton.serving.codec import (
    DTYPES,
    HEADER_LENGTH,
    decode_request,
    encode_response,
    split_body,
)
from lepton.serving.errors import InvalidInput
from lepton.serving.protocol import InferenceRequest

NUMERIC: dict[str, list[Any]] = {
    "FP32": [[0.5, -1.25, 3.0], [1e-3, 2.0, -0.0]],
    "FP16": [[0.5, -1.25, 3.0], [0.25, 2.0, 65504.0]],
    "FP64": [[0.1, -1.25, 3.0], [1e300, 2.0, -7.0]],
    "INT64": [[1, -2, 3], [2**62, 0, -(2**62)]],
    "INT32": [[1, -2, 3], [2**31 - 1, 0, -(2**31)]],
    "INT16": [[1, -2, 3], [32767, 0, -32768]],
    "INT8": [[1, -2, 3], [127, 0, -128]],
    "UINT8": [[1, 2, 3], [255, 0, 7]],
    "UINT16": [[1, 2, 3], [65535, 0, 7]],
    "UINT32": [[1, 2, 3], [2**32 - 1, 0, 7]],
    "UINT64": [[1, 2, 3], [2**63, 0, 7]],
    "BOOL": [[True, False, True], [False, False, True]],
}


def body(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


def tensor(
    data: Any, datatype: str = "FP32", shape: list[int] | None = None, name: str = "x"
) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape if shape is not None else [2, 3], "data": data}


@pytest.mark.parametrize("datatype", list(NUMERIC), ids=list(NUMERIC))
@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_json_numbers_decode_to_the_datatype_and_shape(datatype: str, layout: str) -> None:
    data = NUMERIC[datatype]
    sent = data if layout == "nested" else [v for row in data for v in row]
    decoded = decode_request(body(tensor(sent, datatype)))
    array = decoded.tensors["x"]
    assert array.dtype == DTYPES[datatype]
    assert array.shape == (2, 3)
    np.testing.assert_array_equal(array, np.array(data, dtype=DTYPES[datatype]))


def test_json_bytes_decode_to_an_object_array_of_bytes() -> None:
    decoded = decode_request(body(tensor([["a", "é"], ["", "xyz"]], "BYTES", [2, 2])))
    assert decoded.tensors["x"].tolist() == [[b"a", "é".encode()], [b"", b"xyz"]]


@pytest.mark.parametrize("datatype", [*NUMERIC, "BYTES"], ids=[*NUMERIC, "BYTES"])
def test_binary_inputs_decode_like_json_ones(datatype: str) -> None:
    if datatype == "BYTES":
        values = np.array([b"a", b"", b"hello", b"\x00\xff", b"z", b"12"], dtype=object).reshape(2, 3)
        raw = b"".join(struct.pack("<I", len(v)) + v for v in values.reshape(-1))
    else:
        values = np.array(NUMERIC[datatype], dtype=DTYPES[datatype])
        raw = values.tobytes()
    header = body(
        {"name": "x", "datatype": datatype, "shape": [2, 3], "parameters": {"binary_data_size": len(raw)}}
    )
    decoded = decode_request(header + raw, str(len(header)))
    np.testing.assert_array_equal(decoded.tensors["x"], values)
    assert decoded.tensors["x"].flags.writeable


def test_binary_and_json_inputs_mix_in_order() -> None:
    a = np.arange(4, dtype=np.float32)
    b = np.array([7, 8], dtype=np.int64)
    header = body(
        {"name": "a", "datatype": "FP32", "shape": [4], "parameters": {"binary_data_size": 16}},
        tensor([1, 2], "INT32", [2], name="j"),
        {"name": "b", "datatype": "INT64", "shape": [2], "parameters": {"binary_data_size": 16}},
    )
    decoded = decode_request(header + a.tobytes() + b.tobytes(), str(len(header)))
    assert list(decoded.tensors) == ["a", "j", "b"]
    np.testing.assert_array_equal(decoded.tensors["a"], a)
    np.testing.assert_array_equal(decoded.tensors["b"], b)
    np.testing.assert_array_equal(decoded.tensors["j"], [1, 2])


BAD: dict[str, tuple[bytes, str | None, str]] = {
    "malformed JSON": (b"{inputs", None, "invalid inference request"),
    "not an object": (b"[1, 2]", None, "invalid inference request"),
    "no inputs": (b"{}", None, "inputs: Field required"),
    "shape not a list": (body({"name": "x", "datatype": "FP32", "shape": 3, "data": [1]}), None, "shape"),
    "unknown datatype": (body(tensor([1.0], "FP8", [1])), None, "unsupported datatype 'FP8'"),
    "negative dimension": (body(tensor([1.0], "FP32", [-1])), None, "negative dimension"),
    "too few elements": (
        body(tensor([1.0, 2.0], "FP32", [2, 3])),
        None,
        "data has 2 elements but shape [2, 3] needs 6",
    ),
    "too many elements": (body(tensor([1] * 7, "INT64", [2, 3])), None, "data has 7 elements"),
    "ragged nested data": (body(tensor([[1, 2, 3], [4, 5]], "FP32")), None, "not a rectangular array"),
    "strings for FP32": (body(tensor(["1"] * 6, "FP32")), None, "does not hold FP32 values"),
    "floats for INT64": (body(tensor([1.5] * 6, "INT64")), None, "does not hold INT64 values"),
    "numbers for BOOL": (body(tensor([1] * 6, "BOOL")), None, "does not hold BOOL values"),
    "null in data": (body(tensor([None] * 6, "FP32")), None, "does not hold FP32 values"),
    "INT8 out of range": (body(tensor([1, 2, 3, 4, 5, 300], "INT8")), None, "out of range for INT8"),
    "numbers for BYTES": (body(tensor([1, 2], "BYTES", [2])), None, "BYTES data must be strings"),
    "no data": (body({"name": "x", "datatype": "FP32", "shape": [1]}), None, "has no data"),
    "duplicate input": (body(tensor([1.0], shape=[1]), tensor([2.0], shape=[1])), None, "more than once"),
    "header length not a number": (b"{}", "abc", "must be an integer"),
    "header length past the body": (b"{}", "99", "but the body has 2 bytes"),
    "binary size past the end": (
        body({"name": "x", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}})
        + b"1234",
        "len",
        "runs past the end",
    ),
    "binary size not matching shape": (
        body({"name": "x", "datatype": "FP32", "shape": [3], "parameters": {"binary_data_size": 8}})
        + b"12345678",
        "len",
        "8 bytes of binary data but shape [3] of FP32 needs 12",
    ),
    "unclaimed binary data": (
        body(tensor([1.0], shape=[1])) + b"junk",
        "len",
        "4 bytes of binary data follow",
    ),
    "binary size and data both": (
        body({**tensor([1.0], shape=[1]), "parameters": {"binary_data_size": 4}}) + b"1234",
        "len",
        "both data and binary_data_size",
    ),
    "truncated binary BYTES": (
        body({"name": "x", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 6}})
        + struct.pack("<I", 2)
        + b"ab",
        "len",
        "ends after 1 of 2 elements",
    ),
}


@pytest.mark.parametrize("case", list(BAD.values()), ids=list(BAD))
def test_bad_requests_raise_invalid_input_with_a_reason(case: tuple[bytes, str | None, str]) -> None:
    raw, header_length, message = case
    if header_length == "len":
        header_length = str(raw.index(b"}]}") + 3)
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode_request(raw, header_length)


def test_split_body_without_header_is_all_json() -> None:
    header, rest = split_body(b'{"a": 1}', None)
    assert header == b'{"a": 1}'
    assert len(rest) == 0


def _request(**fields: Any) -> InferenceRequest:
    return InferenceRequest.model_validate({"inputs": [], **fields})


@pytest.mark.parametrize("datatype", [*NUMERIC, "BYTES"], ids=[*NUMERIC, "BYTES"])
@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_responses_round_trip_through_the_client_view(datatype: str, binary: bool) -> None:
    if datatype == "BYTES":
        values = np.array([b"a", b"bc", b"", b"d"], dtype=object).reshape(2, 2)
    else:
        values = np.array(NUMERIC[datatype], dtype=DTYPES[datatype])
    request = _request(id="r1", outputs=[{"name": "y", "parameters": {"binary_data": binary}}])
    payload, header_length = encode_response("m", "3", request, [("y", values)])
    header = json.loads(payload[:header_length] if header_length else payload)
    assert (header["model_name"], header["model_version"], header["id"]) == ("m", "3", "r1")
    (output,) = header["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("y", datatype, list(values.shape))
    if binary:
        assert header_length is not None
        raw = payload[header_length:]
        assert output["parameters"]["binary_data_size"] == len(raw)
        assert "data" not in output
        decoded = decode_request(
            body(
                {
                    "name": "y",
                    "datatype": datatype,
                    "shape": output["shape"],
                    "parameters": output["parameters"],
                }
            )
            + raw,
            str(
                len(
                    body(
                        {
                            "name": "y",
                            "datatype": datatype,
                            "shape": output["shape"],
                            "parameters": output["parameters"],
                        }
                    )
                )
            ),
        ).tensors["y"]
    else:
        assert header_length is None
        decoded = decode_request(body(tensor(output["data"], datatype, output["shape"], "y"))).tensors["y"]
    np.testing.assert_array_equal(decoded, values)


@pytest.mark.parametrize(
    ("fields", "binary"),
    [
        ({}, False),
        ({"parameters": {"binary_data_output": True}}, True),
        (
            {
                "parameters": {"binary_data_output": True},
                "outputs": [{"name": "y", "parameters": {"binary_data": False}}],
            },
            False,
        ),
        ({"outputs": [{"name": "y"}]}, False),
        ({"outputs": [{"name": "y", "parameters": {"binary_data": True}}]}, True),
    ],
    ids=[
        "default json",
        "binary_data_output",
        "output overrides request",
        "output without parameter",
        "binary_data",
    ],
)
def test_binary_output_selection(fields: dict[str, Any], binary: bool) -> None:
    _, header_length = encode_response("m", None, _request(**fields), [("y", np.zeros(2, np.float32))])
    assert (header_length is not None) is binary


def test_header_length_name_is_tritons() -> None:
    assert HEADER_LENGTH == "Inference-Header-Content-Length"
