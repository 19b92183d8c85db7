"""Counts and ages read like a person wrote them (issue 12, point 2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from goldenpath.core.humanize import duration, plural
from goldenpath.data.contracts import parse_contract
from goldenpath.data.validation import validate_batch


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 values"), (1, "1 value"), (2, "2 values"), (1_200, "1,200 values")],
)
def test_plural(count: int, expected: str) -> None:
    assert plural(count, "value") == expected


def test_plural_with_an_irregular_form() -> None:
    assert plural(1, "entity", "entities") == "1 entity"
    assert plural(3, "entity", "entities") == "3 entities"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (45, "45 seconds"),
        (90, "1.5 minutes"),
        (720, "12 minutes"),
        (3_600, "1 hour"),
        (5.5 * 3_600, "5.5 hours"),
        (86_400, "1 day"),
        (15_334.5 * 3_600, "639 days"),
        (-120, "-2 minutes"),
    ],
)
def test_duration(seconds: float, expected: str) -> None:
    assert duration(seconds) == expected


def test_contract_messages_count_and_age_for_people() -> None:
    contract = parse_contract(
        "columns:\n  amount: {min: 0}\n  ts: {type: timestamp}\n"
        "table:\n  freshness: {column: ts, max_age: 1d}\n"
    ).contract
    now = datetime(2026, 12, 1, tzinfo=UTC)
    table = pa.table(
        {
            "amount": [-1.0, 2.0],
            "ts": pa.array([datetime(2025, 3, 2, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")),
        }
    )
    report = validate_batch(table, contract, now=now).report
    messages = {r.rule: r.message for r in report.failures}
    assert messages["amount.min"].startswith("1 value below 0")
    assert "(639 days old)" in messages["table.freshness"]
    assert "2 of 2 rules failed (1 of 2 rows)" in report.summary()
