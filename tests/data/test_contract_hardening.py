"""Contracts a careless or hostile author writes: one clear error naming file and line.

And the size of what a failed batch reports: examples are capped in number and in length,
in the error message and in the audit event alike.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

import goldenpath
from goldenpath import ContractError, ValidationFailed
from goldenpath.core.limits import Limits
from goldenpath.data.contracts import load_contract, parse_contract
from goldenpath.data.validation import validate_batch
from tests.conftest import write

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEPTH = Limits().nesting_depth_max


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Nesting: just past the limit, and deep enough to crash PyYAML's recursive composer.
        ("columns:\n  a:\n    allowed: " + "[" * DEPTH + "]" * DEPTH + "\n", "3: nested deeper"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "1: nested deeper than"),
        ("columns:\n  a: {nullable: false}\n  b: {}\n  a: {nullable: true}\n", "4: key 'a' is "),
        ("columns:\n  a: {min: 1, min: 2}\n", "2: key 'min' is repeated"),
        ('columns:\n  a: {nullable: "no"}\n', "2: columns.a.nullable: Input should be a valid"),
        ('columns:\n  a:\n    unique: "yes"\n', "3: columns.a.unique: Input should be a valid"),
        ('columns:\n  a: {regex: "(a)\\\\1"}\n', "2: columns.a.regex: Value error, regex is not"),
        ('columns:\n  a: {regex: "x(?=y)"}\n', "2: columns.a.regex: Value error, regex is not"),
        (
            "table:\n  freshness: {column: ts, max_age: 99999999999999999d}\n",
            "2: table.freshness.max_age: Value error, duration",
        ),
        ("table:\n  freshness: {column: ts, max_age: 36501d}\n", "longer than 36,500 days"),
        ("table:\n  freshness: {column: ts, max_age: 5300w}\n", "longer than 36,500 days"),
    ],
)
def test_a_bad_contract_is_one_error_with_file_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path / "c.yaml", text)
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(f"{path}:"), caught.value.message
    assert expected in caught.value.message


def test_what_is_still_accepted() -> None:
    text = (
        "columns:\n"
        "  a: {nullable: no, unique: true, regex: '(?i)^[a-z]+[0-9]{2}$'}\n"
        "  b: {nullable: false}\n"
        "table:\n  freshness: {column: ts, max_age: 36500d}\n"
        "  rows: {min: 1}\n"
        "x_nested_ok: " + "[" * (DEPTH - 1) + "]" * (DEPTH - 1) + "\n"
    )
    with pytest.raises(ContractError, match="x_nested_ok"):  # unknown key: nesting was fine
        parse_contract(text)
    contract = parse_contract(text.split("x_nested_ok")[0]).contract
    assert contract.columns["a"].nullable is False
    assert contract.table.freshness is not None


def test_a_bad_contract_on_ingest_writes_nothing(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    data = write(tmp_path / "in.csv", "a\nx\n")
    contract = write(tmp_path / "c.yaml", "columns:\n  a: {regex: '(a)\\1'}\n")
    with pytest.raises(ContractError, match=r"c\.yaml:2"):
        local_ws.datasets.ingest("tx", data, contract=contract)
    assert local_ws.datasets.list() == []


@pytest.mark.parametrize(
    ("column", "values"),
    [("ts", ["2026-11-30 10:00", "yesterday"]), ("ts", [1, 2])],
)
def test_freshness_on_a_column_without_timestamps_is_a_clear_error(
    local_ws: goldenpath.Workspace, tmp_path: Path, column: str, values: list[object]
) -> None:
    contract = parse_contract(f"table:\n  freshness: {{column: {column}, max_age: 2d}}\n").contract
    with pytest.raises(ContractError, match=r"holds .*, not timestamps or dates") as caught:
        validate_batch(pa.table({column: values}), contract, now=NOW)
    assert "type: timestamp" in (caught.value.hint or "")
    # Over ingest: exit 2, nothing written.
    data = write(tmp_path / "in.csv", "ts\n" + "\n".join(str(v) for v in values) + "\n")
    path = write(tmp_path / "c.yaml", "table:\n  freshness: {column: ts, max_age: 2d}\n")
    with pytest.raises(ContractError):
        local_ws.datasets.ingest("tx", data, contract=path)
    assert local_ws.datasets.list() == []


def test_freshness_on_a_declared_timestamp_column_parses_text() -> None:
    contract = parse_contract(
        "columns:\n  ts: {type: timestamp}\ntable:\n  freshness: {column: ts, max_age: 2d}\n"
    ).contract
    fresh = pa.table({"ts": [(NOW - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S")]})
    assert validate_batch(fresh, contract, now=NOW).report.passed


def _big_failures(rows: int, chars: int) -> pa.Table:
    return pa.table({"code": [f"{i:06d}" + "x" * chars for i in range(rows)]})


def test_examples_are_capped_in_number_and_length() -> None:
    contract = parse_contract("columns:\n  code: {regex: '^ok$', allowed: [ok]}\n").contract
    report = validate_batch(_big_failures(200, 100_000), contract, now=NOW).report
    assert report.rows_failed == 200
    for result in report.failures:
        assert len(result.examples) == Limits().error_examples_max
        assert all(len(e) <= Limits().example_chars_max for e in result.examples)
        assert result.examples[0].startswith("'000000xxx") and result.examples[0].endswith("…")
    assert len(report.summary()) < 2_000
    narrow = validate_batch(
        _big_failures(200, 10), contract, now=NOW, examples_max=2, example_chars_max=8
    ).report
    assert [len(r.examples) for r in narrow.failures] == [2, 2]
    assert all(len(e) <= 8 for r in narrow.failures for e in r.examples)


def test_a_rejected_batch_makes_a_small_error_and_a_small_audit_event(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    # ~26 MB of failing values: the message and the audit event must not carry them.
    data = tmp_path / "in.csv"
    data.write_text("code\n" + "\n".join(f"{i:06d}" + "x" * 100_000 for i in range(260)) + "\n")
    contract = write(tmp_path / "c.yaml", "columns:\n  code: {regex: '^ok$'}\n")
    with pytest.raises(ValidationFailed) as caught:
        local_ws.datasets.ingest("tx", data, contract=contract)
    assert len(caught.value.message) < 2_000
    event = local_ws.audit.list()[0]
    assert event.action == "dataset.ingest_rejected"
    assert len(json.dumps(event.details, default=str)) < 5_000


def test_the_workspace_limits_cap_examples_on_ingest_and_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``limits.error_examples_max`` / ``example_chars_max`` from the environment reach the
    reports the service makes (not only validate_batch's defaults)."""
    monkeypatch.setenv("GP_LIMIT_ERROR_EXAMPLES_MAX", "2")
    monkeypatch.setenv("GP_LIMIT_EXAMPLE_CHARS_MAX", "9")
    data = tmp_path / "in.csv"
    data.write_text("code\n" + "\n".join(f"{i:06d}" + "x" * 50 for i in range(20)) + "\n")
    contract = write(tmp_path / "c.yaml", "columns:\n  code: {regex: '^ok$'}\n")
    with goldenpath.connect(tmp_path / "home", actor="alice", create=True) as ws:
        assert ws.stack.limits.error_examples_max == 2
        dry = ws.datasets.validate("tx", data, contract=contract)
        with pytest.raises(ValidationFailed) as caught:
            ws.datasets.ingest("tx", data, contract=contract)
    for report in (dry, caught.value.report):
        assert report is not None
        (failure,) = report.failures
        assert len(failure.examples) == 2
        assert all(len(e) <= 9 for e in failure.examples)
