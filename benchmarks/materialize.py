"""Materialisation throughput: goldenpath vs Feast's ``materialize`` vs a raw bulk insert.

    .venv/bin/python benchmarks/materialize.py                      # 1,000,000 rows
    .venv/bin/python benchmarks/materialize.py --rows 200000 --skip-feast

One row per entity (so rows/s and entities/s are the same figure), 10 float64 features. Times:
``OnlineFeatures.materialize(full=True)`` into the SQLite store (reading the Delta version,
evaluating in DuckDB, writing one transaction), best of ``--runs``; a raw ``executemany`` of
the same rows into a plain SQLite table (the floor: no reading, no evaluation); Feast 0.67's
``materialize`` into its SQLite online store from the same Parquet file (DuckDB offline store),
run by Feast's own Python (``--feast-python``; skipped with a note when missing), also best of
``--runs`` (each run a fresh Feast repo and online store, as each of ours rewrites the whole
view): the same number of runs for every writer.
Budget: at least 10x Feast's rows/s.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from _report import markdown_table
from _timing import best_of

import goldenpath
from goldenpath.features import Entity, FeatureView, Field
from goldenpath.features.online import open_online_store
from goldenpath.features.online_service import OnlineFeatures
from goldenpath.features.project import Definitions

FEATURES = [f"f{i}" for i in range(10)]


def make_data(path: Path, rows: int) -> pa.Table:
    rng = np.random.default_rng(20261201)
    columns: dict[str, object] = {
        "user_id": pa.array(np.arange(rows), pa.int64()),
        "ts": pa.array(
            np.full(rows, int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1e6)),
            pa.timestamp("us", "UTC"),
        ),
    }
    for name in FEATURES:
        columns[name] = rng.random(rows)
    table = pa.table(columns)
    pq.write_table(table, path)
    return table


def raw_insert(path: Path, table: pa.Table) -> None:
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    cols = ", ".join(f"{c} REAL" for c in FEATURES)
    conn.execute(f"CREATE TABLE t (user_id INTEGER PRIMARY KEY, ts INTEGER, {cols})")
    conn.execute("BEGIN")
    data = zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
    conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * table.num_columns)})", data)
    conn.execute("COMMIT")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--feast-python", default=".venv-feast/bin/python")
    parser.add_argument("--skip-feast", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gp-bench-materialize-"))
    table = make_data(tmp / "stats.parquet", args.rows)
    ws = goldenpath.connect(tmp / "home", actor="bench", create=True)
    ws.datasets.ingest("stats", tmp / "stats.parquet")
    view = FeatureView(
        name="stats",
        entities=[Entity(name="user", join_keys=["user_id"])],
        source="stats",
        timestamp="ts",
        features=[Field(name=c, dtype="float64") for c in FEATURES],
    )
    store = open_online_store("sqlite", ws.stack.home)
    online = OnlineFeatures(Definitions.of([view]), ws.datasets, store, ws.store, ws.actor)
    ours, result = best_of(args.runs, lambda: online.materialize(full=True))
    assert result.views[0].rows_read == args.rows
    assert result.views[0].entities_written == args.rows
    raw, _ = best_of(args.runs, lambda: raw_insert(tmp / "raw.sqlite", table))
    rows = [
        ["goldenpath materialize (SQLite)", f"{ours:.2f}", f"{args.rows / ours:,.0f}", "1.00x"],
        ["raw executemany (SQLite)", f"{raw:.2f}", f"{args.rows / raw:,.0f}", f"{raw / ours:.2f}x"],
    ]
    feast = Path(args.feast_python)
    feast_rate = None
    if args.skip_feast:
        print("note: Feast skipped (--skip-feast)")
    elif not feast.exists():
        print(f"note: no Feast python at {feast}; Feast skipped (pass --feast-python)")
    else:
        runner = Path(__file__).parent / "_feast_online_runner.py"
        runs = []
        for run in range(args.runs):
            done = subprocess.run(
                [
                    str(feast),
                    str(runner),
                    str(tmp / f"feast-{run}"),
                    str(tmp / "stats.parquet"),
                    "sqlite",
                    "materialize",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1])["materialize_seconds"])
        seconds = min(runs)
        feast_rate = args.rows / seconds
        rows.append(
            [
                "Feast 0.67 materialize (SQLite)",
                f"{seconds:.2f}",
                f"{feast_rate:,.0f}",
                f"{seconds / ours:.2f}x",
            ]
        )
    print(
        f"\n{args.rows:,} rows (one per entity), 10 float64 features, best of {args.runs} "
        "runs each\n"
    )
    print(markdown_table(["writer", "seconds", "rows/s", "time vs goldenpath"], rows))
    if feast_rate is not None:
        ratio = (args.rows / ours) / feast_rate
        verdict = "PASS" if ratio >= 10 else "MISS"
        print(f"\nbudget: at least 10x Feast's rows/s: {ratio:.1f}x {verdict}")
    ws.close()


if __name__ == "__main__":
    main()
