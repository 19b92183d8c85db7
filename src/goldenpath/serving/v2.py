"""The Open Inference Protocol (KServe V2) infer request and response, JSON and binary.

A model takes its inputs either as one tensor per feature, named as in the signature (shape
``[N]`` or ``[N, 1]``), or as one 2-D tensor ``[N, F]`` whose columns are the signature's
inputs in order. Tensor data is JSON (flat or nested row-major), or raw bytes after the JSON
header with the binary tensor extension (``Inference-Header-Content-Length``; a tensor's
``parameters.binary_data_size``; BYTES elements are a 4-byte little-endian length and the
bytes). Outputs are JSON unless the request asks for binary (``outputs[].parameters
.binary_data`` or ``parameters.binary_data_output``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from goldenpath.core import json_strict
from goldenpath.serving.columns import column, kind_of
from goldenpath.serving.models import ServedModel, v2_datatype
from goldenpath.serving.problem import Problem, invalid

HEADER = "inference-header-content-length"
ID_CHARS_MAX = 256
_NUMERIC = {
    "BOOL": "<?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
DATATYPES = (*_NUMERIC, "BYTES")


@dataclass
class InferRequest:
    id: str | None
    rows: int
    feeds: dict[str, np.ndarray]
    binary_outputs: set[str]
    wanted: list[str] | None


def parse(
    body: bytes, header_length: str | None, model: ServedModel, rows_max: int, depth_max: int
) -> InferRequest:
    """A V2 infer body checked against ``model``'s signature, as ONNX feeds."""
    binary = b""
    if header_length is not None:
        try:
            length = int(header_length)
        except ValueError:
            length = -1
        if not 0 <= length <= len(body):
            raise Problem(
                400,
                f"Inference-Header-Content-Length {header_length!r} is not a length within "
                "the body",
            )
        body, binary = body[:length], body[length:]
    doc = loads(body, depth_max)
    if not isinstance(doc, dict):
        raise Problem(400, f"the request must be a JSON object, got {kind_of(doc)}")
    request_id = doc.get("id")
    if request_id is not None and (
        not isinstance(request_id, str) or len(request_id) > ID_CHARS_MAX
    ):
        raise invalid(f"id must be a string of at most {ID_CHARS_MAX} characters", "id")
    tensors = doc.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise invalid("inputs must be a non-empty list of tensors", "inputs")
    if len(tensors) > max(len(model.inputs), 1):
        raise invalid(
            f"{len(tensors)} input tensors; the model takes {len(model.inputs)}", "inputs"
        )
    decoded = _decode_all(tensors, binary)
    feeds, rows = _feeds(decoded, model, rows_max)
    wanted, binary_outputs = _outputs(doc, model)
    return InferRequest(request_id, rows, feeds, binary_outputs, wanted)


def loads(body: bytes, depth_max: int) -> Any:
    """JSON, by the one strict decoder (``core/json_strict.py``): a lone surrogate, nesting past
    ``depth_max`` or an integer past 64 bits is a 400/422 problem naming where it is. ``NaN``
    and ``Infinity`` are let through, so the value checks refuse them naming the field."""
    try:
        return json_strict.loads(body, depth_max=depth_max, nonfinite=True)
    except json_strict.JSONRefused as exc:
        raise Problem(exc.http_status, exc.message, field=exc.field) from None


def dumps(value: Any) -> bytes:
    """JSON bytes (orjson; NaN is written as null, never as invalid JSON)."""
    return orjson.dumps(value, default=str)


@dataclass
class _Tensor:
    name: str
    shape: list[int]
    datatype: str
    values: list[Any] | np.ndarray


