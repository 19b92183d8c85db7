"""The feature catalog and stored training sets over real HTTP, the SDK and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

import goldenpath
from goldenpath.cli.app import app as cli_app
from goldenpath.cli.context import state
from tests.features.conftest import FEATURES_PY, transactions_file
from tests.server.conftest import serving

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Served:
    url: str
    ws: goldenpath.Workspace
    alice: str  # admin: reads the default project
    eve: str  # no grant on it


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Features applied, one stored training set, a server, and two tokens."""
    base = tmp_path_factory.mktemp("features-http")
    ws = goldenpath.connect(base / "home", actor="alice", create=True)
    rows = {
        "user_id": [1, 1, 2],
        "event_time": [T0, T0 + timedelta(minutes=30), T0],
        "amount": [10.0, 200.0, 5.0],
    }
    ws.datasets.ingest("transactions", transactions_file(base, rows, "tx.parquet"))
    (base / "features.py").write_text(FEATURES_PY)
    ws.features.apply(base / "features.py")
    entities = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [T0 + timedelta(hours=1)] * 2})
    ws.features.training_set(entities, ["user_tx:amount"], name="train")
    ws.principals.add("eve")
    tokens = {n: ws.principals.create_token(n, expires_in="1h").secret for n in ("alice", "eve")}
    with serving(ws) as url:
        yield Served(url, ws, tokens["alice"], tokens["eve"])
    ws.close()


def _without_read_at(entry: dict[str, Any]) -> dict[str, Any]:
    freshness = entry.get("freshness")
    return {**entry, "freshness": freshness and {**freshness, "read_at": None}}


def test_the_remote_sdk_sees_the_local_catalog_and_training_sets(served: Served) -> None:
    local = served.ws.features
    with goldenpath.connect(served.url, token=served.alice) as remote:
        assert [e.as_dict() for e in remote.features.list()] == [e.as_dict() for e in local.list()]
        shown = remote.features.show("user_tx")
        assert _without_read_at(shown.as_dict()) == _without_read_at(
            local.show("user_tx").as_dict()
        )
        assert shown.users and shown.users[0]["id"] == "train@1"
        assert shown.freshness and shown.freshness["dataset_version"] == "transactions@1"
        assert remote.features.show("fraud").content["features"][0] == "user_tx:amount"
        assert remote.features.training_sets() == local.training_sets()
        assert remote.features.get_training_set("train@1") == local.get_training_set("train")
        with pytest.raises(goldenpath.NotFound, match="no training set 'train@2'"):
            remote.features.get_training_set("train@2")
        with pytest.raises(goldenpath.NotFound, match="no feature view, service or entity"):
            remote.features.show("nothing_here")


def test_feature_routes_need_feature_read_and_answer_problems(served: Served) -> None:
    def get(path: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(served.url + "/api/v1" + path, headers=headers, timeout=30)

    # eve may read nothing in 'default': the lists are empty, a named object is refused.
    assert get("/features", served.eve).json() == []
    assert get("/training-sets", served.eve).json() == []
    denied = get("/features/user_tx", served.eve)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert "may not feature.read" in denied.json()["detail"]
    # A training set eve may not read is not listed, so to her it does not exist.
    assert get("/training-sets/train", served.eve).status_code == 404
    for path, status in (
        ("/features", 401),
        ("/features/user_tx", 401),
        ("/training-sets", 401),
    ):
        assert get(path, None).status_code == status
    assert get("/training-sets/train?version=0", served.alice).status_code == 422
    bad = get("/features/Bad%20Name", served.alice)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    listed = get("/training-sets?name=train", served.alice).json()
    assert [(t["ref"], t["row_count"]) for t in listed] == [("train@1", 2)]
    assert listed[0]["schema"][0] == {"name": "user_id", "type": "int64"}


def test_gp_features_list_and_show_work_over_the_server(served: Served) -> None:
    gp = Path(sys.executable).parent / "gp"
    env = {**os.environ, "GP_SERVER": served.url, "GP_TOKEN": served.alice, "GP_HOME": "/none"}
    shown = subprocess.run(
        [str(gp), "features", "show", "user_tx"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "train@1" in shown.stdout and "transactions@1" in shown.stdout
    # Commands that run features.py refuse a server (in process: no second gp start-up).
    state._open = None  # an earlier in-process test may have left a local workspace open
    try:
        refused = CliRunner().invoke(cli_app, ["features", "plan"], env=env)
    finally:
        state._open = None
    assert isinstance(refused.exception, goldenpath.InvalidInput)
    assert "needs a local workspace, not GP_SERVER" in str(refused.exception)
