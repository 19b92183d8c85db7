from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

import goldenpath
from goldenpath import ContractError, InvalidInput, ValidationFailed
from goldenpath.data.contracts import load_contract, parse_contract
from goldenpath.data.validation import validate_batch
from tests.conftest import write

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

CONTRACT = """\
on_violation: {mode}
columns:
  tx_id: {{type: string, nullable: false, unique: true, regex: "^tx_[0-9]+$"}}
  amount: {{type: float, min: 0, max: 1000}}
  country: {{type: string, allowed: [DE, FR, US]}}
"""

GOOD = "tx_id,amount,country\ntx_1,10.5,DE\ntx_2,20,FR\n"
# Row 1 ok; row 2 amount < 0; row 3 duplicate id + bad country; row 4 duplicate id;
# row 5 null id + bad regex impossible (null); row 6 amount not a number.
BAD = "tx_id,amount,country\ntx_10,1,US\ntx_11,-5,DE\ntx_12,3,XX\ntx_12,4,FR\n,5,DE\noops,abc,DE\n"


def contract(tmp_path: Path, mode: str = "reject") -> Path:
    return write(tmp_path / f"{mode}.contract.yaml", CONTRACT.format(mode=mode))


def test_reject_refuses_the_whole_batch_and_writes_nothing(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws.datasets.ingest("tx", write(tmp_path / "good.csv", GOOD), contract=contract(tmp_path))
    with pytest.raises(ValidationFailed) as caught:
        ws.datasets.ingest("tx", write(tmp_path / "bad.csv", BAD))
    message = caught.value.message
    assert "nothing was written" in message
    for line in (
        "amount.min: 1 value below 0",
        "tx_id.unique: 2 rows sharing a value",
        "country.allowed: 1 value not in the allowed list",
        "tx_id.not_null: 1 null",
        "tx_id.regex: 1 value not matching",
        "amount.type: 1 value not of type float",
    ):
        assert line in message
    assert "'XX'" in message  # example values
    assert [v.version for v in ws.datasets.history("tx")] == [1]
    assert ws.datasets.read("tx").num_rows == 2
    assert ws.audit.list()[0].action == "dataset.ingest_rejected"
    assert ws.datasets.quarantine("tx").num_rows == 0


def test_a_rejected_first_batch_creates_no_dataset(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    with pytest.raises(ValidationFailed):
        ws.datasets.ingest("tx", write(tmp_path / "bad.csv", BAD), contract=contract(tmp_path))
    assert ws.datasets.list() == []


def test_quarantine_keeps_valid_rows_and_holds_back_each_failing_row_exactly(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws.datasets.ingest(
        "tx", write(tmp_path / "good.csv", GOOD), contract=contract(tmp_path, "quarantine")
    )
    result = ws.datasets.ingest("tx", write(tmp_path / "bad.csv", BAD))
    assert result.outcome == "quarantined"
    assert (result.version.batch_rows, result.version.quarantined_rows) == (1, 5)
    assert result.report is not None and result.report.rows_failed == 5
    kept = ws.datasets.read("tx@2")
    assert sorted(kept.column("tx_id").to_pylist()) == ["tx_1", "tx_10", "tx_2"]
    assert kept.schema.field("amount").type == pa.float64()
    # _gp_row is the data row's number in the file, from 1 (issue 12, point 9), as in the
    # comment on BAD: data row N is on line N + 1 of the CSV, after its header.
    held = {r["_gp_row"]: r for r in ws.datasets.quarantine("tx").to_pylist()}
    assert sorted(held) == [2, 3, 4, 5, 6]
    assert held[2]["_gp_rules"] == ["amount.min"]
    assert held[3]["_gp_rules"] == ["tx_id.unique", "country.allowed"]
    assert held[5]["_gp_rules"] == ["tx_id.not_null"]
    assert set(held[6]["_gp_rules"]) == {"tx_id.regex", "amount.type"}
    assert held[6]["amount"] == "abc"  # the original text is kept, so nothing is lost
    lines = BAD.splitlines()
    assert all(lines[row].split(",")[1] == held[row]["amount"] for row in held)
    assert {r["_gp_version"] for r in held.values()} == {2}
    stored = ws.datasets.validation("tx@2")
    assert stored is not None and stored["outcome"] == "quarantined"
    assert stored["rows_failed"] == 5


def test_uniqueness_is_checked_against_existing_rows_on_append(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    local_ws.datasets.ingest(
        "tx", write(tmp_path / "good.csv", GOOD), contract=contract(tmp_path, "quarantine")
    )
    again = write(tmp_path / "again.csv", "tx_id,amount,country\ntx_2,1,DE\ntx_3,1,DE\n")
    result = local_ws.datasets.ingest("tx", again)
    assert result.version.quarantined_rows == 1
    assert local_ws.datasets.quarantine("tx").column("tx_id").to_pylist() == ["tx_2"]


def test_table_rules_cannot_be_quarantined_so_they_reject(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path / "c.yaml", "on_violation: quarantine\ntable:\n  rows: {min: 5}\n")
    with pytest.raises(ValidationFailed, match=r"(?s)table rules failed.*batch has 2 rows"):
        local_ws.datasets.ingest("tx", write(tmp_path / "good.csv", GOOD), contract=path)


def test_string_columns_keep_leading_zeros(local_ws: goldenpath.Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "columns:\n  zip: {type: string}\n")
    local_ws.datasets.ingest("z", write(tmp_path / "z.csv", "zip\n01234\n99999\n"), contract=path)
    assert local_ws.datasets.read("z").column("zip").to_pylist() == ["01234", "99999"]


def test_validate_is_a_dry_run(local_ws: goldenpath.Workspace, tmp_path: Path) -> None:
    report = local_ws.datasets.validate(
        "tx", write(tmp_path / "bad.csv", BAD), contract=contract(tmp_path)
    )
    assert not report.passed and report.rows_failed == 5 and report.rows_checked == 6
    assert local_ws.datasets.list() == []
    with pytest.raises(InvalidInput, match="no contract"):
        local_ws.datasets.validate("tx", tmp_path / "bad.csv")


def test_contract_for_another_dataset_is_refused(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path / "c.yaml", "dataset: users\n")
    with pytest.raises(InvalidInput, match="contract of dataset 'users'"):
        local_ws.datasets.ingest("tx", write(tmp_path / "good.csv", GOOD), contract=path)


def test_additive_changes_can_be_forbidden(local_ws: goldenpath.Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "additive_changes: forbid\n")
    local_ws.datasets.ingest("tx", write(tmp_path / "good.csv", GOOD), contract=path)
    extra = write(tmp_path / "extra.csv", "tx_id,amount,country,x\ntx_9,1,DE,1\n")
    with pytest.raises(goldenpath.Conflict, match=r"forbids new columns.*adds x"):
        local_ws.datasets.ingest("tx", extra)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("columns:\n  amount: {min: 1\n", "c.yaml:3: not valid YAML"),
        ("columns:\n  amount:\n    minimum: 0\n", "c.yaml:3: columns.amount.minimum: Extra inputs"),
        ("on_violation: ignore\n", "c.yaml:1: on_violation: Input should be 'reject' or"),
        ("columns:\n  a:\n    type: integer\n", "c.yaml:3: columns.a.type"),
        ("columns:\n  a: {min: 5, max: 1}\n", "c.yaml:2: columns.a: Value error, min (5.0) is"),
        ("columns:\n  a: {regex: '(['}\n", "c.yaml:2: columns.a.regex: Value error, regex does"),
        ("table:\n  freshness: {column: ts, max_age: soon}\n", "c.yaml:2: table.freshness.max_age"),
        ("- a\n- b\n", "c.yaml:1: expected a mapping"),
    ],
)
def test_contract_errors_name_the_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ContractError) as caught:
        load_contract(write(tmp_path / "c.yaml", text))
    assert expected in caught.value.message


def test_missing_contract_file(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="file not found"):
        load_contract(tmp_path / "none.yaml")


def test_a_contract_naming_an_absent_column_is_refused(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path / "c.yaml", "columns:\n  amount: {min: 0}\n  nope: {nullable: false}\n")
    with pytest.raises(ContractError, match="data does not have: nope"):
        local_ws.datasets.ingest("tx", write(tmp_path / "good.csv", GOOD), contract=path)
    assert local_ws.datasets.list() == []


def check(table: pa.Table, text: str) -> dict[str, int]:
    report = validate_batch(table, parse_contract(text).contract, now=NOW).report
    return {r.rule: r.failed for r in report.results}


def test_distribution_rules() -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, None]})
    assert check(table, "columns:\n  x: {mean: {min: 1, max: 3}, std: {max: 2}}\n") == {
        "x.mean": 0,
        "x.std": 0,
    }
    assert check(table, "columns:\n  x: {mean: {min: 5}, null_fraction: {max: 0.2}}\n") == {
        "x.mean": 1,
        "x.null_fraction": 1,
    }


