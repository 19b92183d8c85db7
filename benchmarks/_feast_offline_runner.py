"""The Feast side of benchmarks/training_set.py; runs inside Feast's own virtualenv.

It needs only feast (with its duckdb extra), pandas and pyarrow, never goldenpath. Input: a
directory holding ``tx.parquet`` (the feature rows) and ``entities.parquet`` (``user_id``,
``event_timestamp``, ``row_id``), and the offline engine (``duckdb`` or ``dask``, Feast's
``file`` store). It builds a throw-away feature repo there (registry, online store paths),
applies one entity and one feature view (``amount``, ``merchant``; ttl 30 days, as ours), then
times ``get_historical_features(...).to_arrow()`` twice: cold (the first call in this
process) and warm (the same call again), and writes ``feast_<engine>.parquet`` (``row_id``,
``amount``, ``merchant``) from the first. Output: one JSON object on stdout (``seconds`` cold,
``warm_seconds``, rows, peak RSS).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

CONFIG = """project: bench
registry: {base}/registry.db
provider: local
offline_store:
  type: {store}
online_store:
  type: sqlite
  path: {base}/online.db
entity_key_serialization_version: 3
"""


def peak_mb() -> float:
    """This process's own high-water mark (VmHWM; ru_maxrss would include the parent's
    footprint, which survives exec on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--engine", choices=["duckdb", "dask"], default="duckdb")
    args = parser.parse_args()
    base: Path = args.directory.resolve()
    repo = base / f"feast-{args.engine}"
    repo.mkdir(exist_ok=True)
    store_type = "duckdb" if args.engine == "duckdb" else "file"
    (repo / "feature_store.yaml").write_text(CONFIG.format(base=repo, store=store_type))
    store = FeatureStore(repo_path=str(repo))
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(base / "tx.parquet"), timestamp_field="event_time")
    view = FeatureView(
        name="tx",
        entities=[user],
        ttl=timedelta(days=30),
        schema=[Field(name="amount", dtype=Float64), Field(name="merchant", dtype=Int64)],
        source=source,
    )
    store.apply([user, view])
    entities = pq.read_table(base / "entities.parquet").to_pandas()
    start = time.perf_counter()
    result = store.get_historical_features(
        entity_df=entities, features=["tx:amount", "tx:merchant"]
    ).to_arrow()
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    store.get_historical_features(
        entity_df=entities, features=["tx:amount", "tx:merchant"]
    ).to_arrow()
    warm_seconds = time.perf_counter() - start
    pq.write_table(
        result.select(["row_id", "amount", "merchant"]), base / f"feast_{args.engine}.parquet"
    )
    print(
        json.dumps(
            {
                "seconds": seconds,
                "warm_seconds": warm_seconds,
                "rows": result.num_rows,
                "peak_mb": peak_mb(),
                "feast": version("feast"),
            }
        )
    )


if __name__ == "__main__":
    main()
