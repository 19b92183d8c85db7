"""How fresh a view's online values are now (what a deploy checks), on SQLite and Redis: the
store's entity keys sampled and looked up through the serving read path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import goldenpath
from goldenpath.core.ids import new_id
from goldenpath.features import Aggregation, Entity, FeatureView, Field
from goldenpath.features.freshness import view_freshness
from goldenpath.features.online import OnlineStore
from tests.features.online.test_online import T0, TS, USER, _service, _unique


def _ingest(ws: goldenpath.Workspace, dataset: str, table: pa.Table, tmp: Path) -> None:
    path = tmp / f"{new_id()}.parquet"
    pq.write_table(table, path)
    ws.datasets.ingest(dataset, path)


def test_fresh_entities_are_counted_as_serving_would_see_them(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    recent = datetime.now(UTC) - timedelta(minutes=1)
    # users 1..5 last seen at T0 (months ago: expired by a 2h TTL), users 6 and 7 a minute ago
    users = [1, 2, 3, 4, 5, 6, 7]
    times = [T0] * 5 + [recent] * 2
    table = pa.table(
        {
            "user_id": pa.array(users, pa.int64()),
            "ts": pa.array(times, TS),
            "amount": pa.array([1.0 * u for u in users], pa.float64()),
        }
    )
    _ingest(module_ws, dataset, table, tmp_path)
    view = FeatureView(
        name=_unique("v"),
        entities=[USER],
        source=dataset,
        timestamp="ts",
        ttl="2h",
        features=[Field(name="amount", dtype="float64")],
        aggregations=[Aggregation(name="tx_1h", function="count", window="1h")],
    )
    online = _service(module_ws, store, view)
    refs = [f"{view.name}:amount", f"{view.name}:tx_1h"]
    before = view_freshness(online, store, view, refs, sample_max=100, chunk=3)
    assert not before.materialized and not before.fresh
    assert before.counted == "no online values"
    online.materialize()
    found = view_freshness(online, store, view, refs, sample_max=100, chunk=3)
    assert found.materialized and not found.more
    assert (found.entities_checked, found.entities_fresh) == (7, 2)
    assert found.counted == "2 of 7 entities fresh"
    assert found.sample in ({"user_id": 6}, {"user_id": 7})  # a fresh one, typed as its key
    assert found.ttl_seconds == 7200
    # A count over a window is always present (a known 0): the expired row decides.
    only_count = view_freshness(online, store, view, refs[1:], sample_max=100, chunk=3)
    assert only_count.entities_fresh == 7
    sampled = view_freshness(online, store, view, refs, sample_max=4, chunk=3)
    assert sampled.more and sampled.entities_checked == 4
    assert sampled.counted.endswith("of the first 4 entities fresh")


def test_keys_of_several_columns_and_text_come_back_typed(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    now = datetime.now(UTC) - timedelta(minutes=1)
    table = pa.table(
        {
            "shop": pa.array(["007", "x:y"], pa.string()),
            "user_id": pa.array([3, 4], pa.int64()),
            "ts": pa.array([now, now], TS),
            "amount": pa.array([1.0, 2.0], pa.float64()),
        }
    )
    _ingest(module_ws, dataset, table, tmp_path)
    pair = Entity(name="pair", join_keys=["shop", "user_id"])
    view = FeatureView(
        name=_unique("v"),
        entities=[pair],
        source=dataset,
        timestamp="ts",
        ttl="1d",
        features=[Field(name="amount", dtype="float64")],
    )
    online = _service(module_ws, store, view)
    online.materialize()
    found = view_freshness(online, store, view, [f"{view.name}:amount"], sample_max=10, chunk=10)
    assert (found.entities_checked, found.entities_fresh) == (2, 2)
    assert found.sample in ({"shop": "007", "user_id": 3}, {"shop": "x:y", "user_id": 4})
