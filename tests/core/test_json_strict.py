"""The strict JSON decoder: what it refuses (surrogates, deep nesting, out-of-range numbers),
and that everything else decodes exactly as the standard library reads it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldenpath.core.json_strict import INT_MAX, INT_MIN, JSONRefused, loads

DEPTH = 32


def refused(data: bytes | str, status: int, **kwargs: Any) -> JSONRefused:
    with pytest.raises(JSONRefused) as caught:
        loads(data, depth_max=DEPTH, **kwargs)
    assert caught.value.http_status == status
    assert "\n" not in caught.value.message
    return caught.value


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def test_lone_surrogates_are_400_naming_where() -> None:
    assert refused(b'{"a": {"b": "x\\ud800y"}}', 400).field == "a.b"
    assert refused(b'{"a": ["ok", "\\udfff"]}', 400).field == "a[1]"
    refused(b'{"\\ud83d": 1}', 400)
    assert loads(b'"\\ud83d\\ude00"', depth_max=DEPTH) == "\U0001f600"  # a pair is text


def test_nesting_is_bounded_by_the_limit() -> None:
    assert loads(nested(DEPTH), depth_max=DEPTH) == json.loads(nested(DEPTH))
    refused(nested(DEPTH + 1), 400)
    refused(nested(1000), 400)  # orjson reads it; the bound does not
    refused(nested(100_000), 400)  # deeper than any parser: still a 400
    deep_dicts = '{"a":' * (DEPTH + 1) + "1" + "}" * (DEPTH + 1)
    refused(deep_dicts, 400)
    # Brackets inside strings are text, not nesting.
    text = json.dumps({"s": "[" * 5000 + "{" * 5000})
    assert loads(text, depth_max=DEPTH) == json.loads(text)


def test_many_shallow_containers_are_not_deep() -> None:
    rows = json.dumps({"data": [[i, i + 1] for i in range(5000)]})
    assert loads(rows, depth_max=DEPTH) == json.loads(rows)
    # Alternating kinds, one pass per level: exactly the limit is fine, one more is not.
    assert loads(alternating(DEPTH), depth_max=DEPTH) == json.loads(alternating(DEPTH))
    refused(alternating(DEPTH + 1), 400)


def alternating(depth: int) -> str:
    """Lists and objects in turn, ``depth`` deep, each beside an empty one (from level 2)."""
    text = "1"
    for level in range(depth):
        if level == 0:
            text = f"[{text}]"
        else:
            text = f"[{text}, []]" if level % 2 else f'{{"k": {text}, "e": {{}}}}'
    return text


def test_numbers_outside_int64_or_a_double_are_422_naming_the_path() -> None:
    assert loads(str(INT_MAX), depth_max=DEPTH) == INT_MAX
    assert loads(str(INT_MIN), depth_max=DEPTH) == INT_MIN
    assert refused(f'{{"k": [{INT_MAX + 1}]}}', 422).field == "k[0]"
    assert refused(f'{{"k": {INT_MIN - 1}}}', 422).field == "k"
    assert refused('{"m": ' + "9" * 25 + "}", 422).field == "m"  # orjson: a float 1e25
    error = refused('{"m": ' + "1" * 400 + "}", 422)
    assert error.field == "m" and "400 digits" in error.message
    assert refused(b'{"x": 1e400}', 422).field == "x"
    refused(b'{"x": NaN}', 422)
    refused(b'{"x": -Infinity}', 422)
    refused("9" * 5000, 400)  # past Python's own digit limit: not a number it reads


def test_nonfinite_is_let_through_when_asked() -> None:
    doc = loads(b'{"a": NaN, "b": Infinity, "c": 1e400}', depth_max=DEPTH, nonfinite=True)
    assert math.isnan(doc["a"]) and doc["b"] == math.inf and doc["c"] == math.inf
    refused(b'{"a": NaN, "s": "\\ud800"}', 400, nonfinite=True)


def test_not_json_and_not_utf8_are_400() -> None:
    for body in (b"", b"{", b"{'a': 1}", b"[1,]", b'"\xff"', b'"\xed\xa0\x80"'):
        refused(body, 400)


# -- properties ----------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20)
    | st.text(alphabet='[]{}"\\n', max_size=8)
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


@given(documents)
@settings(max_examples=200, deadline=None)
def test_valid_documents_decode_as_the_standard_library_reads_them(doc: Any) -> None:
    text = json.dumps(doc)
    if depth_of(doc) <= DEPTH:
        assert loads(text, depth_max=DEPTH) == json.loads(text)


@given(documents, st.integers(0, 0xDFFF - 0xD800).map(lambda n: chr(0xD800 + n)))
@settings(max_examples=100, deadline=None)
def test_a_lone_surrogate_anywhere_is_a_400(doc: Any, surrogate: str) -> None:
    text = json.dumps([doc, {"at": f"x{surrogate}"}])  # ensure_ascii writes \\udXXX
    refused(text, 400)


huge_integers = st.integers(INT_MAX + 1, 10**300) | st.integers(-(10**300), INT_MIN - 1)


@given(huge_integers, documents)
@settings(max_examples=100, deadline=None)
def test_an_integer_outside_int64_anywhere_is_a_422(number: int, doc: Any) -> None:
    refused(json.dumps({"doc": doc, "n": number}), 422)


@given(st.integers(DEPTH + 1, 3000), st.sampled_from(["[", '{"k":']))
@settings(max_examples=50, deadline=None)
def test_nesting_past_the_limit_is_a_400(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    refused(opener * depth + "0" + closer * depth, 400)


@given(documents, st.integers(1, 6), st.booleans())
@settings(max_examples=300, deadline=None)
def test_refused_for_depth_exactly_when_deeper_than_the_limit(
    doc: Any, limit: int, escapes: bool
) -> None:
    """The byte scans (strings and escapes skipped, bracket kinds alike) agree with the depth."""
    text = json.dumps(doc, ensure_ascii=escapes)
    if depth_of(doc) > limit:
        with pytest.raises(JSONRefused):
            loads(text, depth_max=limit)
    else:
        assert loads(text, depth_max=limit) == json.loads(text)
