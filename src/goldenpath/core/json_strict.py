"""The one strict JSON decoder every HTTP edge uses (the inference server, the control plane).

JSON text a caller sends may hold what Python's ``json`` module accepts but nothing after it
can use: a lone UTF-16 surrogate (``"\\ud800"``, which no UTF-8 encoder, database driver or
Arrow column takes), nesting a thousand levels deep (which every recursive encoder after it
overflows), an integer of 400 digits (no column holds it; a float of it is infinity), and the
non-JSON literals ``NaN`` and ``Infinity``. :func:`loads` refuses each with one clear line
naming where in the document it is, before any of it reaches code that would fail with a 500:

- not JSON, not UTF-8, a lone surrogate in a string or a key, nesting deeper than
  ``depth_max`` (``limits.nesting_depth_max``): :class:`JSONRefused` with status 400;
- an integer outside the signed 64-bit range, a number literal beyond a double's range, or
  (unless ``nonfinite=True``) ``NaN``/``Infinity``: status 422, with the value's path.

``nonfinite=True`` lets ``NaN``, ``Infinity`` and out-of-range float literals through as
floats for callers that refuse them later naming their own field (the inference server's
tensor checks). The fast path is orjson (which already refuses surrogates, ``NaN`` and invalid
UTF-8) plus two byte scans; the exact path (Python's parser and a walk of the document) runs
only for the bodies the scans cannot clear.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from goldenpath.core.errors import GoldenpathError

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
# Every integer outside int64 has 19 digits or more: digits mapped to "0", the rest to " ".
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS = b"0" * 19
_ESCAPES = re.compile(rb"\\.", re.DOTALL)  # only inside strings: removing them is safe
_STRINGS = re.compile(rb'"[^"]*"')  # once escapes are gone
_ONE_KIND = bytes.maketrans(b"{}", b"[]")  # depth does not depend on the bracket's kind
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONRefused(GoldenpathError):
    """A JSON body refused by :func:`loads`: ``http_status`` 400 (malformed) or 422 (a value
    out of range); ``field`` is the path of the value at fault when known."""

    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(message, hint="send RFC 8259 JSON text in UTF-8")
        self.http_status = status
        self.field = field


class _Unusable:
    """A number literal :func:`loads` refuses, kept until the walk knows its path."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def loads(data: bytes | str, *, depth_max: int, nonfinite: bool = False) -> Any:
    """``data`` decoded, or :class:`JSONRefused` (see the module's rules)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _exact(raw, depth_max, nonfinite)
    if _LONG_DIGITS in raw.translate(_DIGITS_ONLY):
        # orjson reads integers beyond 64 bits as floats: re-read them exactly.
        return _exact(raw, depth_max, nonfinite)
    if _too_deep(raw, depth_max):
        _walk(doc, depth_max)  # raises, naming where
    return doc


def _too_deep(raw: bytes, depth_max: int) -> bool:
    """Whether valid JSON ``raw`` nests deeper than ``depth_max`` (C-speed scans only)."""
    if raw.count(b"[") + raw.count(b"{") <= depth_max:
        return False
    kept = _ESCAPES.sub(b"", raw) if b"\\" in raw else raw
    brackets = _STRINGS.sub(b"", kept.translate(_ONE_KIND, _NOT_STRUCTURE))
    for _ in range(depth_max):  # each pass removes exactly the innermost level (no overlaps)
        brackets = brackets.replace(b"[]", b"")
        if not brackets:
            return False
    return True


def _exact(raw: bytes, depth_max: int, nonfinite: bool) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONRefused(f"the body is not UTF-8 text (byte {exc.start})") from None

    def number(literal: str) -> Any:
        value = float(literal)
        if math.isfinite(value) or nonfinite:
            return value
        return _Unusable(literal)

    def constant(literal: str) -> Any:
        return float(literal) if nonfinite else _Unusable(literal)

    try:
        doc = json.loads(text, parse_float=number, parse_constant=constant)
    except RecursionError:
        raise JSONRefused(
            f"the body nests deeper than {depth_max} levels (limits.nesting_depth_max)"
        ) from None
    except ValueError as exc:  # JSONDecodeError, and ints past Python's digit limit
        raise JSONRefused(f"the body is not valid JSON: {exc}") from None
    _walk(doc, depth_max)
    return doc


def _walk(doc: Any, depth_max: int) -> None:
    """Refuse what the parser let through, naming the first offending path."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        kind = type(value)
        if kind is dict or kind is list:
            if depth > depth_max:
                raise JSONRefused(
                    f"{_at(path)}nests deeper than {depth_max} levels (limits.nesting_depth_max)",
                    field=_shown(path) or None,
                )
            if kind is dict:
                for key, item in value.items():
                    inner = f"{path}.{key}" if path else key
                    if _SURROGATE.search(key):
                        raise _surrogate(path, "a key")
                    stack.append((item, inner, depth + 1))
            else:
                for index, item in enumerate(value):
                    stack.append((item, f"{path}[{index}]", depth + 1))
        elif kind is str:
            if _SURROGATE.search(value):
                raise _surrogate(path, "a string")
        elif kind is int:
            if not INT_MIN <= value <= INT_MAX:
                digits = len(str(abs(value)))
                raise JSONRefused(
                    f"{_at(path)}the integer of {digits} digits is outside the 64-bit range",
                    status=422,
                    field=_shown(path) or None,
                )
        elif kind is _Unusable:
            shown = value.text if len(value.text) <= 20 else value.text[:20] + "..."
            raise JSONRefused(
                f"{_at(path)}{shown} is not a finite number",
                status=422,
                field=_shown(path) or None,
            )


def _at(path: str) -> str:
    return f"{_shown(path)}: " if path else ""


def _shown(path: str) -> str:
    clean = _SURROGATE.sub("\ufffd", path)
    return clean if len(clean) <= 200 else clean[:200] + "..."


def _surrogate(path: str, what: str) -> JSONRefused:
    return JSONRefused(
        f"{_at(path)}{what} holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape without "
        "its pair), which is not text",
        field=_shown(path) or None,
    )
