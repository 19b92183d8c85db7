"""Models over HTTP (a real uvicorn server on 127.0.0.1) and through the remote SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import goldenpath
from goldenpath import NotFound, PermissionDenied
from goldenpath.core.errors import Conflict
from tests.registry.conftest import fitted
from tests.server.conftest import serving


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, goldenpath.Workspace]]:
    ws = goldenpath.connect(tmp_path / "home", actor="alice", create=True)
    model, validation = fitted("random_forest")
    for gates in ({"metrics": ["roc_auc >= 0.6"]}, {"metrics": ["roc_auc >= 0.9999"]}):
        ws.models.register(
            "fraud",
            model,
            validation=validation,
            label="label",
            task="classification",
            gates=gates,
        )
    ws.principals.add("vic")
    ws.access.grant("viewer", "vic", project="default")
    with serving(ws) as url:
        yield url, ws
    ws.close()


def test_the_remote_sdk_lists_shows_aliases_and_promotes(
    served: tuple[str, goldenpath.Workspace],
) -> None:
    url, ws = served
    token = ws.principals.create_token("alice", expires_in="1h").secret
    with goldenpath.connect(url, token=token) as remote:
        assert [m.name for m in remote.models.list()] == ["fraud"]
        assert remote.models.get("fraud") == ws.models.get("fraud@2")
        done = remote.models.promote("fraud@1")
        assert done.to_version == 1 and done.gates[0].passed
        with pytest.raises(Conflict) as refused:
            remote.models.promote("fraud@2")
        assert "metric roc_auc >= 0.9999: roc_auc = " in refused.value.message
        forced = remote.models.promote("fraud@2", force=True, reason="drill")
        assert forced.forced and ws.models.get("fraud@champion").version == 2
        move = remote.models.alias("fraud@1", "challenger")
        assert move.to_version == 1 and ws.models.get("fraud@challenger").version == 1
        assert remote.models.delete_alias("fraud", "challenger").from_version == 1
        with pytest.raises(NotFound, match="no version 7"):
            remote.models.get("fraud@7")
        with pytest.raises(NotFound, match="no alias 'nope'"):
            remote.models.get("fraud@nope")
    assert [m.reason for m in ws.models.alias_history("fraud")][1] == "drill"


def test_the_same_permissions_and_problem_documents(
    served: tuple[str, goldenpath.Workspace],
) -> None:
    url, ws = served
    viewer = ws.principals.create_token("vic", expires_in="1h").secret
    with goldenpath.connect(url, token=viewer) as remote:
        assert remote.models.get("fraud@1").version == 1
        with pytest.raises(PermissionDenied, match=r"model\.promote"):
            remote.models.promote("fraud@1")
        with pytest.raises(PermissionDenied, match=r"model\.alias"):
            remote.models.alias("fraud@1", "shadow")
    headers = {"Authorization": f"Bearer {viewer}"}
    answer = httpx.post(f"{url}/api/v1/models/fraud@1/promote", json={}, headers=headers)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    odd = httpx.post(
        f"{url}/api/v1/models/fraud/aliases",
        json={"alias": "x", "pickle": "gASV"},
        headers=headers,
    )
    assert odd.status_code == 422  # unknown fields are refused
    assert httpx.get(f"{url}/api/v1/models").status_code == 401
    assert ws.models.alias_history("fraud") == []
