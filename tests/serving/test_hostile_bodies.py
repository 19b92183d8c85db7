"""Hostile JSON against every route of a deployment serving a canary: lone UTF-16 surrogates,
integers past 64 bits, nesting a thousand deep. Each is a 400 or 422 problem naming what is
wrong, never a 500 (issue 22, §5). The canary matters: its bucket reads the entities before
the request is checked."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goldenpath
from tests.serving.conftest import post, problem, v2_inputs

GOOD = {"entities": {"user_id": 42}, "request": {"currency": "EUR"}}
ROUTES = ("/v1/predict", "/v2/models/fraud/infer", "/v2/models/fraud/versions/1/infer")


@pytest.fixture(scope="module")
def canaried(serving_home: Path) -> Iterator[Any]:
    """fraud@1 with fraud@2 as a 50% canary."""
    os.environ["GP_HOME"] = str(serving_home)
    with goldenpath.connect(serving_home, actor="alice") as ws:
        ws.deployments.deploy("fraud@1", "t-hostile")
        info = ws.deployments.deploy("fraud@2", "t-hostile", canary=50)
        assert info.candidate_mode == "canary"
        yield info
        ws.deployments.stop(info.name)


def v2_body(**changes: Any) -> dict[str, Any]:
    return {"inputs": v2_inputs(), **changes}


def test_a_lone_surrogate_is_a_400_on_every_route(canaried: Any) -> None:
    url = canaried.url
    predict = json.dumps({"entities": {"user_id": 42}, "request": {"currency": "\ud800"}})
    assert "\\ud800" in predict
    doc = problem(post(f"{url}/v1/predict", predict), 400, "request.currency")
    assert "surrogate" in doc["detail"]
    problem(post(f"{url}/v1/predict", json.dumps({**GOOD, "\udc00": 1})), 400)
    problem(post(f"{url}/v1/predict", json.dumps([GOOD, {"entities": {"\udbff": 1}}])), 400)
    for route in ROUTES[1:]:
        problem(post(f"{url}{route}", json.dumps(v2_body(id="a\udfffb"))), 400, "id")
        inputs = v2_inputs()
        inputs[0]["data"] = ["\ud83d"]  # half an emoji
        problem(post(f"{url}{route}", json.dumps({"inputs": inputs})), 400, "inputs[0].data[0]")
    # The server still answers, with the versions it had.
    assert post(f"{url}/v1/predict", GOOD).status_code == 200


def test_entities_nested_a_thousand_deep_during_a_canary_are_a_400(canaried: Any) -> None:
    deep = "[" * 1000 + "1" + "]" * 1000  # more than json.dumps itself can write
    body = '{"entities": {"user_id": ' + deep + '}, "request": {"currency": "EUR"}}'
    doc = problem(post(f"{canaried.url}/v1/predict", body), 400)
    assert "nesting_depth_max" in doc["detail"]
    just_too_deep: Any = 1
    for _ in range(40):
        just_too_deep = {"k": just_too_deep}
    body = json.dumps({"entities": just_too_deep, "request": {}})
    problem(post(f"{canaried.url}/v1/predict", body), 400)


def test_integers_past_64_bits_are_422_naming_the_field(canaried: Any) -> None:
    for number in (2**63, 2**64, -(2**63) - 1, 10**30):
        body = json.dumps({"entities": {"user_id": number}, "request": {"currency": "EUR"}})
        problem(post(f"{canaried.url}/v1/predict", body), 422, "entities.user_id")
    inputs = v2_inputs()
    inputs[2]["data"] = [10**30]
    problem(post(f"{canaried.url}{ROUTES[1]}", json.dumps({"inputs": inputs})), 422)


def test_bytes_data_in_binary_is_checked_as_utf8(canaried: Any) -> None:
    """BYTES in the binary extension: a CESU-encoded surrogate is not UTF-8 text (422)."""
    inputs = v2_inputs()
    element = b"\xed\xa0\x80"
    raw = len(element).to_bytes(4, "little") + element
    inputs[0] = {**inputs[0], "parameters": {"binary_data_size": len(raw)}}
    del inputs[0]["data"]
    head = json.dumps({"inputs": inputs}).encode()
    response = httpx.post(
        f"{canaried.url}{ROUTES[1]}",
        content=head + raw,
        headers={"Inference-Header-Content-Length": str(len(head))},
        timeout=10,
    )
    problem(response, 422, "currency")


# -- properties: whatever hostile value, wherever it is put, a 4xx problem ------------------

hostile_scalars = (
    st.integers(0, 0x7FF).map(lambda n: f"x{chr(0xD800 + n)}y")
    | st.integers(2**63, 10**40)
    | st.integers(-(10**40), -(2**63) - 1)
    | st.integers(33, 400).map(lambda n: _nested(n))
)


def _nested(depth: int) -> Any:
    value: Any = 0
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _place(doc: Any, path: list[int], value: Any) -> Any:
    """``doc`` with ``value`` put at a place chosen by ``path`` (keys and items alike)."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    if isinstance(doc, dict):
        key = sorted(doc)[path[0] % len(doc)]
        return {**doc, key: _place(doc[key], path[1:], value)}
    index = path[0] % len(doc)
    return [*doc[:index], _place(doc[index], path[1:], value), *doc[index + 1 :]]


templates = {
    "/v1/predict": GOOD,
    "/v2/models/fraud/infer": {"id": "r1", "inputs": v2_inputs()},
    "/v2/models/fraud/versions/1/infer": {"id": "r1", "inputs": v2_inputs()},
}


@given(
    route=st.sampled_from(ROUTES),
    path=st.lists(st.integers(0, 10), max_size=5),
    value=hostile_scalars,
    as_key=st.booleans(),
)
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_hostile_values_anywhere_are_4xx_problems(
    canaried: Any, route: str, path: list[int], value: Any, as_key: bool
) -> None:
    if as_key and isinstance(value, str):
        doc = _place(templates[route], path, {value: 1})
    else:
        doc = _place(templates[route], path, value)
    response = post(f"{canaried.url}{route}", json.dumps(doc))
    assert response.status_code in (400, 422), (doc, response.text)
    problem(response, response.status_code)
