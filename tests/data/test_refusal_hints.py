"""A refused batch's hint never contradicts the contract (issue 12, point 1).

A table rule (rows, freshness, a column statistic) cannot be met by quarantining rows: its
hint names the rule, what was found and what was expected, and how to relax or remove it.
``on_violation: quarantine`` is suggested only when the contract does not say it already and
rows broke row rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import goldenpath
from goldenpath import ValidationFailed
from tests.conftest import write

CONTRACT = """\
on_violation: {mode}
columns:
  tx_id: {{type: string, unique: true}}
  amount: {{type: float, min: 0, mean: {{max: 100}}}}
  ts: {{type: timestamp}}
table:
  rows: {{min: 5, max: 10000000}}
  freshness: {{column: ts, max_age: 2d}}
"""
# Three rows (table.rows), old timestamps (table.freshness), one negative amount (a row rule).
SMALL = "tx_id,amount,ts\ntx_1,10,2024-01-01\ntx_2,-1,2024-01-02\ntx_3,30,2024-01-03\n"
# Enough fresh rows for the table rules; one negative amount.
ROWS = "tx_id,amount,ts\n" + "".join(
    f"tx_{i},{-1 if i == 2 else 10},2099-01-01\n" for i in range(6)
)


def refused(ws: goldenpath.Workspace, tmp_path: Path, mode: str, data: str) -> ValidationFailed:
    contract = write(tmp_path / f"{mode}.contract.yaml", CONTRACT.format(mode=mode))
    with pytest.raises(ValidationFailed) as caught:
        ws.datasets.ingest("tx", write(tmp_path / "batch.csv", data), contract=contract)
    return caught.value


def test_table_rules_under_quarantine_name_the_rules_and_never_suggest_quarantine(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    hint = refused(local_ws, tmp_path, "quarantine", SMALL).hint or ""
    assert "on_violation: quarantine" not in hint
    assert "table.rows (batch has 3 rows, expected 5..10,000,000)" in hint
    assert "table.freshness (newest ts is 2024-01-03" in hint and "max age 2d" in hint
    assert "relax or remove table.rows, table.freshness in the contract" in hint


def test_table_rules_under_reject_also_offer_quarantine_for_the_failing_rows(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    hint = refused(local_ws, tmp_path, "reject", SMALL).hint or ""
    assert "relax or remove table.rows, table.freshness" in hint
    assert "set on_violation: quarantine to keep the valid rows" in hint


def test_row_rules_under_reject_suggest_quarantine_and_nothing_about_table_rules(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    hint = refused(local_ws, tmp_path, "reject", ROWS).hint or ""
    assert hint.startswith("fix the data, or set on_violation: quarantine")
    assert "table" not in hint


def test_a_column_statistic_is_a_table_rule_found_under_columns(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    big = "tx_id,amount,ts\n" + "".join(f"tx_{i},500,2099-01-01\n" for i in range(6))
    hint = refused(local_ws, tmp_path, "quarantine", big).hint or ""
    assert "amount.mean (mean of amount is 500, expected -inf..100)" in hint
    assert "relax or remove columns.amount.mean in the contract" in hint
    assert "on_violation" not in hint


def test_a_stored_contract_is_named_with_how_to_replace_it(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    contract = write(tmp_path / "c.yaml", CONTRACT.format(mode="quarantine"))
    many = "tx_id,amount,ts\n" + "".join(f"tx_{i},10,2099-01-01\n" for i in range(6))
    local_ws.datasets.ingest("tx", write(tmp_path / "a.csv", many), contract=contract)
    with pytest.raises(ValidationFailed) as caught:
        local_ws.datasets.ingest(
            "tx", write(tmp_path / "b.csv", SMALL.replace(",tx_", ",ty_").replace("\ntx_", "\nty_"))
        )
    assert "in the contract of 'tx' (then pass it with --contract FILE)" in (
        caught.value.hint or ""
    )
