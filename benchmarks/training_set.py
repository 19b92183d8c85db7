"""Point-in-time training set: goldenpath vs a hand-written DuckDB ASOF JOIN (same features).

    .venv/bin/python benchmarks/training_set.py            # 100k entity rows x 1M feature rows
    .venv/bin/python benchmarks/training_set.py --large    # 1M x 10M

Six features: three row-level (ASOF) and three windowed (1h count, 1d sum, 7d mean). Ours is
``ws.features.training_set`` end to end (reading Delta, checks, the build; not storing); raw is
the SQL a DuckDB user would write over the same Arrow data already in memory. Outputs are
compared cell by cell. Peak RSS is the process's high-water mark after each step.

``--runs`` (default 3) repeats the in-process pairs (ours then raw, 6 features; then the 2
row-level features): each run's ratio is printed and the summary is the worst run. Budget:
1.5x raw DuckDB, judged on the worst run for the 6-feature build and for the row-level-only
build (each called PASS or MISS).

Feast's ``get_historical_features`` runs in its own virtualenv (``--feast-python``; default
``.venv-feast/bin/python``, made by ``make bench-feast-env``; skipped with a note when missing),
by ``_feast_offline_runner.py``, on the same rows (the Parquet file ours ingested) and the same entity
rows: its DuckDB engine, and its default dask engine (``--feast-engines``). Feast has no SQL
expressions nor windowed aggregations, so it computes the two plain row-level features
(``amount``, ``merchant``), compared cell by cell with raw by entity row. Cold against cold,
warm against warm: Feast's cold figure is the first call in its process, its warm one the
same call again; ours cold is the first row-level build in a fresh process (this script
re-run with ``--ours-cold``: connect, then build twice), ours warm that process's second.
"""

# ruff: noqa: E501  (the SQL text and the features.py text are kept as written)
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import goldenpath
from goldenpath.core.sql import sandboxed_duckdb

FEATURES_PY = """
from goldenpath.features import Aggregation, Entity, FeatureService, FeatureView, Field
user = Entity(name="user", join_keys=["user_id"])
tx = FeatureView(
    name="tx", entities=[user], source="transactions", timestamp="event_time", ttl="30d",
    features=[Field(name="amount", dtype="float64"), Field(name="merchant", dtype="int64"),
              Field(name="amount_cents", dtype="int64", expression="CAST(amount * 100 AS BIGINT)")],
    aggregations=[Aggregation(name="n_1h", function="count", window="1h"),
                  Aggregation(name="sum_1d", function="sum", column="amount", window="1d",
                              dtype="float64"),
                  Aggregation(name="mean_7d", function="mean", column="amount", window="7d")],
)
svc = FeatureService(name="bench", features=[tx])
"""

RAW = """
WITH r AS (SELECT user_id, event_time, amount, merchant, CAST(amount * 100 AS BIGINT) AS amount_cents
           FROM src),
pit AS (SELECT e.row_id, r.amount, r.merchant, r.amount_cents
         FROM ents e ASOF LEFT JOIN r ON e.user_id = r.user_id AND e.event_timestamp >= r.event_time),
win AS (SELECT e.row_id,
          count(s.amount) FILTER (WHERE s.event_time > e.event_timestamp - INTERVAL 1 HOUR) AS n_1h,
          sum(s.amount) FILTER (WHERE s.event_time > e.event_timestamp - INTERVAL 1 DAY) AS sum_1d,
          avg(s.amount) AS mean_7d
        FROM ents e LEFT JOIN src s ON e.user_id = s.user_id AND s.event_time <= e.event_timestamp
             AND s.event_time > e.event_timestamp - INTERVAL 7 DAY
        GROUP BY e.row_id)
SELECT e.user_id, e.event_timestamp, a.amount, a.merchant, a.amount_cents, w.n_1h, w.sum_1d, w.mean_7d
FROM ents e JOIN pit a USING (row_id) JOIN win w USING (row_id) ORDER BY e.row_id
"""

