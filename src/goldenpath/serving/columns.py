"""Checking request values against a model's signature and turning them into ONNX feeds.

A model takes one ``[N, 1]`` input per feature (``registry/onnx_graph.py``): ``float`` inputs
are fed as float32, ``string`` inputs as strings. Values arriving from JSON are checked one
by one: a number must be a JSON number (``true`` is not 1), finite and within float32's range;
a string must be a JSON string of at most :data:`STRING_CHARS_MAX` characters. Every refusal is
a 422 naming the field, so no malformed value reaches onnxruntime.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from goldenpath.serving.problem import invalid

STRING_CHARS_MAX = 1_000
_NUMBERS = (int, float)


def kind_of(value: Any) -> str:
    """A JSON value's kind, as a client would call it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, _NUMBERS):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def float_column(values: Sequence[Any], field: str) -> np.ndarray:
    """``values`` (JSON numbers) as a float32 ``[N, 1]`` array, or a 422 naming ``field``."""
    for value in values:
        if type(value) not in (int, float):
            raise invalid(f"{field} must be a number, got {kind_of(value)}", field)
    try:
        array = np.array(values, dtype=np.float32)
    except OverflowError:
        raise invalid(f"{field} is out of range for a float32 number", field) from None
    if not np.isfinite(array).all():
        bad = next(v for v in values if not math.isfinite(float(v)) or abs(v) > 3.4e38)
        what = "out of range for a float32 number" if math.isfinite(float(bad)) else str(bad)
        raise invalid(f"{field} must be a finite number, got {what}", field)
    return array.reshape(-1, 1)


def string_column(values: Sequence[Any], field: str) -> np.ndarray:
    """``values`` (JSON strings) as a string ``[N, 1]`` array, or a 422 naming ``field``."""
    for value in values:
        if type(value) is not str:
            raise invalid(f"{field} must be a string, got {kind_of(value)}", field)
        if len(value) > STRING_CHARS_MAX:
            raise invalid(f"{field} is longer than {STRING_CHARS_MAX} characters", field)
    array = np.empty((len(values), 1), dtype=object)
    array[:, 0] = values
    return array


def column(kind: str, values: Sequence[Any], field: str) -> np.ndarray:
    """A signature input's ``[N, 1]`` feed from JSON values (``kind``: float or string)."""
    if kind == "string":
        return string_column(values, field)
    return float_column(values, field)


def feature_column(kind: str, values: Sequence[Any], field: str) -> np.ndarray:
    """A feed from online feature values: a null number is NaN (the model imputes it, as in
    training); a null string is the empty string (as ``registry/scoring.feeds`` does)."""
    if kind == "string":
        return string_column(["" if v is None else str(v) for v in values], field)
    cleaned = [math.nan if v is None else float(v) for v in values]
    return np.array(cleaned, dtype=np.float32).reshape(-1, 1)
