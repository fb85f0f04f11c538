"""`lepton predict` inputs (JSON, CSV, .npy) and the OIP v2 bodies built from them."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from lepton.client import oip
from lepton.client.errors import UsageError

METADATA = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 3]}]}


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_json_nested_list_is_one_float32_input():
    array = oip.read_input("x.json", b"[[1.5, 2, 3], [4, 5, 6]]")
    assert isinstance(array, np.ndarray)
    assert (array.dtype, array.shape) == (np.float32, (2, 3))


def test_json_object_names_the_inputs():
    named = oip.read_input("-", b'{"a": [1, 2], "b": [[0.5]]}')
    assert set(named) == {"a", "b"}
    assert named["a"].dtype.kind == "i"
    assert named["b"].dtype == np.float32


def test_json_oip_request_is_sent_as_written():
    body = {"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [7]}], "id": "r1"}
    assert oip.read_input("req.json", json.dumps(body).encode()) == body


def test_csv_with_a_header_is_rows_of_float32():
    array = oip.read_input("in.csv", b"a,b,c\n1,2,3\n4,5,6\n\n")
    np.testing.assert_array_equal(array, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1,2\n3\n", "different lengths"),
        ("a,b\n", "no rows"),
        ("1,2\n3,x\n", "row 2 is not all numbers"),
    ],
)
def test_bad_csv_says_which_row(text, says):
    with pytest.raises(UsageError, match=says):
        oip.read_input("in.csv", text.encode())


def test_npy_keeps_dtype_and_shape():
    source = np.arange(12, dtype=np.int32).reshape(3, 4)
    loaded = oip.read_input("x.npy", npy(source))
    assert loaded.dtype == np.int32
    np.testing.assert_array_equal(loaded, source)


def test_npy_of_pickled_objects_is_refused():
    with pytest.raises(UsageError, match=r"not a numeric \.npy"):
        oip.read_input("x.npy", npy(np.array([{"a": 1}], dtype=object)))


@pytest.mark.parametrize(("path", "data"), [("x.txt", b"1"), ("x.json", b"{nope")])
def test_unknown_or_broken_input_says_what_to_pass(path, data):
    with pytest.raises(UsageError) as exc:
        oip.read_input(path, data)
    assert ".csv" in exc.value.hint or ".csv" in exc.value.message


def test_request_takes_the_models_input_name_and_datatype():
    body = oip.request_body(np.array([[1, 2, 3]], dtype=np.int64), METADATA)
    assert body == {
        "inputs": [{"name": "features", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 3.0]}]
    }


def test_request_without_metadata_uses_the_arrays_own_datatype():
    body = oip.request_body({"ids": np.array([1, 2], dtype=np.int64), "mask": np.array([True, False])})
    assert [(t["name"], t["datatype"], t["data"]) for t in body["inputs"]] == [
        ("ids", "INT64", [1, 2]),
        ("mask", "BOOL", [True, False]),
    ]


def test_outputs_become_arrays_of_their_shape_and_type():
    response = {"outputs": [{"name": "logits", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
    logits = oip.outputs(response)["logits"]
    assert (logits.dtype, logits.shape) == (np.float32, (2, 2))
    assert logits[1, 0] == 3


def test_complex_arrays_have_no_oip_type():
    with pytest.raises(UsageError, match="no OIP datatype"):
        oip.datatype_of(np.array([1j]))
