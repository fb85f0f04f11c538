"""Pure: inputs for `lepton predict` (JSON, CSV, .npy) and Open Inference Protocol v2 bodies.

JSON input is either a whole OIP request ({"inputs": [...]}, sent as written), an object of input
name -> nested list, or a bare nested list (the model's one input). CSV is one row per example,
numbers only, an optional header line. `.npy` is one array (never pickled objects).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lepton.client.errors import UsageError

Array = npt.NDArray[Any]

DTYPES: dict[str, str] = {
    "BOOL": "bool", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}  # fmt: skip
_DATATYPE_OF = {(np.dtype(v).kind, np.dtype(v).itemsize): k for k, v in DTYPES.items()}


def datatype_of(array: Array) -> str:
    if array.dtype.kind in "OSU":
        return "BYTES"
    try:
        return _DATATYPE_OF[(array.dtype.kind, array.dtype.itemsize)]
    except KeyError:
        raise UsageError(
            f"arrays of {array.dtype} have no OIP datatype", "convert to float32 or int64"
        ) from None


def read_csv(text: str) -> Array:
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if rows and not _numeric(rows[0]):
        rows = rows[1:]  # a header line
    if not rows:
        raise UsageError("the CSV input has no rows")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise UsageError(
            f"the CSV rows have different lengths {sorted(widths)}", "give every row the same columns"
        )
    for number, row in enumerate(rows, start=1):
        if not _numeric(row):
            raise UsageError(f"CSV row {number} is not all numbers: {row}")
    return np.array([[float(cell) for cell in row] for row in rows], dtype=np.float32)


def _numeric(row: Sequence[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def read_input(path: str, data: bytes) -> dict[str, Any] | Array | dict[str, Array]:
    """The input of a file by its suffix (stdin, "-", is JSON): an OIP request dict (as written),
    one array, or named arrays."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        try:
            return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))
        except ValueError as exc:
            raise UsageError(f"{path} is not a numeric .npy array: {exc}") from None
    if suffix == ".csv":
        return read_csv(data.decode())
    if suffix not in (".json", "") and path != "-":
        raise UsageError(f"{path}: unknown input format {suffix!r}", "use a .json, .csv or .npy file")
    try:
        decoded = json.loads(data)
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}", "pass .csv or .npy files with their suffix") from None
    if isinstance(decoded, dict) and "inputs" in decoded:
        return decoded
    if isinstance(decoded, dict):
        return {str(name): _array(value, name) for name, value in decoded.items()}
    return _array(decoded, "input")


def _array(value: Any, name: str) -> Array:
    try:
        array = np.asarray(value)
    except ValueError as exc:
        raise UsageError(f"input {name!r} is not a rectangular array: {exc}") from None
    if array.dtype.kind == "f":
        array = array.astype(np.float32)  # JSON numbers: models take FP32 unless told otherwise
    return array


def request_body(
    inputs: Array | Mapping[str, Array], metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An infer request. One unnamed array takes the model's input name (and datatype) from its
    metadata (GET /v2/models/NAME) when known."""
    declared = list((metadata or {}).get("inputs") or [])
    if not isinstance(inputs, Mapping):
        name = declared[0]["name"] if declared else "input-0"
        inputs = {name: inputs}
    wanted = {d.get("name"): d.get("datatype") for d in declared}
    tensors = []
    for name, given in inputs.items():
        datatype = wanted.get(name)
        array = np.asarray(given)
        if datatype in DTYPES:
            array = array.astype(DTYPES[datatype])  # the model's declared type: 1 -> 1.0 for FP32
        else:
            datatype = datatype_of(array)
        tensors.append(
            {
                "name": name,
                "shape": list(np.shape(array)),
                "datatype": datatype,
                "data": array.ravel().tolist(),
            }
        )
    return {"inputs": tensors}


def outputs(response: Mapping[str, Any]) -> dict[str, Array]:
    """The outputs of an infer response as arrays of their shape and datatype."""
    result = {}
    for out in response.get("outputs") or []:
        dtype = DTYPES.get(str(out.get("datatype")), "object")
        result[str(out["name"])] = np.asarray(out.get("data", []), dtype=dtype).reshape(
            out.get("shape") or [-1]
        )
    return result
