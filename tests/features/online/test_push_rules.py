"""A push meets its contract's row rules, not its batch rules (issue 23, §4), and a lookup's
join keys are typed by their definitions (``007`` stays text for a text key).

On each metadata backend (SQLite, PostgreSQL) and each online store (SQLite, Redis): a push
of a few rows is not refused by ``table.rows``; a row that breaks a row rule refuses the whole
push with an error naming the row and the rule, and nothing is written; the table rules wait
as pending, and the next materialisation checks them over the pushed rows, records the
outcome with each pushed version and audits it once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath
from goldenpath.core.errors import InvalidInput, ValidationFailed
from goldenpath.features import Entity, FeatureView, Field, OnDemandFeatureView
from goldenpath.features.online import OnlineStore
from goldenpath.features.online_service import OnlineFeatures
from goldenpath.features.project import Definitions
from tests.conftest import write

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")
CONTRACT = """
dataset: tx
columns:
  tx_id:    {type: string, nullable: false, unique: true, regex: "^tx_[0-9]{3}$"}
  user_id:  {type: int, nullable: false, min: 1}
  ts:       {type: timestamp, nullable: false}
  amount:   {type: float, min: 0, mean: {min: 5, max: 500}}
  merchant: {type: string, allowed: [a, b, c]}
table:
  rows: {min: 3}
  freshness: {column: ts, max_age: 3650d}
