"""A corpus of hostile files, each small on disk: every one is refused with one clear error
(InvalidInput, exit 2), quickly, and nothing is written (no dataset version, no Delta commit).

Each file is one of the attacks of issue 11 (points 2 and 8): JSON nested 5,000 deep (crashed
the Delta writer, exit 139), a CSV of 20,000 columns (570 s, 3.4 GB), a Parquet file of 60M rows
and one whose pages decompress 1000-fold, gzip and zstd bombs, shapes the writer cannot store,
truncated and corrupt files, and text that is not UTF-8.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath
from goldenpath import InvalidInput, NotFound
from goldenpath.core.limits import Limits
from goldenpath.data.formats import read_table


def deep_json(tmp: Path) -> Path:
    depth = 5_000
    path = tmp / "deep.jsonl"
    path.write_text('{"a": ' + "[" * depth + "1" + "]" * depth + "}\n")
    return path


def deep_json_across_lines(tmp: Path) -> Path:
    # Pretty-printed: the depth spans lines, so a per-line count would miss it.
    path = tmp / "deep_lines.json"
    path.write_text('{"a":\n' + "[\n" * 100 + "1" + "]\n" * 100 + "}\n")
    return path


def deep_json_truncated(tmp: Path) -> Path:
    # Never closed: the byte scan refuses it on depth before any parser sees it (a parser
    # would spend its time descending, then report a syntax error).
    path = tmp / "deep_open.jsonl"
    path.write_text('{"a": ' + "[" * 5_000 + "\n")
    return path


def deep_brackets_in_strings_only(tmp: Path) -> Path:
    # Brackets inside strings are text, not nesting: this file is fine (the control case).
    path = tmp / "strings.jsonl"
    path.write_text('{"a": "' + "[" * 100 + '\\"' + "{" * 100 + '"}\n')
    return path


def deep_parquet(tmp: Path) -> Path:
    kind: pa.DataType = pa.int64()
    value: object = 1
    for _ in range(40):
        kind, value = pa.list_(kind), [value]
    path = tmp / "deep.parquet"
    pq.write_table(pa.table({"a": pa.array([value], kind)}), path)
    return path


def wide_csv(tmp: Path) -> Path:
    path = tmp / "wide.csv"
    header = ",".join(f"c{i}" for i in range(20_000))
    path.write_text(header + "\n" + ",".join("1" for _ in range(20_000)) + "\n")
    return path


def wide_json(tmp: Path) -> Path:
    path = tmp / "wide.jsonl"
    path.write_text("{" + ",".join(f'"c{i}": {i}' for i in range(3_000)) + "}\n")
    return path


def wide_nested_json(tmp: Path) -> Path:
    path = tmp / "wide_nested.jsonl"
    path.write_text('{"a": {' + ",".join(f'"c{i}": {i}' for i in range(3_000)) + "}}\n")
    return path


def parquet_of_60m_rows(tmp: Path) -> Path:
    path = tmp / "rows.parquet"
    chunk = pa.table({"x": pa.array([7] * 2_000_000, pa.int8())})
    with pq.ParquetWriter(path, chunk.schema, compression="zstd") as writer:
        for _ in range(30):
            writer.write_table(chunk, row_group_size=2_000_000)
    return path


def parquet_page_bomb(tmp: Path) -> Path:
    path = tmp / "bomb.parquet"
    table = pa.table({"s": pa.array(["a" * 10_000] * 2_000)})
    pq.write_table(table, path, compression="zstd", use_dictionary=False)
    return path


def gzip_bomb(tmp: Path) -> Path:
    path = tmp / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"id,text\n")
        line = b"1," + b"0" * 1_000_000 + b"\n"
        for _ in range(20):
            out.write(line)
    return path


def gzip_bomb_named_csv(tmp: Path) -> Path:
    # Compression is recognised by content: renaming the bomb does not get it past.
    path = gzip_bomb(tmp)
    return path.rename(tmp / "innocent.csv")


def zstd_json_bomb(tmp: Path) -> Path:
    path = tmp / "bomb.jsonl.zst"
    raw = b'{"a": "' + b"x" * 8_000_000 + b'"}\n'
    with pa.CompressedOutputStream(str(path), "zstd") as out:
        out.write(raw)
    return path


def truncated_parquet(tmp: Path) -> Path:
    whole = tmp / "whole.parquet"
    pq.write_table(pa.table({"x": list(range(1000))}), whole)
    path = tmp / "truncated.parquet"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return path


def corrupt_parquet(tmp: Path) -> Path:
    whole = tmp / "whole.parquet"
    pq.write_table(pa.table({"x": list(range(1000))}), whole, compression="none")
    data = bytearray(whole.read_bytes())
    data[4:-200] = bytes(len(data) - 204)  # pages zeroed, footer intact
    path = tmp / "corrupt.parquet"
    path.write_bytes(bytes(data))
    return path


def truncated_gzip(tmp: Path) -> Path:
    path = tmp / "cut.csv.gz"
    path.write_bytes(gzip.compress(b"id\n" + b"1\n" * 10_000)[:40])
    return path


def latin1_csv(tmp: Path) -> Path:
    path = tmp / "latin1.csv"
    path.write_bytes("id,city\n1,Zürich\n2,Malmö\n".encode("latin-1"))
    return path


def latin1_json(tmp: Path) -> Path:
    path = tmp / "latin1.jsonl"
    path.write_bytes('{"city": "Zürich"}\n'.encode("latin-1"))
    return path


def latin1_nested_json(tmp: Path) -> Path:
    # Inside an object: a check of the top-level text columns alone would store it.
    path = tmp / "latin1_nested.jsonl"
    path.write_bytes('{"id": 1, "address": {"city": "Zürich"}}\n'.encode("latin-1"))
    return path


def utf16_csv(tmp: Path) -> Path:
    path = tmp / "utf16.csv"
    path.write_bytes("id,city\n1,Zürich\n".encode("utf-16"))
    return path


def empty_object_json(tmp: Path) -> Path:
    path = tmp / "empty_object.jsonl"
    path.write_text('{"id": 1, "meta": {}}\n')
    return path


def case_twins_json(tmp: Path) -> Path:
    path = tmp / "twins.jsonl"
    path.write_text('{"id": 1, "meta": {"Key": 1, "key": 2}}\n')
    return path


def time_of_day_parquet(tmp: Path) -> Path:
    path = tmp / "time.parquet"
    pq.write_table(pa.table({"t": pa.array([1, 2], pa.time64("us"))}), path)
    return path


def huge_unsigned_parquet(tmp: Path) -> Path:
    path = tmp / "uint.parquet"
    pq.write_table(pa.table({"n": pa.array([2**64 - 1], pa.uint64())}), path)
    return path


def not_json(tmp: Path) -> Path:
    path = tmp / "garbage.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": \x00\xff\n')
    return path


# (file maker, words the error must contain)
CORPUS: list[tuple[Callable[[Path], Path], str]] = [
    (deep_json, "more than 32 levels deep"),
    (deep_json_across_lines, "more than 32 levels deep"),
    (deep_json_truncated, "more than 32 levels deep"),
    (deep_parquet, "more than 32 levels deep"),
    (wide_csv, "has more than 2,000 columns"),
    (wide_json, "3,000 columns; the limit is 2,000"),
    (wide_nested_json, "3,001 columns and nested fields; the limit is 2,000"),
    (
        parquet_of_60m_rows,
        "60,000,000 rows; the limit is 50,000,000 (limits.rows_per_upload_max); refused before "
        "decoding",
    ),
    (parquet_page_bomb, "expands more than 100 times"),
    (gzip_bomb, "expands more than 100 times when decompressed (gzip)"),
    (gzip_bomb_named_csv, "expands more than 100 times when decompressed (gzip)"),
    (zstd_json_bomb, "expands more than 100 times when decompressed (zstd)"),
    (truncated_parquet, "cannot read truncated.parquet as parquet"),
    (corrupt_parquet, "cannot read corrupt.parquet as parquet"),
    (truncated_gzip, "cannot read cut.csv.gz as csv"),
    (latin1_csv, "not UTF-8 text"),
    (latin1_json, "is not valid UTF-8 text"),
    (latin1_nested_json, "holds text that is not UTF-8"),
    (utf16_csv, "not UTF-8 text"),
    (empty_object_json, "object with no fields"),
    (case_twins_json, "differ only in case"),
    (time_of_day_parquet, "which a dataset cannot store"),
    (huge_unsigned_parquet, "too large for int64"),
    (not_json, "cannot read garbage.jsonl as jsonl"),
]


def _delta_commits(ws: goldenpath.Workspace, name: str) -> list[str]:
    log = ws.storage_root / "datasets" / name / "table" / "_delta_log"
    return sorted(p.name for p in log.glob("*.json")) if log.exists() else []


@pytest.mark.parametrize(("make", "words"), CORPUS, ids=[m.__name__ for m, _ in CORPUS])
def test_hostile_file_is_refused_clearly_and_writes_nothing(
    local_ws: goldenpath.Workspace,
    tmp_path: Path,
    make: Callable[[Path], Path],
    words: str,
) -> None:
    ws = local_ws
    good = tmp_path / "good.csv"
    good.write_text("id\n1\n")
    ws.datasets.ingest("old", good)
    commits = _delta_commits(ws, "old")
    hostile = make(tmp_path)
    assert hostile.stat().st_size < 600_000  # small on disk: the damage is in decoding it
    for name in ("old", "new"):
        started = time.monotonic()
        with pytest.raises(InvalidInput) as caught:
            ws.datasets.ingest(name, hostile)
        assert time.monotonic() - started < 10
        assert words in caught.value.message, caught.value.message
        assert caught.value.exit_code == 2 and caught.value.http_status == 422
        assert "\n" not in caught.value.message and caught.value.hint
    assert [v.version for v in ws.datasets.history("old")] == [1]
    assert _delta_commits(ws, "old") == commits
    with pytest.raises(NotFound):
        ws.datasets.get("new")
    assert _delta_commits(ws, "new") == []


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    table, _ = read_table(deep_brackets_in_strings_only(tmp_path))
    assert table.column("a").to_pylist() == ["[" * 100 + '"' + "{" * 100]


def test_compressed_files_within_the_ratio_read_normally(tmp_path: Path) -> None:
    path = tmp_path / "small.csv.gz"
    path.write_bytes(gzip.compress(b"id,name\n1,a\n2,b\n"))
    table, fmt = read_table(path)
    assert fmt == "csv" and table.to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def test_unsigned_integers_are_widened_losslessly(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "u.parquet"
    pq.write_table(
        pa.table({"a": pa.array([200], pa.uint8()), "b": pa.array([2**63 - 1], pa.uint64())}),
        path,
    )
    local_ws.datasets.ingest("u", path)
    assert local_ws.datasets.read("u").to_pylist() == [{"a": 200, "b": 2**63 - 1}]


@pytest.mark.parametrize(
    ("limit", "value", "content", "words"),
    [
        ("rows_per_upload_max", 3, "id\n1\n2\n3\n4\n", "more than 3 rows"),
        ("columns_max", 2, "a,b,c\n1,2,3\n", "more than 2 columns"),
        ("nesting_depth_max", 2, None, "more than 2 levels deep"),
        ("decompressed_max_bytes", 5, b"id\n1\n2\n3\n", "decompresses to more than 5 bytes"),
    ],
)
def test_each_limit_is_configurable(
    tmp_path: Path, limit: str, value: int, content: str | bytes | None, words: str
) -> None:
    if content is None:
        path = tmp_path / "n.jsonl"
        path.write_text('{"a": [[1]]}\n')
    elif isinstance(content, bytes):
        path = tmp_path / "f.csv.gz"
        path.write_bytes(gzip.compress(content))
    else:
        path = tmp_path / "f.csv"
        path.write_text(content)
    read_table(path)  # within the defaults
    with pytest.raises(InvalidInput, match=words):
        read_table(path, limits=Limits.model_validate({limit: value}))


def test_the_workspace_config_and_environment_set_the_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = goldenpath.connect(tmp_path / "home", actor="alice", create=True)
    config = tmp_path / "home" / "config.yaml"
    config.write_text(config.read_text() + "limits:\n  columns_max: 2\n")
    path = tmp_path / "f.csv"
    path.write_text("a,b,c\n1,2,3\n")
    ws = goldenpath.connect(tmp_path / "home", actor="alice")
    with pytest.raises(InvalidInput, match="more than 2 columns"):
        ws.datasets.ingest("f", path)
    monkeypatch.setenv("GP_LIMIT_COLUMNS_MAX", "5")
    ws = goldenpath.connect(tmp_path / "home", actor="alice")
    assert ws.datasets.ingest("f", path).version.row_count == 1


def test_cli_refuses_the_deep_json_that_crashed_it(tmp_path: Path) -> None:
    """The original report: ``gp data ingest`` of a 10 KB file exited 139 (SIGSEGV)."""
    gp = Path(sys.executable).parent / "gp"
    env = {**os.environ, "GP_HOME": str(tmp_path / "home"), "GP_ACTOR": "alice"}
    subprocess.run([gp, "init"], env=env, check=True, capture_output=True, timeout=120)
    done = subprocess.run(
        [gp, "data", "ingest", "deep", str(deep_json(tmp_path))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "more than 32 levels deep" in done.stderr and "Traceback" not in done.stderr