def test_freshness_rule() -> None:
    recent = pa.table({"ts": pa.array([NOW - timedelta(hours=1), None], pa.timestamp("us", "UTC"))})
    stale = pa.table({"ts": pa.array([NOW - timedelta(days=3)], pa.timestamp("us"))})
    rule = "table:\n  freshness: {column: ts, max_age: 2d}\n"
    assert check(recent, rule) == {"table.freshness": 0}
    assert check(stale, rule) == {"table.freshness": 1}


def test_timestamp_and_allowed_number_bounds() -> None:
    table = pa.table(
        {
            "ts": pa.array([datetime(2023, 5, 1), datetime(2024, 2, 1), None], pa.timestamp("us")),
            "n": [1, 2, 7],
        }
    )
    text = 'columns:\n  ts: {min: "2024-01-01", max: "2024-12-31"}\n  n: {allowed: [1, 2]}\n'
    assert check(table, text) == {"ts.min": 1, "ts.max": 0, "n.allowed": 1}


def test_column_names_with_quotes_are_safe() -> None:
    table = pa.table({'we"ird; DROP': [1, -1]})
    assert check(table, "columns:\n  'we\"ird; DROP': {min: 0}\n") == {'we"ird; DROP.min': 1}


def test_integer_columns_refuse_fractions_instead_of_rounding() -> None:
    text = pa.table({"n": ["1", " 2 ", "1.5", "x", None]})
    floats = pa.table({"n": [1.0, 2.5]})
    assert check(text, "columns:\n  n: {type: int}\n") == {"n.type": 2}
    assert check(floats, "columns:\n  n: {type: int}\n") == {"n.type": 1}


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_timestamp_bounds_mean_utc_whatever_the_machine_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        ts = pa.array(
            [datetime(2023, 12, 31, 23, 0, tzinfo=UTC), datetime(2024, 1, 1, 1, 0, tzinfo=UTC)],
            pa.timestamp("us", "UTC"),
        )
        assert check(pa.table({"ts": ts}), 'columns:\n  ts: {min: "2024-01-01"}\n') == {"ts.min": 1}
    finally:
        monkeypatch.undo()
        time.tzset()
