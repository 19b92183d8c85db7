"""Every answer of the API has a declared shape, and real answers have it (issue 12, point 11).

The routes return the services' dicts directly (no pydantic validation on the request path),
so these tests are what keeps ``server/schemas.py`` true: one real server, every route called
on its happy path, each answer validated against the schema ``/openapi.json`` publishes for
that status. The schemas forbid undeclared fields, so a field added to a result type without
its schema fails here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pandas as pd
import pytest

import goldenpath
from tests.conftest import write
from tests.features.conftest import FEATURES_PY, transactions_file
from tests.server.conftest import serving

CONTRACT = (
    "on_violation: quarantine\ncolumns:\n  id: {type: int, unique: true}\n  amount: {min: 0}\n"
)
POLICY = """policies:
  - name: releases-need-approval
    actions: [release.create]
    allow: approved
    message: releases need an approver's sign-off
    approval: true
"""


class Api:
    """A running server, its published OpenAPI document and an admin's client."""

    def __init__(self, url: str, token: str) -> None:
        self.spec: dict[str, Any] = httpx.get(url + "/openapi.json").json()
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.checked: set[tuple[str, str]] = set()

    def template(self, method: str, path: str) -> str:
        """The operation's path in /openapi.json (``/datasets/{name}`` for ``/datasets/tx``)."""
        path = path.split("?")[0]
        if method.lower() in self.spec["paths"].get(path, {}):
            return path
        for template, operations in self.spec["paths"].items():
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
            if method.lower() in operations and re.fullmatch(pattern, path):
                return template
        raise AssertionError(f"{method} {path} is not in /openapi.json")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call a route and validate its 2xx answer against the declared schema."""
        response = self.client.request(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.text)
        template = self.template(method, path)
        operation = self.spec["paths"][template][method.lower()]
        declared = operation["responses"][str(response.status_code)]["content"]
        media_type = response.headers["content-type"].split(";")[0]
        schema = declared[media_type]["schema"]
        self.checked.add((method, template))
        if media_type != "application/json":
            assert schema == {"type": "string", "format": "binary"} and response.content
            return response.content
        body = response.json()
        validator = jsonschema_rs.Draft202012Validator(
            {**schema, "components": self.spec["components"]}
        )
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{method} {path}: {errors}"
        return body


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("schemas")
    ws = goldenpath.connect(tmp / "home", actor="alice", create=True)
    ws.datasets.ingest(
        "tx",
        write(tmp / "d.csv", "id,amount,note\n1,2.5,a\n2,-1,b\n3,4.0,\n"),
        contract=write(tmp / "c.yaml", CONTRACT),
    )
    (ws.stack.home / "policies").mkdir()
    write(ws.stack.home / "policies" / "release.yaml", POLICY)
    # Features applied and one stored training set, for the catalog routes.
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    rows = {"user_id": [1, 2], "event_time": [t0, t0], "amount": [10.0, 5.0]}
    ws.datasets.ingest("transactions", transactions_file(tmp, rows, "t.parquet"))
    write(tmp / "features.py", FEATURES_PY)
    ws.features.apply(tmp / "features.py")
    entities = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [t0 + pd.Timedelta("1h")] * 2})
    ws.features.training_set(entities, ["user_tx:amount"], name="train")
    # Two registered model versions, for the registry routes.
    from tests.registry.conftest import fitted

    model, validation = fitted("logistic_regression")
    for _ in range(2):
        ws.models.register(
            "fraud",
            model,
            validation=validation,
            label="label",
            task="classification",
            gates={"metrics": ["roc_auc >= 0.5"]},
        )
    token = ws.principals.create_token("alice", expires_in="1d").secret
    with serving(ws) as url:
        yield Api(url, token)
    ws.close()


def test_every_operation_declares_the_shape_of_its_answer(api: Api) -> None:
    operations = [
        (method.upper(), path, op)
        for path, ops in api.spec["paths"].items()
        for method, op in ops.items()
    ]
    assert len(operations) >= 33
    bare = []
    for method, path, op in operations:
        ok = {status: r for status, r in op["responses"].items() if status.startswith("2")}
        assert len(ok) == 1, (method, path, ok)
        (answer,) = ok.values()
        schemas = [c.get("schema", {}) for c in answer.get("content", {}).values()]
        if not schemas or any(_bare(s) for s in schemas):
            bare.append(f"{method} {path}")
    assert not bare, f"operations without a declared answer: {bare}"


def _bare(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` says nothing about the answer's fields (``{}``, ``{type: object}``)."""
    if "$ref" in schema or "anyOf" in schema:
        return False
    if schema.get("type") == "array":
        return _bare(schema.get("items", {}))
    if schema.get("type") == "object":
        extra = schema.get("additionalProperties", True)
        return "properties" not in schema and (extra is True or extra == {})
    return "type" not in schema