def _decode_all(tensors: list[Any], binary: bytes) -> list[_Tensor]:
    out = []
    offset = 0
    for index, tensor in enumerate(tensors):
        where = f"inputs[{index}]"
        if not isinstance(tensor, dict):
            raise invalid(f"{where} must be an object with name, shape, datatype, data", where)
        name = tensor.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"{where}.name must be a non-empty string", f"{where}.name")
        shape = tensor.get("shape")
        if (
            not isinstance(shape, list)
            or not 1 <= len(shape) <= 2
            or not all(type(d) is int and d >= 0 for d in shape)
        ):
            raise invalid(f"{name}: shape must be [N] or [N, M] of non-negative integers", name)
        datatype = tensor.get("datatype")
        if datatype not in DATATYPES:
            raise invalid(
                f"{name}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}", name
            )
        count = int(np.prod(shape))
        parameters = tensor.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise invalid(f"{name}: parameters must be an object", name)
        size = parameters.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(binary):
                raise invalid(
                    f"{name}: binary_data_size {size!r} exceeds the binary data sent", name
                )
            values = _from_binary(binary[offset : offset + size], datatype, count, name)
            offset += size
        else:
            if "data" not in tensor:
                raise invalid(f"{name}: data is missing", name)
            values = _flatten(tensor["data"], name)
            if len(values) != count:
                raise invalid(
                    f"{name}: shape {shape} holds {count} values, data has {len(values)}", name
                )
        out.append(_Tensor(name, shape, datatype, values))
    if offset != len(binary):
        raise Problem(400, f"{len(binary) - offset} bytes of binary data belong to no input")
    return out


def _flatten(data: Any, name: str) -> list[Any]:
    if not isinstance(data, list):
        raise invalid(f"{name}: data must be a list", name)
    if not data or not isinstance(data[0], list):
        return data
    flat: list[Any] = []
    for row in data:
        if not isinstance(row, list) or any(isinstance(v, list) for v in row):
            raise invalid(f"{name}: data must be a flat list or a list of rows", name)
        flat.extend(row)
    return flat


def _from_binary(raw: bytes, datatype: str, count: int, name: str) -> list[Any] | np.ndarray:
    if datatype == "BYTES":
        values: list[Any] = []
        at = 0
        while at < len(raw):
            if at + 4 > len(raw):
                raise invalid(f"{name}: truncated BYTES element", name)
            (size,) = struct.unpack_from("<I", raw, at)
            at += 4
            if at + size > len(raw):
                raise invalid(f"{name}: truncated BYTES element", name)
            try:
                values.append(raw[at : at + size].decode("utf-8"))
            except UnicodeDecodeError:
                raise invalid(f"{name}: a BYTES element is not UTF-8 text", name) from None
            at += size
        if len(values) != count:
            raise invalid(
                f"{name}: shape holds {count} values, the binary data has {len(values)}", name
            )
        return values
    dtype = np.dtype(_NUMERIC[datatype])
    if len(raw) != count * dtype.itemsize:
        raise invalid(f"{name}: {len(raw)} bytes is not {count} {datatype} values", name)
    return np.frombuffer(raw, dtype=dtype)


def _feeds(
    tensors: list[_Tensor], model: ServedModel, rows_max: int
) -> tuple[dict[str, np.ndarray], int]:
    kinds = dict(model.inputs)
    names = [t.name for t in tensors]
    if all(n in kinds for n in names):
        columns = {t.name: t for t in tensors}
        missing = [n for n in kinds if n not in columns]
        if missing:
            raise invalid(f"missing input(s): {', '.join(missing)}", missing[0])
        if len(set(names)) != len(names):
            raise invalid("an input tensor is given twice", "inputs")
        rows = None
        feeds = {}
        for tensor in tensors:
            if len(tensor.shape) == 2 and tensor.shape[1] != 1:
                raise invalid(
                    f"{tensor.name}: shape must be [N] or [N, 1], got {tensor.shape}", tensor.name
                )
            n = tensor.shape[0]
            if rows is not None and n != rows:
                raise invalid(f"{tensor.name}: {n} rows, the other inputs have {rows}", tensor.name)
            rows = n
            _check_rows(n, rows_max, tensor.name)
            feeds[tensor.name] = _column(kinds[tensor.name], tensor, tensor.name)
        return feeds, rows or 0
    if (
        len(tensors) == 1
        and len(tensors[0].shape) == 2
        and tensors[0].shape[1] == len(model.inputs)
    ):
        (tensor,) = tensors
        n = tensor.shape[0]
        _check_rows(n, rows_max, tensor.name)
        width = len(model.inputs)
        feeds = {}
        for index, (name, kind) in enumerate(model.inputs):
            part = _Tensor(name, [n, 1], tensor.datatype, tensor.values[index::width])
            feeds[name] = _column(kind, part, f"{tensor.name}[:, {index}] ({name})")
        return feeds, n
    unknown = [n for n in names if n not in kinds]
    raise invalid(
        f"unknown input(s) {', '.join(unknown)}: give one tensor per input "
        f"({', '.join(kinds)}) or one [N, {len(kinds)}] tensor in that order",
        unknown[0] if unknown else "inputs",
    )


