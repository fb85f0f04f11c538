"""Tensors on the wire: OIP JSON data and the binary tensor data extension <-> numpy arrays.

Binary extension (Triton's, used by ``tritonclient``): the body is the JSON request followed by
raw tensor bytes; the header ``Inference-Header-Content-Length`` gives the JSON part's length,
and each input sent in binary carries ``parameters.binary_data_size``. Numbers are little-endian,
BOOL is one byte per element, BYTES elements are a 4-byte little-endian length then the bytes.
Outputs go back in binary when the requested output has ``parameters.binary_data: true`` or the
request has ``parameters.binary_data_output: true``.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lepton.serving.errors import InvalidInput
from lepton.serving.protocol import InferenceRequest, RequestInput, parse_request

HEADER_LENGTH = "Inference-Header-Content-Length"

# OIP datatype -> little-endian numpy dtype; BYTES is an object array of ``bytes``.
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_DATATYPE_OF: dict[tuple[str, int], str] = {
    (dtype.kind, dtype.itemsize): name for name, dtype in DTYPES.items() if name != "BYTES"
}
# numpy kinds a JSON array may decode to for each target kind (ints are fine as floats, not back).
_ACCEPTED_KINDS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True)
class DecodedRequest:
    request: InferenceRequest
    tensors: dict[str, npt.NDArray[Any]]


def datatype_of(array: npt.NDArray[Any]) -> str:
    """The OIP datatype of a numpy array (object arrays are BYTES)."""
    if array.dtype.kind in "OSU":
        return "BYTES"
    try:
        return _DATATYPE_OF[(array.dtype.kind, array.dtype.itemsize)]
    except KeyError:
        raise InvalidInput(f"numpy dtype {array.dtype} has no OIP datatype") from None


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """Split a request body into its JSON part and the binary tensor data that follows it."""
    view = memoryview(body)
    if header_length is None:
        return body, view[len(body) :]
    try:
        length = int(header_length)
    except ValueError:
        raise InvalidInput(f"{HEADER_LENGTH} must be an integer, got {header_length!r}") from None
    if not 0 <= length <= len(body):
        raise InvalidInput(f"{HEADER_LENGTH} is {length} but the body has {len(body)} bytes")
    return bytes(view[:length]), view[length:]


def decode_request(body: bytes, header_length: str | None = None) -> DecodedRequest:
    """Decode an infer request body (JSON, optionally followed by binary tensor data)."""
    header, binary = split_body(body, header_length)
    request = parse_request(header)
    tensors: dict[str, npt.NDArray[Any]] = {}
    offset = 0
    for item in request.inputs:
        if item.name in tensors:
            raise InvalidInput(f"input {item.name!r} is given more than once")
        size = _binary_size(item)
        if size is None:
            tensors[item.name] = decode_tensor(item)
            continue
        if offset + size > len(binary):
            raise InvalidInput(
                f"input {item.name!r}: binary_data_size {size} runs past the end of the body "
                f"({len(binary) - offset} bytes left)"
            )
        tensors[item.name] = decode_tensor(item, binary[offset : offset + size])
        offset += size
    if offset != len(binary):
        raise InvalidInput(f"{len(binary) - offset} bytes of binary data follow the inputs unclaimed")
    return DecodedRequest(request, tensors)


def _binary_size(item: RequestInput) -> int | None:
    size = (item.parameters or {}).get("binary_data_size")
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInput(f"input {item.name!r}: binary_data_size must be a non-negative integer")
    if item.data is not None:
        raise InvalidInput(f"input {item.name!r} has both data and binary_data_size")
    return size


def _check_shape(item: RequestInput) -> int:
    if any(dim < 0 for dim in item.shape):
        raise InvalidInput(f"input {item.name!r}: shape {item.shape} has a negative dimension")
    return math.prod(item.shape)


def _dtype(name: str, datatype: str) -> np.dtype[Any]:
    try:
        return DTYPES[datatype]
    except KeyError:
        supported = ", ".join(DTYPES)
        raise InvalidInput(
            f"input {name!r}: unsupported datatype {datatype!r} (supported: {supported})"
        ) from None


def decode_tensor(item: RequestInput, binary: memoryview | None = None) -> npt.NDArray[Any]:
    """One input as a numpy array of its datatype and shape, from JSON data or binary bytes."""
    dtype = _dtype(item.name, item.datatype)
    count = _check_shape(item)
    if binary is not None:
        flat = _from_binary(item, dtype, count, binary)
    elif item.data is None:
        raise InvalidInput(f"input {item.name!r} has no data")
    elif dtype.kind == "O":
        flat = _bytes_from_json(item, count)
    else:
        flat = _numbers_from_json(item, dtype, count)
    return flat.reshape(item.shape)


def _size_error(item: RequestInput, got: int, count: int) -> InvalidInput:
    return InvalidInput(f"input {item.name!r}: data has {got} elements but shape {item.shape} needs {count}")


def _numbers_from_json(item: RequestInput, dtype: np.dtype[Any], count: int) -> npt.NDArray[Any]:
    try:
        # One C pass over the (possibly nested) list; the kind check below keeps it strict.
        array = np.asarray(item.data)
    except (ValueError, TypeError):
        raise InvalidInput(f"input {item.name!r}: data is not a rectangular array of numbers") from None
    if array.size != count:
        raise _size_error(item, array.size, count)
    if count == 0:
        return np.zeros(0, dtype=dtype)
    if dtype.kind in "iu" and array.dtype.kind in "fO":
        return _big_integers(item, dtype, count)
    if array.dtype.kind not in _ACCEPTED_KINDS[dtype.kind]:
        raise InvalidInput(f"input {item.name!r}: data does not hold {item.datatype} values")
    if dtype.kind in "iu" and array.dtype != dtype:
        info = np.iinfo(dtype)
        if array.min() < info.min or array.max() > info.max:
            raise InvalidInput(f"input {item.name!r}: values out of range for {item.datatype}")
    return np.ascontiguousarray(array, dtype=dtype).reshape(-1)


def _big_integers(item: RequestInput, dtype: np.dtype[Any], count: int) -> npt.NDArray[Any]:
    # numpy turns integers beyond int64 (UINT64's upper half) into float64 or objects; look at
    # the JSON values themselves to tell them from floats, which an integer input refuses.
    flat = list(_flatten(item.data))
    if len(flat) != count or not all(type(value) is int for value in flat):
        raise InvalidInput(f"input {item.name!r}: data does not hold {item.datatype} values")
    try:
        return np.array(flat, dtype=dtype)
    except OverflowError:
        raise InvalidInput(f"input {item.name!r}: values out of range for {item.datatype}") from None


def _flatten(data: Any) -> Iterator[Any]:
    stack = [iter(data if isinstance(data, list) else [data])]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            yield value
        else:
            stack.pop()


def _bytes_from_json(item: RequestInput, count: int) -> npt.NDArray[Any]:
    data = item.data if isinstance(item.data, list) else [item.data]
    try:
        array = np.array(data, dtype=object)
    except ValueError:
        raise InvalidInput(f"input {item.name!r}: data is not a rectangular array of strings") from None
    flat = array.reshape(-1)
    if flat.size != count:
        raise _size_error(item, flat.size, count)
    out = np.empty(count, dtype=object)
    for index, value in enumerate(flat):
        if not isinstance(value, str):
            raise InvalidInput(f"input {item.name!r}: BYTES data must be strings")
        out[index] = value.encode()
    return out


def _from_binary(
    item: RequestInput, dtype: np.dtype[Any], count: int, binary: memoryview
) -> npt.NDArray[Any]:
    if dtype.kind == "O":
        return _bytes_from_binary(item, count, binary)
    if len(binary) != count * dtype.itemsize:
        raise InvalidInput(
            f"input {item.name!r}: {len(binary)} bytes of binary data but shape {item.shape} of "
            f"{item.datatype} needs {count * dtype.itemsize}"
        )
    # Copied: frombuffer views are read-only and torch refuses to wrap those without a warning.
    return np.frombuffer(binary, dtype=dtype).copy()


def _bytes_from_binary(item: RequestInput, count: int, binary: memoryview) -> npt.NDArray[Any]:
    out = np.empty(count, dtype=object)
    offset = 0
    for index in range(count):
        if offset + 4 > len(binary):
            raise InvalidInput(
                f"input {item.name!r}: binary BYTES data ends after {index} of {count} elements"
            )
        (length,) = _LENGTH.unpack_from(binary, offset)
        offset += 4
        if offset + length > len(binary):
            raise InvalidInput(f"input {item.name!r}: binary BYTES element {index} runs past the data")
        out[index] = bytes(binary[offset : offset + length])
        offset += length
    if offset != len(binary):
        raise InvalidInput(
            f"input {item.name!r}: {len(binary) - offset} bytes left after {count} BYTES elements"
        )
    return out


def wants_binary(request: InferenceRequest, output_name: str) -> bool:
    """Whether the client asked for this output in the binary extension."""
    for output in request.outputs or ():
        if output.name == output_name and output.parameters and "binary_data" in output.parameters:
            return bool(output.parameters["binary_data"])
    return bool((request.parameters or {}).get("binary_data_output", False))


def _to_binary(array: npt.NDArray[Any]) -> bytes:
    if array.dtype.kind in "OSU":
        parts = []
        for value in array.reshape(-1):
            raw = value if isinstance(value, bytes) else str(value).encode()
            parts.append(_LENGTH.pack(len(raw)))
            parts.append(raw)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _to_json(array: npt.NDArray[Any]) -> list[Any]:
    flat = array.reshape(-1)
    if array.dtype.kind in "OSU":
        return [v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in flat]
    values: list[Any] = flat.tolist()
    return values


def encode_response(
    model_name: str,
    model_version: str | None,
    request: InferenceRequest,
    outputs: list[tuple[str, npt.NDArray[Any]]],
) -> tuple[bytes, int | None]:
    """The response body and, when any output is binary, the length of its JSON part."""
    encoded: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, array in outputs:
        output: dict[str, Any] = {"name": name, "datatype": datatype_of(array), "shape": list(array.shape)}
        if wants_binary(request, name):
            raw = _to_binary(array)
            output["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            output["data"] = _to_json(array)
        encoded.append(output)
    response: dict[str, Any] = {"model_name": model_name, "outputs": encoded}
    if model_version is not None:
        response["model_version"] = model_version
    if request.id is not None:
        response["id"] = request.id
    header = json.dumps(response, separators=(",", ":")).encode()
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)