def test_every_route_answers_in_its_declared_shape(api: Api) -> None:
    get = api.call
    # Datasets: a version with a contract, quarantined rows and a stored validation.
    upload = {"file": ("more.csv", b"id,amount,note\n7,1.0,c\n8,-2,d\n")}
    contract = {"contract": ("c.yaml", CONTRACT.encode())}
    ingested = get("POST", "/api/v1/datasets/tx/versions", files=upload)
    assert ingested["outcome"] == "quarantined"
    get("POST", "/api/v1/datasets/tx/validate", files={**upload, **contract})
    get("GET", "/api/v1/datasets")
    for suffix in ("", "/versions", "/head", "/data", "/profile", "/validation", "/quarantine"):
        get("GET", f"/api/v1/datasets/tx{suffix}")
    assert get("GET", "/api/v1/datasets/tx/quarantine")
    get("GET", "/healthz")
    get("GET", "/api/v1/status")
    get("GET", "/api/v1/whoami")

    # Access.
    get("POST", "/api/v1/projects", json={"name": "risk"})
    get("GET", "/api/v1/projects")
    get("POST", "/api/v1/principals", json={"name": "bob"})
    get("POST", "/api/v1/principals", json={"name": "carol"})
    get("GET", "/api/v1/principals")
    get("POST", "/api/v1/grants", json={"role": "viewer", "principal": "bob", "project": "risk"})
    get("POST", "/api/v1/grants", json={"role": "admin", "principal": "carol"})
    get("GET", "/api/v1/grants")
    get(
        "POST",
        "/api/v1/grants/revoke",
        json={"role": "viewer", "principal": "bob"} | {"project": "risk"},
    )
    created = get("POST", "/api/v1/tokens", json={"expires_in": "1h", "scopes": ["dataset.read"]})
    carol = get("POST", "/api/v1/tokens", json={"principal": "carol", "expires_in": "1h"})
    get("GET", "/api/v1/tokens")
    get("DELETE", f"/api/v1/tokens/{created['id']}")
    get("POST", "/api/v1/principals/bob/disable")

    # Policies and approvals: alice's release is held, carol approves it.
    get("GET", "/api/v1/policies")
    document = {"action": "release.create", "approved": True}
    get(
        "POST",
        "/api/v1/policies/releases-need-approval/test",
        json=document,
    )
    check = {"action": "release.create", "object": "app@v2"}
    held = api.client.post("/api/v1/policy/check", json=check)
    assert held.status_code == 403
    request_id = held.json()["request_id"]
    pending = get("GET", "/api/v1/approvals?status=pending")
    assert [a["id"] for a in pending] == [request_id]
    as_carol = {"Authorization": f"Bearer {carol['token']}"}
    get(
        "POST",
        f"/api/v1/approvals/{request_id}",
        json={},
        headers=as_carol,
    )
    assert get("POST", "/api/v1/policy/check", json=check)["allowed"]

    # Feature catalog and training sets.
    get("GET", "/api/v1/features")
    for name in ("user_tx", "fraud", "user"):
        get("GET", f"/api/v1/features/{name}")
    get("GET", "/api/v1/training-sets")
    get("GET", "/api/v1/training-sets/train?version=1")
    # Online features: materialise, look up, push.
    done = get("POST", "/api/v1/features/materialize", json={"views": ["user_tx"]})
    assert [v["mode"] for v in done["views"]] == ["full"]
    lookup = {"entities": [{"user_id": 1}], "features": ["user_tx:amount", "user_tx:tx_count_1h"]}
    got = get("POST", "/api/v1/features/online", json=lookup | {"at": "2025-01-01T00:30:00Z"})
    assert got["rows"] == [{"user_id": 1, "amount": 10.0, "tx_count_1h": 1}]
    row = {"user_id": 3, "event_time": "2025-01-02T00:00:00+00:00", "amount": 1.5}
    pushed = get("POST", "/api/v1/features/views/user_tx/push", json={"rows": [row]})
    assert pushed["dataset_version"] == "transactions@2"

    # Models.
    get("GET", "/api/v1/models")
    get("GET", "/api/v1/models/fraud@1")
    get("POST", "/api/v1/models/fraud@1/promote", json={})
    get("POST", "/api/v1/models/fraud/aliases", json={"alias": "challenger", "version": 2})
    assert get("GET", "/api/v1/models/fraud@challenger")["aliases"] == ["challenger"]
    # Runs: start, log, end, search, show, compare.
    started = get("POST", "/api/v1/runs", json={"experiment": "fraud", "params": {"lr": 0.1}})
    run_id = started["id"]
    logged = get(
        "POST",
        f"/api/v1/runs/{run_id}/log",
        json={"metrics": [{"key": "roc_auc", "value": 0.9}, {"key": "nan", "value": None}]},
    )
    assert logged["metrics"] == 2
    ended = get("POST", f"/api/v1/runs/{run_id}/end", json={"cpu_s": 0.5})
    assert ended["status"] == "finished" and ended["metrics"]["nan"] is None
    failed = get("POST", "/api/v1/runs", json={"name": "broken"})["id"]
    error = {"step": "train", "message": "boom", "traceback": "Traceback ..."}
    get("POST", f"/api/v1/runs/{failed}/end", json={"status": "failed", "error": error})
    found = get("GET", "/api/v1/runs?filter=metrics.roc_auc%20%3E%200.5&order_by=started_at")
    assert [r["id"] for r in found] == [run_id]
    assert get("GET", f"/api/v1/runs/{failed[:10]}")["error"]["step"] == "train"
    compared = get("GET", f"/api/v1/runs/{run_id}/compare/{failed}")
    assert compared["metrics"][0]["differs"]

    # Lineage: a training set's inputs, a dataset version's dependants, OpenLineage events.
    up = get("GET", "/api/v1/lineage/upstream?ref=training-set:train@1")
    assert "transactions@1" in [n["ref"] for n in up["nodes"]]
    down = get("GET", "/api/v1/lineage/downstream?ref=transactions@1")
    assert "train@1" in [n["ref"] for n in down["nodes"]]
    events = get("GET", "/api/v1/lineage/openlineage-events?limit=10")
    assert {e["eventType"] for e in events} == {"START", "COMPLETE", "FAIL"}

    # Audit.
    get("GET", "/api/v1/audit/events")
    get("POST", "/api/v1/audit/checkpoint")
    anchor = get("GET", "/api/v1/audit/checkpoint")
    get("POST", "/api/v1/audit/rotate-key", json={})
    get("GET", "/api/v1/audit/verify")
    assert get("POST", "/api/v1/audit/verify", json={"anchor": anchor})["ok"]
    lines = get("GET", "/api/v1/audit/export").decode().splitlines()
    assert json.loads(lines[0])["seq"] == 1

    declared = {(method.upper(), path) for path, ops in api.spec["paths"].items() for method in ops}
    assert declared - api.checked == set(), "routes this test does not call yet"
