"""Column names and text a file cannot bring in: one clear error (exit 2), nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath
from goldenpath import InvalidInput
from goldenpath.core.limits import Limits
from goldenpath.data.columns import check_names

LONG = Limits().column_name_chars_max + 1


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"id,ID\n1,2\n", "differ only in case"),
        (b"Amount,x,amount\n1,2,3\n", "differ only in case"),
        (b"a,,b\n1,2,3\n", "column 2 has an empty name"),
        (b"a, ,b\n1,2,3\n", "column 2 has an empty name"),
        (b"a,_gp_rules\n1,2\n", "reserved prefix"),
        (b"a,_gp_row\n1,2\n", "reserved prefix"),
        (b"_GP_Version,a\n1,2\n", "reserved prefix"),
        (b"a\x00b,c\n1,2\n", "NUL character"),
        (b"x" * LONG + b",c\n1,2\n", f"name of {LONG:,} characters"),
        (b"a,b\n", "header but no rows"),
        (b"a,name\n1,ok\n2,Jos\xe9\n", r"column .name. is not UTF-8 text \(first at data row 2\)"),
    ],
)
def test_a_bad_header_or_text_is_refused_before_anything_is_written(
    local_ws: goldenpath.Workspace, tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    before = _files_under(local_ws.storage_root)
    with pytest.raises(InvalidInput, match=message) as caught:
        local_ws.datasets.ingest("tx", path)
    assert caught.value.exit_code == 2
    assert caught.value.hint
    assert len(caught.value.message) < 500  # a 10k-character name is not echoed whole
    assert local_ws.datasets.list() == []
    assert _files_under(local_ws.storage_root) == before  # no Delta commit left behind


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id": [1], "ID": [2]}, "differ only in case"),
        ({"": [1]}, "empty name"),
        ({"_gp_row": [1]}, "reserved prefix"),
        ({"a\x00b": [1]}, "NUL character"),
    ],
)
def test_parquet_column_names_are_checked_too(
    local_ws: goldenpath.Workspace, tmp_path: Path, columns: dict[str, list[int]], message: str
) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(InvalidInput, match=message):
        local_ws.datasets.ingest("tx", path)
    assert local_ws.datasets.list() == []


def test_a_header_only_append_to_an_existing_dataset_is_refused_too(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    (tmp_path / "one.csv").write_text("a,b\n1,x\n")
    local_ws.datasets.ingest("tx", tmp_path / "one.csv")
    (tmp_path / "none.csv").write_text("a,b\n")
    with pytest.raises(InvalidInput, match="no rows"):
        local_ws.datasets.ingest("tx", tmp_path / "none.csv")
    assert [v.version for v in local_ws.datasets.history("tx")] == [1]
    # A Parquet file with no rows carries its types, so it is a valid (empty) batch.
    pq.write_table(
        pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())}),
        tmp_path / "none.parquet",
    )
    local_ws.datasets.ingest("tx", tmp_path / "none.parquet")
    assert local_ws.datasets.read("tx").num_rows == 1


def test_latin1_in_json_lines_is_refused(local_ws: goldenpath.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": "ok"}\n{"a": "Jos\xe9"}\n')
    with pytest.raises(InvalidInput, match="UTF-8"):
        local_ws.datasets.ingest("tx", path)
    assert local_ws.datasets.list() == []


def test_names_at_the_limit_and_unusual_names_are_accepted(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    at_limit = "y" * Limits().column_name_chars_max
    names = [at_limit, "gp_rules", "a_gp_", "line\nbreak", "Ünï ✓", "select"]
    pq.write_table(pa.table({n: [i] for i, n in enumerate(names)}), tmp_path / "in.parquet")
    local_ws.datasets.ingest("tx", tmp_path / "in.parquet")
    assert local_ws.datasets.read("tx").column_names == names


def test_the_name_limit_is_the_configured_one() -> None:
    check_names(["abc"], "f.csv", chars_max=3)
    with pytest.raises(InvalidInput, match="at most 2"):
        check_names(["abc"], "f.csv", chars_max=2)


def test_the_cli_says_error_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,ID\n1,2\n")
    env = {**os.environ, "GP_HOME": str(tmp_path / "home"), "GP_ACTOR": "alice"}
    gp = Path(sys.executable).parent / "gp"
    subprocess.run([gp, "init"], env=env, capture_output=True, check=False)
    run = subprocess.run(
        [gp, "data", "ingest", "tx", "in.csv"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert "error:" in run.stderr and "differ only in case" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("name", ["a\x00b", "_gp_row", "_GP_RULES", ""])
def test_the_validator_refuses_what_the_reader_refuses(name: str) -> None:
    from datetime import UTC, datetime

    from goldenpath.data.contracts import parse_contract
    from goldenpath.data.validation import validate_batch

    contract = parse_contract("columns:\n  ok: {min: 0}\n").contract
    with pytest.raises(InvalidInput, match="the batch: column"):
        validate_batch(pa.table({"ok": [1], name: [2]}), contract, now=datetime.now(UTC))
