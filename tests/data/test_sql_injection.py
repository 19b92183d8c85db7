"""The column-name SQL injection of issue 11, and the sandbox that makes the class harmless.

A CSV header names a column; a contract names the same column; the validator used to paste
the rule name (``<column>.not_null``) into DuckDB SQL as ``'...'``. These tests replay that
exploit end to end and check each way out of a sandboxed connection is closed.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

import goldenpath
from goldenpath.core.sql import quote_identifier, quote_literal, sandboxed_duckdb

SRC = Path(__file__).resolve().parents[2] / "src"


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _contract(path: Path, columns: dict[str, dict[str, object]], mode: str) -> Path:
    path.write_text(
        yaml.safe_dump({"on_violation": mode, "columns": columns}, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def _exploit_names(secret: Path, planted: Path) -> dict[str, str]:
    """Column names that broke out of the rule label  '<column>.not_null'  on the old code."""
    return {
        # Read a file into the quarantine row's _gp_rules (the audit key over HTTP).
        "read": f"x' || (SELECT content FROM read_text('{secret}')) || '",
        # Finish the statement, write a file, and start a new statement for the rest.
        "write": (
            "y' END], lambda x: x IS NOT NULL) AS _gp_rules, _gp_row FROM batch; "
            f"COPY (SELECT 42 AS pwned) TO '{planted}'; "
            "SELECT *, list_filter([CASE WHEN true THEN 'y"
        ),
    }


@pytest.mark.parametrize("attack", ["read", "write"])
def test_the_exploit_from_issue_11_reads_nothing_and_writes_nothing(
    local_ws: goldenpath.Workspace, tmp_path: Path, attack: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "audit-key.pem"
    secret.write_text("TOP-SECRET-KEY-MATERIAL")
    planted = outside / "pwned.csv"
    column = _exploit_names(secret, planted)[attack]
    data = _csv(tmp_path / "evil.csv", ["id", column], [["1", ""], ["2", "a"]])
    contract = _contract(tmp_path / "evil.yaml", {column: {"nullable": False}}, "quarantine")

    result = local_ws.datasets.ingest("evil", data, contract=contract)

    assert sorted(p.name for p in outside.iterdir()) == ["audit-key.pem"]
    held = local_ws.datasets.quarantine("evil").to_pylist()
    assert result.outcome == "quarantined"
    # The rule name comes back exactly as the column name spelt it, unevaluated.
    assert [(r["id"], r[column], r["_gp_rules"]) for r in held] == [
        ("1", None, [f"{column}.not_null"])
    ]
    everything = repr(held) + repr(local_ws.datasets.read("evil").to_pylist())
    everything += repr(local_ws.datasets.profile("evil")) + repr(result.report)
    assert "TOP-SECRET" not in everything
    assert local_ws.datasets.read("evil").column(column).to_pylist() == ["a"]


def _sandbox(tmp_path: Path) -> object:
    return sandboxed_duckdb({"batch": pa.table({"a": [1, 2]})})


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_text('{f}')",
        "SELECT * FROM read_blob('{f}')",
        "SELECT * FROM read_csv('{f}')",
        "SELECT * FROM '{f}'",
        "SELECT * FROM glob('{d}/*')",
        "COPY batch TO '{d}/out.csv'",
        "COPY (SELECT 1) TO '{d}/out.parquet' (FORMAT parquet)",
        "EXPORT DATABASE '{d}/export'",
        "ATTACH '{d}/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        "SET TimeZone = 'Asia/Tokyo'",
        "SET python_enable_replacements = true",
        "SELECT * FROM secret_table",  # a Python variable in this frame: no replacement scan
    ],
)
def test_a_sandboxed_connection_cannot_leave_its_tables(tmp_path: Path, statement: str) -> None:
    import duckdb

    secret_table = pa.table({"s": ["SECRET"]})  # noqa: F841  (what a replacement scan would find)
    f = tmp_path / "key.txt"
    f.write_text("SECRET")
    before = sorted(tmp_path.iterdir())
    con = sandboxed_duckdb({"batch": pa.table({"a": [1, 2]})})
    try:
        with pytest.raises(duckdb.Error):
            con.execute(statement.format(f=f, d=tmp_path)).fetchall()
        # What it may do: read its own tables, in UTC.
        assert con.sql("SELECT sum(a), current_setting('TimeZone') FROM batch").fetchall() == [
            (3, "UTC")
        ]
    finally:
        con.close()
    assert sorted(tmp_path.iterdir()) == before


def test_registered_datasets_are_readable_though_files_are_not(tmp_path: Path) -> None:
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1, 2, 3]}), tmp_path / "part.parquet")
    con = sandboxed_duckdb({"existing": pads.dataset(tmp_path)})
    try:
        con.register("late", pa.table({"b": [4]}))  # registering after the lock still works
        assert con.sql("SELECT sum(a) FROM existing").fetchall() == [(6,)]
        assert con.sql("SELECT b FROM late").fetchall() == [(4,)]
    finally:
        con.close()


@pytest.mark.parametrize(
    "name",
    ['a"b', "a'b", 'x"; DROP TABLE batch; --', "]", "a\\b", "line\nbreak", "select", "Ünï ✓", ""],
)
def test_quoting_round_trips_any_name(name: str) -> None:
    con = sandboxed_duckdb()
    try:
        sql = f"SELECT {quote_literal(name)} AS {quote_identifier(name or 'x')}"
        relation = con.sql(sql)
        assert relation.columns == [name or "x"]
        assert relation.fetchall() == [(name,)]
    finally:
        con.close()


def test_nul_cannot_be_quoted() -> None:
    with pytest.raises(ValueError, match="NUL"):
        quote_identifier("a\x00b")
    with pytest.raises(ValueError, match="NUL"):
        quote_literal("a\x00b")


def test_every_duckdb_connection_in_src_comes_from_the_sandbox() -> None:
    """Only core/sql.py may call duckdb.connect; everything else asks it for a connection."""
    offenders = []
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name == "sql.py" and path.parent.name == "core":
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(
                r"\bduckdb\s*\.\s*connect\s*\(|\bfrom\s+duckdb\s+import\b.*\bconnect\b", line
            ):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []


def test_no_sql_is_built_by_pasting_a_quoted_name() -> None:
    """An f-string that puts {...} inside '...' or "..." in SQL is the bug of issue 11."""
    pasted = re.compile(r"""f["'].*(SELECT|WHERE|THEN|FROM)\b.*'\{[^}]+\}'""")
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pasted.search(line)
    ]
    assert offenders == []
