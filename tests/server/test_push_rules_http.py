"""Push meets row rules over HTTP and the remote SDK too, the pending table rules come back with
the remote materialisation, and ``keys_as_text`` types entity values by their definitions
(issue 23, §4)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import goldenpath
from goldenpath.core.errors import InvalidInput, ValidationFailed
from goldenpath.data.versions import PendingCheck
from tests.conftest import write
from tests.features.conftest import FEATURES_PY, transactions_file
from tests.server.conftest import serving

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CONTRACT = """
columns:
  user_id: {type: int, nullable: false, min: 1}
  amount:  {type: float, min: 0, mean: {max: 100}}
table:
  rows: {min: 3}
"""


@dataclass
class Served:
    url: str
    ws: goldenpath.Workspace
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("push-rules-http")
    ws = goldenpath.connect(base / "home", actor="alice", create=True)
    rows = {"user_id": [1, 2, 3], "event_time": [T0] * 3, "amount": [10.0, 20.0, 30.0]}
    ws.datasets.ingest(
        "transactions",
        transactions_file(base, rows, "tx.parquet"),
        contract=write(base / "c.yaml", CONTRACT),
    )
    (base / "features.py").write_text(FEATURES_PY)
    ws.features.apply(base / "features.py")
    ws.features.materialize(full=True)
    token = ws.principals.create_token("alice", expires_in="1h").secret
    with serving(ws) as url:
        yield Served(url, ws, token)
    ws.close()


def _push(served: Served, rows: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(
        f"{served.url}/api/v1/features/views/user_tx/push",
        json={"rows": rows},
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=30,
    )


def test_push_over_http_applies_row_rules_and_the_remote_materialisation_checks_the_rest(
    served: Served,
) -> None:
    answer = _push(served, [{"user_id": 11, "event_time": "2025-01-01T00:10:00Z", "amount": 7}])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["pending_rules"], body["not_applied_rules"]) == (["amount.mean"], ["table.rows"])
    version = body["dataset_version"]
    refused = _push(
        served,
        [
            {"user_id": 12, "event_time": "2025-01-01T00:11:00Z", "amount": 1},
            {"user_id": 0, "event_time": "2025-01-01T00:12:00Z", "amount": -1},
        ],
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (
        "row 2 breaks user_id.min (user_id='0'), amount.min (amount='-1.0')"
        in (refused.json()["detail"])
    )
    assert served.ws.datasets.get("transactions").ref == version  # nothing written
    with goldenpath.connect(served.url, token=served.token) as remote:
        pushed = remote.features.push(
            "user_tx", [{"user_id": 13, "event_time": T0 + timedelta(minutes=13), "amount": 500.0}]
        )
        assert pushed.pending_rules == ["amount.mean"]
        assert pushed.not_applied_rules == ["table.rows"]
        with pytest.raises(ValidationFailed, match=r"row 1 breaks amount\.min"):
            remote.features.push("user_tx", [{"user_id": 14, "event_time": T0, "amount": -2.0}])
        result = remote.features.materialize(["user_tx"])
    (check,) = result.contract_checks
    assert isinstance(check, PendingCheck)
    first = int(version.split("@")[1])
    assert (check.dataset, check.versions, check.rows) == ("transactions", [first, first + 1], 2)
    assert not check.passed and check.report is not None  # mean of 7 and 500 is above 100
    assert [r.rule for r in check.report.failures] == ["amount.mean"]


def test_remote_lookup_types_text_values_by_the_definition(served: Served) -> None:
    at = T0 + timedelta(minutes=30)
    with goldenpath.connect(served.url, token=served.token) as remote:
        got = remote.features.online(
            [{"user_id": "2"}], ["user_tx:amount"], at=at, keys_as_text=True
        )
        assert got.values == {"amount": [20.0]}
        with pytest.raises(InvalidInput) as wrong:
            remote.features.online(
                [{"user_id": "two"}], ["user_tx:amount"], at=at, keys_as_text=True
            )
        assert wrong.value.message == (
            "user_id='two': join key 'user_id' of feature view 'user_tx' must be int64, "
            "and 'two' is not an integer"
        )
        with pytest.raises(InvalidInput, match="must be int64, not str"):
            remote.features.online([{"user_id": "2"}], ["user_tx:amount"], at=at)