# What Feast computes (two plain row-level features), for a like-for-like time.
RAW_ROW = """
SELECT e.user_id, e.event_timestamp, r.amount, r.merchant
FROM ents e ASOF LEFT JOIN src r ON e.user_id = r.user_id AND e.event_timestamp >= r.event_time
ORDER BY e.row_id
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def data(entities: int, rows: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    users = max(rows // 100, 1)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = 90 * 86_400 * 1_000_000
    t0 = int(start.timestamp() * 1_000_000)
    source = pa.table(
        {
            "user_id": rng.integers(0, users, rows),
            "event_time": pa.array(t0 + rng.integers(0, span, rows), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "amount": np.round(rng.gamma(2.0, 30.0, rows), 2),
            "merchant": rng.integers(0, 5_000, rows),
        }
    )
    ents = pa.table(
        {
            "user_id": rng.integers(0, users, entities),
            "event_timestamp": pa.array(
                t0 + rng.integers(0, span + 86_400_000_000, entities), pa.int64()
            ).cast(pa.timestamp("us", tz="UTC")),
        }
    )
    return source, ents


def differs(x: object, y: object) -> bool:
    if x == y:
        return False
    return not (isinstance(x, float) and isinstance(y, float) and abs(x - y) < 1e-9)


def run_feast(python: Path, base: Path, engine: str, memory_gb: float | None) -> dict[str, object]:
    """Feast's get_historical_features in its own process (its address space capped at
    ``memory_gb`` if given, so a run out of memory fails alone instead of starving the
    machine); its figures, or why it failed."""
    runner = Path(__file__).with_name("_feast_offline_runner.py")

    def cap() -> None:
        if memory_gb is not None:
            limit = int(memory_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    start = time.perf_counter()
    done = subprocess.run(
        [str(python), str(runner), str(base), "--engine", engine],
        capture_output=True,
        text=True,
        preexec_fn=cap,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {done.returncode}: {tail}", "wall": wall}
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["wall"] = wall
    return figures


def compare_feast(raw: pa.Table, feast: pa.Table) -> dict[str, object]:
    """Feast's cells against raw's, matched by entity row; dropped rows counted apart."""
    by_row = {r: i for i, r in enumerate(feast.column("row_id").to_pylist())}
    report: dict[str, object] = {"dropped_rows": raw.num_rows - len(by_row)}
    for name in ("amount", "merchant"):
        theirs = feast.column(name).to_pylist()
        ours = raw.column(name).to_pylist()
        bad = [
            (row, ours[row], theirs[by_row[row]])
            for row in range(raw.num_rows)
            if row in by_row and differs(ours[row], theirs[by_row[row]])
        ]
        report[name] = len(bad)
        if bad:
            report[f"{name}_examples"] = bad[:3]
    dropped = [r for r in range(raw.num_rows) if r not in by_row]
    if dropped:
        nulls = sum(1 for r in dropped if raw.column("amount")[r].as_py() is None)
        report["dropped_rows_with_no_value_in_raw"] = nulls
    return report


def ours_cold(home: Path, entities: Path) -> None:
    """The row-level-only build in a fresh process: the first (cold) and second (warm) call."""
    ents = pq.read_table(entities).drop_columns(["row_id"])
    with goldenpath.connect(home, actor="bench") as ws:
        times = []
        for _ in range(2):
            start = time.perf_counter()
            ws.features.training_set(ents, ["tx:amount", "tx:merchant"])
            times.append(time.perf_counter() - start)
    print(json.dumps({"cold": times[0], "warm": times[1]}))


def verdict(ratio: float) -> str:
    return "PASS" if ratio <= 1.5 else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="in-process runs (worst reported)")
    parser.add_argument("--ours-cold", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--large", action="store_true", help="1M entity rows x 10M rows")
    parser.add_argument("--entities", type=int, help="entity rows (default 100k; 1M --large)")
    parser.add_argument("--rows", type=int, help="feature rows (default 1M; 10M --large)")
    parser.add_argument(
        "--feast-python", type=Path, default=Path(".venv-feast/bin/python"), help="Feast's venv"
    )
    parser.add_argument("--feast-engines", default="duckdb,dask", help="'' skips Feast")
    parser.add_argument(
        "--feast-memory-gb", type=float, help="cap each Feast process's address space"
    )
    args = parser.parse_args()
    if args.ours_cold:
        ours_cold(*args.ours_cold)
        return
    n_entities, n_rows = (1_000_000, 10_000_000) if args.large else (100_000, 1_000_000)
    n_entities, n_rows = args.entities or n_entities, args.rows or n_rows
    engines = [e for e in args.feast_engines.split(",") if e]
    source, ents = data(n_entities, n_rows)
    numbered = ents.append_column("row_id", pa.array(np.arange(ents.num_rows)))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        pq.write_table(source, base / "tx.parquet")
        pq.write_table(numbered, base / "entities.parquet")
        ws = goldenpath.connect(base / "home", actor="bench", create=True)
        ws.datasets.ingest("transactions", base / "tx.parquet")
        (base / "features.py").write_text(FEATURES_PY)
        ws.features.apply(base / "features.py")
        del source
        rss0 = peak_mb()
        ws.close()
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--ours-cold",
                str(base / "home"),
                str(base / "entities.parquet"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        cold = json.loads(done.stdout.strip().splitlines()[-1])
        ws = goldenpath.connect(base / "home", actor="bench")
        src = ws.datasets.read("transactions")
        con = sandboxed_duckdb({"src": src, "ents": numbered})
        runs: list[dict[str, float]] = []
        for _ in range(args.runs):
            run: dict[str, float] = {}
            start = time.perf_counter()
            ours = ws.features.training_set(ents, service="bench").table
            run["ours"] = time.perf_counter() - start
            start = time.perf_counter()
            raw = con.sql(RAW).to_arrow_table()
            run["raw"] = time.perf_counter() - start
            start = time.perf_counter()
            ws.features.training_set(ents, ["tx:amount", "tx:merchant"])
            run["ours_row"] = time.perf_counter() - start
            start = time.perf_counter()
            con.sql(RAW_ROW).to_arrow_table()
            run["raw_row"] = time.perf_counter() - start
            runs.append(run)
        rss_ours = peak_mb()
        con.close()
        ws.close()
        feast: dict[str, dict[str, object]] = {}
        if engines and not args.feast_python.exists():
            print(f"  (Feast skipped: no {args.feast_python}; make bench-feast-env makes it)")
            engines = []
        for engine in engines:
            feast[engine] = run_feast(args.feast_python, base, engine, args.feast_memory_gb)
            out = base / f"feast_{engine}.parquet"
            if "error" not in feast[engine] and out.exists():
                feast[engine]["cells"] = compare_feast(raw, pq.read_table(out))
    mismatches = {}
    for name in raw.column_names:
        a, b = ours.column(name).to_pylist(), raw.column(name).to_pylist()
        mismatches[name] = sum(1 for x, y in zip(a, b, strict=True) if differs(x, y))
    print(f"training set: {n_entities:,} entity rows x {n_rows:,} feature rows, 6 features")
    print(f"  peak RSS {rss_ours:,.0f} MB ({rss0:,.0f} MB before the builds)")
    for index, run in enumerate(runs, 1):
        print(
            f"  run {index}: 6 features goldenpath {run['ours']:.2f} s, raw DuckDB "
            f"{run['raw']:.2f} s, {run['ours'] / run['raw']:.2f}x; 2 row-level features "
            f"goldenpath {run['ours_row']:.2f} s, raw {run['raw_row']:.2f} s, "
            f"{run['ours_row'] / run['raw_row']:.2f}x"
        )
    worst = max(runs, key=lambda run: run["ours"] / run["raw"])
    worst_row = max(runs, key=lambda run: run["ours_row"] / run["raw_row"])
    ratio, ratio_row = worst["ours"] / worst["raw"], worst_row["ours_row"] / worst_row["raw_row"]
    print(f"  6 features, worst of {len(runs)}: {ratio:.2f}x raw (budget 1.5x): {verdict(ratio)}")
    print(
        f"  2 row-level features, worst of {len(runs)}: {ratio_row:.2f}x raw "
        f"(budget 1.5x): {verdict(ratio_row)}"
    )
    print(f"  mismatching cells (ours vs raw): {mismatches}")
    print(
        f"  2 row-level features, ours in a fresh process: cold {cold['cold']:.2f} s, "
        f"warm {cold['warm']:.2f} s"
    )
    for engine, figures in feast.items():
        if "error" in figures:
            print(f"  Feast {engine:6}  failed after {figures['wall']:.1f} s: {figures['error']}")
            continue
        seconds = float(figures["seconds"])  # type: ignore[arg-type]
        warm = float(figures["warm_seconds"])  # type: ignore[arg-type]
        print(
            f"  Feast {engine:6} 2 row-level features: cold {seconds:.2f} s "
            f"({seconds / cold['cold']:.2f}x ours cold), warm {warm:.2f} s "
            f"({warm / cold['warm']:.2f}x ours warm; {warm / worst_row['raw_row']:.2f}x raw) "
            f"(peak RSS {float(figures['peak_mb']):,.0f} MB; feast {figures['feast']}; "  # type: ignore[arg-type]
            f"process wall {figures['wall']:.1f} s)"
        )
        print(f"    cells vs raw: {figures['cells']}")


if __name__ == "__main__":
    main()