def _check_rows(n: int, rows_max: int, name: str) -> None:
    if n > rows_max:
        raise invalid(f"{name}: {n} rows is more than the {rows_max} one request may score", name)


def _column(kind: str, tensor: _Tensor, field: str) -> np.ndarray:
    values = tensor.values
    if isinstance(values, np.ndarray):  # binary numbers
        if kind == "string":
            raise invalid(f"{field} is text: send it as BYTES", field)
        if tensor.datatype == "BOOL":
            raise invalid(f"{field} must be a number, got BOOL", field)
        array = values.astype(np.float32).reshape(-1, 1)
        if not np.isfinite(array).all():
            raise invalid(f"{field} must be a finite number", field)
        return array
    if kind == "string" and tensor.datatype != "BYTES":
        raise invalid(f"{field} is text: its datatype must be BYTES, not {tensor.datatype}", field)
    if kind == "float" and tensor.datatype in ("BYTES", "BOOL") and len(tensor.shape) == 1:
        raise invalid(
            f"{field} is a number: its datatype must be numeric, not {tensor.datatype}", field
        )
    return column(kind, values, field)


def _outputs(doc: dict[str, Any], model: ServedModel) -> tuple[list[str] | None, set[str]]:
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise invalid("parameters must be an object", "parameters")
    everything_binary = parameters.get("binary_data_output") is True
    requested = doc.get("outputs")
    if requested is None:
        return None, set(model.outputs) if everything_binary else set()
    if not isinstance(requested, list):
        raise invalid("outputs must be a list of {name}", "outputs")
    wanted: list[str] = []
    binary: set[str] = set(model.outputs) if everything_binary else set()
    for index, item in enumerate(requested):
        name = item.get("name") if isinstance(item, dict) else None
        if name not in model.outputs:
            raise invalid(
                f"outputs[{index}]: unknown output {name!r}; "
                f"the model has {', '.join(model.outputs)}",
                f"outputs[{index}]",
            )
        wanted.append(name)
        params = item.get("parameters") or {}
        if isinstance(params, dict) and params.get("binary_data") is True:
            binary.add(name)
    return wanted, binary


def response(
    model: ServedModel, request: InferRequest, outputs: dict[str, np.ndarray], request_id: str
) -> tuple[bytes, dict[str, str]]:
    """The V2 answer (JSON, or JSON header + binary tensors) and its extra headers."""
    names = request.wanted or model.outputs
    tensors = []
    blobs: list[bytes] = []
    for name in names:
        array = outputs[name]
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        tensor: dict[str, Any] = {
            "name": name,
            "datatype": v2_datatype(array),
            "shape": list(array.shape),
        }
        if name in request.binary_outputs:
            raw = np.ascontiguousarray(array).tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            tensor["data"] = array.reshape(-1).tolist()
        tensors.append(tensor)
    doc = {
        "model_name": model.name,
        "model_version": str(model.version),
        "id": request.id if request.id is not None else request_id,
        "outputs": tensors,
    }
    head = dumps(doc)
    if not blobs:
        return head, {}
    return head + b"".join(blobs), {"Inference-Header-Content-Length": str(len(head))}
