"""Point-in-time training set: goldenpath vs a hand-written DuckDB ASOF JOIN (same features).

    .venv/bin/python benchmarks/training_set.py            # 100k entity rows x 1M feature rows
    .venv/bin/python benchmarks/training_set.py --large    # 1M x 10M

Six features: three row-level (ASOF) and three windowed (1h count, 1d sum, 7d mean). Ours is
``ws.features.training_set`` end to end (reading Delta, checks, the build; not storing); raw is
the SQL a DuckDB user would write over the same Arrow data already in memory. Outputs are
compared cell by cell. Peak RSS is the process's high-water mark after each step.
(Feast is not run by this version of the benchmark: see benchmarks/RESULTS.md.)
"""

# ruff: noqa: E501  (the SQL text and the features.py text are kept as written)
from __future__ import annotations

import argparse
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", action="store_true", help="1M entity rows x 10M rows")
    args = parser.parse_args()
    n_entities, n_rows = (1_000_000, 10_000_000) if args.large else (100_000, 1_000_000)
    source, ents = data(n_entities, n_rows)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        pq.write_table(source, base / "tx.parquet")
        ws = goldenpath.connect(base / "home", actor="bench", create=True)
        ws.datasets.ingest("transactions", base / "tx.parquet")
        (base / "features.py").write_text(FEATURES_PY)
        ws.features.apply(base / "features.py")
        del source
        rss0 = peak_mb()
        start = time.perf_counter()
        ours = ws.features.training_set(ents, service="bench").table
        ours_s = time.perf_counter() - start
        rss_ours = peak_mb()
        src = ws.datasets.read("transactions")
        numbered = ents.append_column("row_id", pa.array(np.arange(ents.num_rows)))
        con = sandboxed_duckdb({"src": src, "ents": numbered})
        start = time.perf_counter()
        raw = con.sql(RAW).to_arrow_table()
        raw_s = time.perf_counter() - start
        con.close()
        ws.close()
    mismatches = {}
    for name in raw.column_names:
        a, b = ours.column(name).to_pylist(), raw.column(name).to_pylist()
        bad = sum(
            1
            for x, y in zip(a, b, strict=True)
            if not (x == y or (isinstance(x, float) and y is not None and abs(x - y) < 1e-9))
        )
        mismatches[name] = bad
    print(f"training set: {n_entities:,} entity rows x {n_rows:,} feature rows, 6 features")
    print(f"  goldenpath   {ours_s:7.2f} s   (peak RSS {rss_ours:,.0f} MB; {rss0:,.0f} MB before)")
    print(f"  raw DuckDB   {raw_s:7.2f} s   ratio {ours_s / raw_s:.2f}x (budget 1.5x)")
    print(f"  mismatching cells (ours vs raw): {mismatches}")
    print("  Feast: not run by this benchmark version (see benchmarks/RESULTS.md)")


if __name__ == "__main__":
    main()
