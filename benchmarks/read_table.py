"""Reading a file with ``read_table`` (issue 23, point 6): the byte checks, decoding and the
schema checks, beside pyarrow's own reader of the same file (the raw engine, no checks).

Files: entity rows (an integer key and an ISO timestamp) as CSV, gzip-compressed CSV and JSON
Lines, generated deterministically under ``benchmarks/.data/``. The difference between the two
columns is what the limits cost (docs/security.md): one pass over the bytes before decoding.

Run from the repository root::

    .venv/bin/python benchmarks/read_table.py              # 2,000,000 rows, best of 5
    .venv/bin/python benchmarks/read_table.py --rows 200000 --runs 3
"""

from __future__ import annotations

import argparse
import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from _report import markdown_table
from _timing import best_of
from pyarrow import csv, json

from goldenpath.data.formats import read_table

DATA = Path(__file__).resolve().parent / ".data"


def _files(rows: int) -> dict[str, Path]:
    DATA.mkdir(exist_ok=True)
    files = {
        "csv": DATA / f"entities-{rows}.csv",
        "csv.gz": DATA / f"entities-{rows}.csv.gz",
        "jsonl": DATA / f"entities-{rows}.jsonl",
    }
    if not files["csv"].exists():
        stamps = [f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00" for i in range(rows)]
        lines = (f"{i % 50_000},{stamps[i]}\n" for i in range(rows))
        files["csv"].write_text("user_id,event_timestamp\n" + "".join(lines))
        files["csv.gz"].write_bytes(gzip.compress(files["csv"].read_bytes(), 6))
        records = (
            f'{{"user_id": {i % 50_000}, "event_timestamp": "{stamps[i]}"}}\n' for i in range(rows)
        )
        files["jsonl"].write_text("".join(records))
    return files


def _raw(kind: str, path: Path) -> Callable[[], pa.Table]:
    if kind == "csv":
        return lambda: csv.read_csv(path)
    if kind == "csv.gz":
        return lambda: csv.read_csv(pa.CompressedInputStream(pa.OSFile(str(path)), "gzip"))
    return lambda: json.read_json(path, read_options=json.ReadOptions(block_size=16 << 20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for kind, path in _files(args.rows).items():
        ours, table = best_of(args.runs, lambda path=path: read_table(path)[0])
        raw, _ = best_of(args.runs, _raw(kind, path))
        rows.append(
            [
                kind,
                f"{path.stat().st_size / 1e6:,.1f} MB",
                f"{table.num_rows:,}",
                f"{ours * 1000:,.0f} ms",
                f"{raw * 1000:,.0f} ms",
                f"{ours / raw:.2f}x",
            ]
        )
    print(f"load average before: {load:.1f}; best of {args.runs}")
    headers = ["file", "size", "rows", "read_table", "pyarrow alone", "ratio"]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
