"""The feature catalog and stored training sets over real HTTP, the SDK and the CLI."""

from __future__ import annotations

import os
import re
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
    # (tests/conftest.py closes what an in-process command left open after every test.)
    refused = CliRunner().invoke(cli_app, ["features", "plan"], env=env)
    assert isinstance(refused.exception, goldenpath.InvalidInput)
    assert "needs a local workspace, not GP_SERVER" in str(refused.exception)


# -- online lookup, push and materialisation over HTTP (issue 13, point 7) ----------------------


def _post(served: Served, path: str, body: Any, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or served.alice}"}
    return httpx.post(f"{served.url}/api/v1{path}", json=body, headers=headers, timeout=30)


def test_remote_sdk_materializes_reads_and_pushes_like_the_local_one(served: Served) -> None:
    at = T0 + timedelta(minutes=45)
    refs = ["user_tx:amount", "user_tx:tx_count_1h", "user_tx:amount_mean_7d"]
    with goldenpath.connect(served.url, token=served.alice) as remote:
        done = remote.features.materialize(["user_tx"], full=True)
        assert [(v.view, v.mode, v.rows_read) for v in done.views] == [("user_tx", "full", 3)]
        got = remote.features.online([{"user_id": 1}, {"user_id": 2}], refs, at=at)
        local = served.ws.features.online([{"user_id": 1}, {"user_id": 2}], refs, at=at)
        assert (
            got.values
            == local.values
            == {
                "amount": [200.0, 5.0],
                "tx_count_1h": [2, 1],
                "amount_mean_7d": [105.0, 5.0],
            }
        )
        assert got.statuses == local.statuses and got.ages == local.ages
        assert got.entity_rows == [{"user_id": 1}, {"user_id": 2}]
        row = {"user_id": 4, "event_time": T0 + timedelta(minutes=40), "amount": 3.0}
        pushed = remote.features.push("user_tx", [row])
        assert pushed.online.mode == "push" and pushed.rows == 1
        after = served.ws.features.online([{"user_id": 4}], ["user_tx:amount"], at=at)
        assert after.values == {"amount": [3.0]}


def test_a_past_lookup_before_the_store_s_window_is_refused_naming_it(served: Served) -> None:
    """Before an entity's oldest kept row the store cannot answer exactly: over HTTP and the
    remote SDK that is a 422 naming the window (as the local SDK raises), never a 200 whose
    values read as missing."""
    window = "for user_id=1 from 2025-01-01T00:30:00+00:00 on"
    before = T0 + timedelta(minutes=15)  # user 1 had amount 10.0 then: the store keeps 200.0
    refs = ["user_tx:amount", "user_tx:tx_count_1h"]
    with goldenpath.connect(served.url, token=served.alice) as remote:
        remote.features.materialize(["user_tx"], full=True)
        with pytest.raises(goldenpath.InvalidInput, match=re.escape(window)) as refused:
            remote.features.online([{"user_id": 2}, {"user_id": 1}], refs, at=before)
        assert "2025-01-01T00:15:00+00:00 is before that" in refused.value.message
        assert "training set" in (refused.value.hint or "")
        # From the window's start on, the same lookup is answered.
        edge = remote.features.online([{"user_id": 1}], refs, at=T0 + timedelta(minutes=30))
        assert edge.values == {"amount": [200.0], "tx_count_1h": [2]}
    body = {"entities": [{"user_id": 1}], "features": refs, "at": before.isoformat()}
    answer = _post(served, "/features/online", body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert window in answer.json()["detail"], answer.text


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/features/online", {"entities": [{"user_id": 1}]}, 422, "name the features"),
        ("/features/online", {"entities": [], "features": ["user_tx:amount"]}, 422, "entities"),
        (
            "/features/online",
            {"entities": [{"user_id": "1"}], "features": ["user_tx:amount"]},
            422,
            "join key 'user_id'",
        ),
        (
            "/features/online",
            {"entities": [{"user_id": 1}], "features": ["user_tx:nope"]},
            404,
            "unknown feature",
        ),
        (
            "/features/online",
            {
                "entities": [{"user_id": 1, "request_amount": 2.0}],
                "features": ["ratio:amount_ratio"],
            },
            422,
            "project code",
        ),
        (
            "/features/online",
            {"entities": [{"user_id": 1}], "features": ["user_tx:amount"], "extra": 1},
            422,
            "extra",
        ),
        ("/features/views/user_tx/push", {"rows": [{"user_id": 1, "nope": 2}]}, 422, "nope"),
        (
            "/features/views/user_tx/push",
            {"rows": [{"user_id": 1, "event_time": "2025-01-01T00:00:00", "amount": 1.0}]},
            422,
            "no time zone",
        ),
        ("/features/views/ratio/push", {"rows": [{"user_id": 1}]}, 422, "on-demand"),
        ("/features/materialize", {"views": ["ratio"]}, 422, "on-demand"),
        ("/features/materialize", {"full": "yes please"}, 422, "full"),
    ],
)
def test_bad_bodies_are_problems(
    served: Served, path: str, body: Any, status: int, says: str
) -> None:
    answer = _post(served, path, body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert says in answer.text


def test_the_entity_limit_and_permissions_hold_over_http(served: Served) -> None:
    limit = served.ws.stack.limits.online_entities_max
    many = {"entities": [{"user_id": 1}] * (limit + 1), "features": ["user_tx:amount"]}
    answer = _post(served, "/features/online", many)
    assert answer.status_code == 422 and "online_entities_max" in answer.text
    lookup = {"entities": [{"user_id": 1}], "features": ["user_tx:amount"]}
    for path, body in [
        ("/features/online", lookup),
        ("/features/materialize", {}),
        ("/features/views/user_tx/push", {"rows": [{"user_id": 1}]}),
    ]:
        denied = _post(served, path, body, token=served.eve)
        assert denied.status_code == 403, (path, denied.text)
    anonymous = httpx.post(f"{served.url}/api/v1/features/online", json=lookup, timeout=30)
    assert anonymous.status_code == 401
