"""Hostile JSON against the control plane: lone UTF-16 surrogates, integers past 64 bits, a
400-digit metric, nesting a thousand deep. One strict decoder reads every JSON body, so each
is a 400 or 422 problem naming what is wrong; none is a 500, none is stored (issue 22, §5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goldenpath
from tests.features.conftest import FEATURES_PY, transactions_file
from tests.server.conftest import serving

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Server:
    url: str
    ws: goldenpath.Workspace
    token: str

    def post(self, path: str, text: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1{path}",
            content=text.encode("utf-8", "surrogatepass"),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            timeout=30,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("hostile-json")
    ws = goldenpath.connect(base / "home", actor="alice", create=True)
    rows = {"user_id": [1, 2], "event_time": [T0, T0], "amount": [10.0, 5.0]}
    ws.datasets.ingest("transactions", transactions_file(base, rows, "tx.parquet"))
    (base / "features.py").write_text(FEATURES_PY)
    ws.features.apply(base / "features.py")
    token = ws.principals.create_token("alice", expires_in="1h").secret
    with serving(ws) as url:
        yield Server(url, ws, token)
    ws.close()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc = response.json()
    assert doc["status"] == status and doc["detail"] and "\n" not in doc["detail"]
    return dict(doc)


def test_lone_surrogates_in_run_params_and_environment_are_400(server: Server) -> None:
    before = len(server.ws.runs.list())
    for body in (
        {"name": "r", "params": {"lr": "0.1\ud800"}},
        {"name": "r", "params": {"\udc00": 1}},
        {"name": "r", "environment": {"python": "3.11\udfff"}},
    ):
        doc = problem(server.post("/runs", json.dumps(body)), 400)
        assert "surrogate" in doc["detail"], doc
    assert problem(server.post("/runs", json.dumps(body)), 400)["field"] == "environment.python"
    assert len(server.ws.runs.list()) == before  # nothing half-written


def test_a_400_digit_metric_is_refused_not_stored_as_nan(server: Server) -> None:
    run = server.post("/runs", json.dumps({"name": "metrics"}))
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    text = '{"metrics": [{"key": "loss", "value": ' + "1" * 400 + "}]}"
    doc = problem(server.post(f"/runs/{run_id}/log", text), 422)
    assert doc["field"] == "metrics[0].value" and "64-bit" in doc["detail"]
    problem(server.post(f"/runs/{run_id}/log", '{"metrics": [{"key": "l", "value": 1e400}]}'), 422)
    assert server.ws.runs.get(run_id).metrics == {}


def test_an_int64_overflowing_join_key_in_a_push_is_422(server: Server) -> None:
    for key in (2**63, 2**64 + 1, -(2**63) - 1):
        row = {"user_id": key, "event_time": "2025-01-01T00:10:00+00:00", "amount": 1.0}
        doc = problem(server.post("/features/views/user_tx/push", json.dumps({"rows": [row]})), 422)
        assert doc["field"] == "rows[0].user_id", doc
    assert server.ws.datasets.get("transactions").version == 1


def test_nesting_a_thousand_deep_is_400(server: Server) -> None:
    deep = "[" * 1000 + "1" + "]" * 1000
    doc = problem(server.post("/runs", '{"params": {"p": ' + deep + "}}"), 400)
    assert "nesting_depth_max" in doc["detail"]
    problem(server.post("/features/online", '{"entities": ' + "[" * 100_000 + "]" * 100_000), 400)


def test_the_remote_sdk_refuses_a_lone_surrogate_before_sending(server: Server) -> None:
    """A lone surrogate (Python text allows one, UTF-8 cannot carry it) anywhere the remote SDK
    sends text: one InvalidInput naming where, not a UnicodeEncodeError from inside httpx;
    nothing reaches the server, nothing is stored."""
    before = (len(server.ws.runs.list()), len(server.ws.principals.list()))
    events = len(server.ws.audit.list(limit=10_000))
    with goldenpath.connect(server.url, token=server.token) as remote:
        calls = [
            (lambda: remote.principals.add("\ud800"), "the body at name"),
            (lambda: remote.datasets.get("tx\udfff"), "the request path"),
            (lambda: remote.runs.start("r", params={"lr": "0.1\ud800"}), "the body at params.lr"),
            (
                lambda: remote.features.online(
                    [{"user_id": 1, "note\udc00": 1}], ["user_tx:amount"]
                ),
                "the body at entities[0].note\\udc00 (the key)",
            ),
            (lambda: remote.runs.list(filter="params.lr = '\ud800'"), "the query at filter"),
        ]
        for call, where in calls:
            with pytest.raises(goldenpath.InvalidInput) as refused:
                call()
            message = refused.value.message
            assert message.startswith(where) and "lone UTF-16 surrogate" in message, message
            message.encode("utf-8")  # printable as it is
    assert (len(server.ws.runs.list()), len(server.ws.principals.list())) == before
    assert len(server.ws.audit.list(limit=10_000)) == events


# -- properties: every route with a JSON body ---------------------------------------------

hostile = (
    st.integers(0, 0x7FF).map(lambda n: f"x{chr(0xD800 + n)}")
    | st.integers(2**63, 10**60)
    | st.integers(-(10**60), -(2**63) - 1)
    | st.integers(33, 300).map(lambda n: "[" * n + "]" * n)
)
plain = st.recursive(
    st.none() | st.booleans() | st.integers(-100, 100) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def _json_operations(url: str) -> list[tuple[str, str]]:
    spec = httpx.get(f"{url}/openapi.json", timeout=30).json()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                concrete = path.replace("{", "").replace("}", "")  # any name: refused first
                found.append((method.upper(), concrete.removeprefix("/api/v1")))
    return found


@pytest.fixture(scope="module")
def operations(server: Server) -> list[tuple[str, str]]:
    found = _json_operations(server.url)
    assert len(found) >= 10, found
    return found


@given(data=st.data(), value=hostile, around=plain, as_key=st.booleans())
@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_hostile_json_to_any_route_is_a_400_or_422_problem(
    server: Server,
    operations: list[tuple[str, str]],
    data: Any,
    value: Any,
    around: Any,
    as_key: bool,
) -> None:
    method, path = data.draw(st.sampled_from(operations))
    if isinstance(value, str) and value.startswith("["):
        placed = value  # raw text: deeper than json.dumps writes comfortably
    elif as_key and isinstance(value, str):
        placed = json.dumps({value: 1})
    else:
        placed = json.dumps(value)
    text = json.dumps({"a": around, "b": "__HOSTILE__"}).replace('"__HOSTILE__"', placed)
    response = httpx.request(
        method,
        f"{server.url}/api/v1{path}",
        content=text.encode("utf-8", "surrogatepass"),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code in (400, 422), (method, path, text[:200], response.text)
    problem(response, response.status_code)