"""


def _tx(tx_id: str, user_id: int, minutes: int, amount: float, merchant: str) -> dict[str, Any]:
    return {
        "tx_id": tx_id,
        "user_id": user_id,
        "ts": T0 + timedelta(minutes=minutes),
        "amount": amount,
        "merchant": merchant,
    }


def _setup(ws: goldenpath.Workspace, store: OnlineStore, tmp: Path) -> tuple[OnlineFeatures, str]:
    rows = [_tx(f"tx_00{i}", i, i, 10.0 * i, "a") for i in (1, 2, 3)]
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("tx_id", pa.string()),
                ("user_id", pa.int64()),
                ("ts", TS),
                ("amount", pa.float64()),
                ("merchant", pa.string()),
            ]
        ),
    )
    pq.write_table(table, tmp / "tx.parquet")
    ws.datasets.ingest("tx", tmp / "tx.parquet", contract=write(tmp / "c.yaml", CONTRACT))
    view = FeatureView(
        name="user_tx",
        entities=[Entity(name="user", join_keys=["user_id"])],
        source="tx",
        timestamp="ts",
        features=[Field(name="amount", dtype="float64")],
    )
    online = OnlineFeatures(Definitions.of([view]), ws.datasets, store, ws.store, ws.actor)
    online.materialize()
    return online, view.name


def _amount(online: OnlineFeatures, view: str, user: int) -> float | None:
    got = online.online([{"user_id": user}], [f"{view}:amount"], at=T0 + timedelta(hours=1))
    value = got.values["amount"][0]
    return None if value is None else float(value)


def test_a_push_of_one_row_meets_row_rules_and_leaves_table_rules_pending(
    ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    online, view = _setup(ws, store, tmp_path)
    # One row: table.rows (min 3) would refuse it as a batch; a push applies row rules only.
    first = online.push(view, [_tx("tx_004", 4, 10, 10.0, "b")])
    assert first.dataset_version == "tx@2" and _amount(online, view, 4) == 10.0
    assert first.pending_rules == ["amount.mean", "table.freshness"]
    assert first.not_applied_rules == ["table.rows"]
    recorded = ws.datasets.validation("tx@2")
    assert recorded is not None and recorded["outcome"] == "pending"
    assert recorded["pending"] == ["amount.mean", "table.freshness"]
    # The mean of the pushed rows together (10 and 2000) is above 500: the next
    # materialisation finds it, over both pushes at once, and records it with each.
    online.push(view, [_tx("tx_005", 5, 11, 2000.0, "c")])
    result = online.materialize()
    (check,) = result.contract_checks
    assert (check.dataset, check.versions, check.rows, check.passed) == ("tx", [2, 3], 2, False)
    assert check.report is not None
    assert [r.rule for r in check.report.failures] == ["amount.mean"]
    assert "mean of amount is 1005" in check.summary()
    for ref in ("tx@2", "tx@3"):
        checked = ws.datasets.validation(ref)
        assert checked is not None and checked["outcome"] == "failed", ref
        assert checked["checked"]["versions"] == [2, 3]
    # The ingested batch's own validation is untouched.
    assert (ws.datasets.validation("tx@1") or {})["outcome"] == "accepted"
    events = ws.audit.list(action="dataset.pending_rules_checked")
    assert [e.details["failed"] for e in events] == [["amount.mean"]]
    # Checked once: the next run has nothing pending, and audits nothing more.
    assert online.materialize().contract_checks == []
    assert len(ws.audit.list(action="dataset.pending_rules_checked")) == 1
    # A passing push after that is checked on its own rows.
    online.push(view, [_tx("tx_006", 6, 12, 20.0, "a")])
    (again,) = online.materialize().contract_checks
    assert again.versions == [4] and again.passed
    assert (ws.datasets.validation("tx@4") or {})["outcome"] == "accepted"


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (
            [_tx("tx_007", 7, 13, 1.0, "a"), _tx("tx_008", 8, 14, -5.0, "zz")],
            "row 2 breaks amount.min (amount='-5.0'), merchant.allowed (merchant='zz')",
        ),
        ([_tx("tx_001", 9, 15, 1.0, "a")], "row 1 breaks tx_id.unique (tx_id='tx_001')"),
        ([_tx("tx_009", 0, 15, 1.0, "a"), _tx("bad", 9, 15, 1.0, "a")], "row 2 breaks tx_id.regex"),
    ],
    ids=["range-and-allowed", "unique-against-stored", "regex"],
)
def test_a_row_that_breaks_a_row_rule_refuses_the_push_naming_row_and_rule(
    ws: goldenpath.Workspace,
    store: OnlineStore,
    tmp_path: Path,
    rows: list[dict[str, Any]],
    says: str,
) -> None:
    online, view = _setup(ws, store, tmp_path)
    events = len(ws.audit.list(limit=1000))
    with pytest.raises(ValidationFailed) as refused:
        online.push(view, rows)
    message = str(refused.value)
    assert message.startswith("push refused for 'tx': ") and "nothing was written" in message
    assert says in message, message
    if "row 1 breaks tx_id.unique" in says:
        assert "row 2" not in message
    assert refused.value.report is not None and refused.value.report.failures
    # Nothing written: no version, no quarantined row, no online value, one audited refusal.
    assert [v.version for v in ws.datasets.history("tx")] == [1]
    assert ws.datasets.quarantine("tx").num_rows == 0
    assert _amount(online, view, rows[0]["user_id"]) is None
    audited = ws.audit.list(limit=1000)
    assert len(audited) == events + 1 and audited[0].action == "dataset.ingest_rejected"
    assert online.materialize().contract_checks == []


def test_a_text_join_key_keeps_its_zeros_and_a_wrong_type_is_one_error(
    ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "user_id": pa.array(["007", "7"], pa.string()),
            "ts": pa.array([T0, T0], TS),
            "amount": pa.array([1.0, 2.0], pa.float64()),
        }
    )
    pq.write_table(table, tmp_path / "text.parquet")
    ws.datasets.ingest("text_keys", tmp_path / "text.parquet")
    table = pa.table(
        {
            "card": pa.array([7, 8], pa.int64()),
            "ts": pa.array([T0, T0], TS),
            "amount": pa.array([3.0, 4.0], pa.float64()),
        }
    )
    pq.write_table(table, tmp_path / "int.parquet")
    ws.datasets.ingest("int_keys", tmp_path / "int.parquet")
    by_text = FeatureView(
        name="by_text",
        entities=[Entity(name="user", join_keys=["user_id"])],
        source="text_keys",
        timestamp="ts",
        features=[Field(name="amount", dtype="float64")],
    )
    by_int = FeatureView(
        name="by_int",
        entities=[Entity(name="card", join_keys=["card"])],
        source="int_keys",
        timestamp="ts",
        features=[Field(name="spend", dtype="float64", expression="amount")],
    )
    online = OnlineFeatures(
        Definitions.of([by_text, by_int]), ws.datasets, store, ws.store, ws.actor
    )
    online.materialize()
    refs = ["by_text:amount", "by_int:spend"]
    at = T0 + timedelta(hours=1)
    got = online.online(
        [{"user_id": "007", "card": "7"}, {"user_id": "7", "card": "+8"}],
        refs,
        at=at,
        keys_as_text=True,
    )
    assert got.values == {"amount": [1.0, 2.0], "spend": [3.0, 4.0]}
    assert got.entity_rows == [{"user_id": "007", "card": 7}, {"user_id": "7", "card": 8}]
    for value in ("abc", "7.0", "", "9999999999999999999"):
        with pytest.raises(InvalidInput) as wrong:
            online.online([{"user_id": "007", "card": value}], refs, at=at, keys_as_text=True)
        assert wrong.value.message == (
            f"card={value!r}: join key 'card' of feature view 'by_int' must be int64, "
            f"and {value!r} is not an integer"
        )
        assert wrong.value.hint == "for example: card=7"
    # A request field of an on-demand view is read as its declared dtype.
    scaled = OnDemandFeatureView(
        name="scaled",
        function=_scaled,
        inputs=["by_int:spend"],
        request=[Field(name="factor", dtype="float64"), Field(name="note", dtype="string")],
        outputs=[Field(name="scaled", dtype="float64"), Field(name="note_out", dtype="string")],
    )
    with_request = OnlineFeatures(
        Definitions.of([by_text, by_int, scaled]), ws.datasets, store, ws.store, ws.actor
    )
    row = {"card": "8", "factor": "2.5", "note": "10"}
    got = with_request.online([row], ["scaled:scaled", "scaled:note_out"], at=at, keys_as_text=True)
    assert got.values == {"scaled": [10.0], "note_out": ["10!"]}
    with pytest.raises(InvalidInput) as wrong:
        with_request.online(
            [{**row, "factor": "lots"}], ["scaled:scaled"], at=at, keys_as_text=True
        )
    assert wrong.value.message == (
        "factor='lots': request field 'factor' of on-demand view 'scaled' must be float64, "
        "and 'lots' is not a number"
    )
    # Without keys_as_text values are taken as given: text for an integer key is refused.
    with pytest.raises(InvalidInput, match="must be int64, not str"):
        online.online([{"user_id": "007", "card": "7"}], refs, at=at)


def _scaled(row: dict[str, Any]) -> dict[str, Any]:
    return {"scaled": row["spend"] * row["factor"], "note_out": row["note"] + "!"}
