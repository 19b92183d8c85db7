"""Feast's side of the online benchmarks, run by Feast's own Python (``--feast-python``).

Usage: python _feast_online_runner.py DIR PARQUET ONLINE_STORE MODE
(ONLINE_STORE: sqlite or redis://...; MODE: lookup or materialize)
Prints one JSON object. Feast is not a project dependency: this file imports only Feast, its
own dependencies and the standard library.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def main() -> None:
    repo, parquet, online, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    iterations = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
    repo.mkdir(parents=True, exist_ok=True)
    if online == "sqlite":
        store_yaml = f"  type: sqlite\n  path: {repo / 'online.db'}\n"
    else:
        host = online.split("://", 1)[1].split("/", 1)[0]
        db = online.rsplit("/", 1)[1] if online.count("/") >= 3 else "0"
        store_yaml = f"  type: redis\n  connection_string: {host},db={db}\n"
    (repo / "feature_store.yaml").write_text(
        "project: gpbench\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        f"online_store:\n{store_yaml}"
        "offline_store:\n  type: duckdb\n"
        "entity_key_serialization_version: 3\n",
        encoding="utf-8",
    )
    import pyarrow.parquet as pq
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64

    columns = [c for c in pq.read_schema(parquet).names if c.startswith("f")]
    store = FeatureStore(repo_path=str(repo))
    user = Entity(name="user", join_keys=["user_id"])
    source = FileSource(path=parquet, timestamp_field="ts")
    view = FeatureView(
        name="stats",
        entities=[user],
        ttl=timedelta(days=3650),
        schema=[Field(name=c, dtype=Float64) for c in columns],
        source=source,
        online=True,
    )
    store.apply([user, view])
    started = time.perf_counter()
    store.materialize(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1))
    materialize_seconds = time.perf_counter() - started
    out: dict[str, object] = {"materialize_seconds": materialize_seconds}
    if mode == "lookup":
        users = pq.read_table(parquet, columns=["user_id"]).column("user_id").to_pylist()
        keys = sorted(set(users))
        refs = [f"stats:{c}" for c in columns]
        rng = random.Random(1)
        for batch in (1, 100):
            times = []
            for _ in range(iterations if batch == 1 else iterations // 4):
                rows = [{"user_id": rng.choice(keys)} for _ in range(batch)]
                t = time.perf_counter()
                store.get_online_features(features=refs, entity_rows=rows).to_dict()
                times.append(time.perf_counter() - t)
            times.sort()
            out[f"p50_{batch}"] = times[len(times) // 2]
            out[f"p99_{batch}"] = times[int(len(times) * 0.99)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
