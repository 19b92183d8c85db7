"""The vectorised validator agrees with a plain-Python reading of the contract, row by row."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldenpath.data.contracts import parse_contract
from goldenpath.data.validation import validate_batch

CONTRACT = parse_contract(
    """
columns:
  code: {nullable: false, unique: true, regex: "^[a-c]+$", allowed: [a, b, ab, abc]}
  amount: {min: -10, max: 10}
  n: {type: int, nullable: false}
"""
).contract

codes = st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "abc", "ca", "x", ""]))
amounts = st.one_of(st.none(), st.floats(-20, 20, allow_nan=False))
ns = st.one_of(st.none(), st.sampled_from(["1", "2", "-3", "x", "1.5"]))
rows = st.lists(st.tuples(codes, amounts, ns), max_size=40)


def reference(data: list[tuple[str | None, float | None, str | None]]) -> dict[str, set[int]]:
    """Which row positions break which rule, computed one row at a time."""
    counts = Counter(code for code, _, _ in data if code is not None)
    broken: dict[str, set[int]] = {
        rule: set()
        for rule in (
            "code.not_null",
            "code.unique",
            "code.regex",
            "code.allowed",
            "amount.min",
            "amount.max",
            "n.type",
            "n.not_null",
        )
    }
    for i, (code, amount, n) in enumerate(data):
        if code is None:
            broken["code.not_null"].add(i)
        else:
            if counts[code] > 1:
                broken["code.unique"].add(i)
            if not re.fullmatch("[a-c]+", code):
                broken["code.regex"].add(i)
            if code not in ("a", "b", "ab", "abc"):
                broken["code.allowed"].add(i)
        if amount is not None and amount < -10:
            broken["amount.min"].add(i)
        if amount is not None and amount > 10:
            broken["amount.max"].add(i)
        if n is None:
            broken["n.not_null"].add(i)
        elif not re.fullmatch(r"-?\d+", n):
            broken["n.type"].add(i)
    return broken


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_counts_and_quarantined_rows_match_the_reference(
    data: list[tuple[str | None, float | None, str | None]],
) -> None:
    table = pa.table(
        {
            "code": pa.array([r[0] for r in data], pa.string()),
            "amount": pa.array([r[1] for r in data], pa.float64()),
            "n": pa.array([r[2] for r in data], pa.string()),
        }
    )
    expected = reference(data)
    checked = validate_batch(table, CONTRACT, now=datetime.now(UTC), split=True)
    assert {r.rule: r.failed for r in checked.report.results} == {
        rule: len(positions) for rule, positions in expected.items()
    }
    failing = set().union(*expected.values())
    assert checked.report.rows_failed == len(failing)
    held = checked.quarantined.to_pylist() if checked.quarantined is not None else []
    # _gp_row counts data rows from 1; the reference counts positions from 0.
    assert {r["_gp_row"] - 1 for r in held} == failing
    for row in held:
        assert set(row["_gp_rules"]) == {k for k, v in expected.items() if row["_gp_row"] - 1 in v}
    assert checked.valid.num_rows == len(data) - len(failing)
    if checked.valid.num_rows:
        assert checked.valid.schema.field("n").type == pa.int64()


# Enough copies of the amount rules to pass 62 row rules: the validator then counts with one
# FILTER per rule instead of a bitmask per row (a path a planted `raise` once hid behind).
COPIES = 30
WIDE_CONTRACT = parse_contract(
    """
columns:
  code: {nullable: false, unique: true, regex: "^[a-c]+$", allowed: [a, b, ab, abc]}
  amount: {min: -10, max: 10}
  n: {type: int, nullable: false}
"""
    + "".join(f"  amount_{k}: {{min: {-10 + k % 9}, max: {10 - k % 7}}}\n" for k in range(COPIES))
).contract


def test_the_wide_contract_takes_the_many_rules_path() -> None:
    assert WIDE_CONTRACT.rule_count() > 62


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_more_than_62_row_rules_match_the_reference(
    data: list[tuple[str | None, float | None, str | None]],
) -> None:
    amounts = [r[1] for r in data]
    table = pa.table(
        {
            "code": pa.array([r[0] for r in data], pa.string()),
            "amount": pa.array(amounts, pa.float64()),
            "n": pa.array([r[2] for r in data], pa.string()),
            **{f"amount_{k}": pa.array(amounts, pa.float64()) for k in range(COPIES)},
        }
    )
    expected = reference(data)
    for k in range(COPIES):
        lo, hi = -10 + k % 9, 10 - k % 7
        expected[f"amount_{k}.min"] = {i for i, a in enumerate(amounts) if a is not None and a < lo}
        expected[f"amount_{k}.max"] = {i for i, a in enumerate(amounts) if a is not None and a > hi}
    checked = validate_batch(table, WIDE_CONTRACT, now=datetime.now(UTC), split=True)
    assert {r.rule: r.failed for r in checked.report.results} == {
        rule: len(positions) for rule, positions in expected.items()
    }
    failing = set().union(*expected.values())
    assert checked.report.rows_failed == len(failing)
    held = checked.quarantined.to_pylist() if checked.quarantined is not None else []
    # _gp_row counts data rows from 1; the reference counts positions from 0.
    assert {r["_gp_row"] - 1 for r in held} == failing
    for row in held:
        assert set(row["_gp_rules"]) == {k for k, v in expected.items() if row["_gp_row"] - 1 in v}
    # Without split the counts come from the same path.
    unsplit = validate_batch(table, WIDE_CONTRACT, now=datetime.now(UTC))
    assert unsplit.report.rows_failed == len(failing)
