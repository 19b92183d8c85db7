"""What materialisation reads: per-version batches (with schema evolution and overwrites),
time zones, created-timestamp ties, several join keys, expressions evaluated at write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath
from goldenpath.core.errors import InvalidInput
from goldenpath.core.ids import new_id
from goldenpath.features import Entity, FeatureView, Field
from goldenpath.features.online import open_online_store
from goldenpath.features.online_service import OnlineFeatures
from goldenpath.features.project import Definitions

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _ingest(
    ws: goldenpath.Workspace, name: str, table: pa.Table, tmp: Path, mode: str = "append"
) -> None:
    path = tmp / f"{new_id()}.parquet"
    pq.write_table(table, path)
    ws.datasets.ingest(name, path, mode=mode, allow_breaking=mode == "overwrite")  # type: ignore[arg-type]


def _online(ws: goldenpath.Workspace, tmp: Path, *views: FeatureView) -> OnlineFeatures:
    store = open_online_store("sqlite", tmp / f"store-{new_id()}")
    return OnlineFeatures(Definitions.of(list(views)), ws.datasets, store, ws.store, ws.actor)


def test_read_batches_gives_each_versions_rows(
    module_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    name = f"b-{new_id().lower()[-8:]}"
    _ingest(module_ws, name, pa.table({"id": [1, 2]}), tmp_path)
    _ingest(module_ws, name, pa.table({"id": [3], "extra": ["x"]}), tmp_path)  # a new column
    batches = module_ws.datasets.read_batches(name)
    assert [(v.version, t.to_pylist()) for v, t in batches] == [
        (1, [{"id": 1, "extra": None}, {"id": 2, "extra": None}]),
        (2, [{"id": 3, "extra": "x"}]),
    ]
    assert [v.version for v, _ in module_ws.datasets.read_batches(name, after=1)] == [2]
    assert module_ws.datasets.read_batches(name, after=2) == []
    _ingest(module_ws, name, pa.table({"id": [9]}), tmp_path, mode="overwrite")
    _ingest(module_ws, name, pa.table({"id": [10]}), tmp_path)
    # from the newest overwrite on: exactly the table's rows now
    assert [
        (v.version, t.column("id").to_pylist()) for v, t in module_ws.datasets.read_batches(name)
    ] == [
        (3, [9]),
        (4, [10]),
    ]


def test_time_zones_and_created_timestamp_ties(
    module_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    name = f"tz-{new_id().lower()[-8:]}"
    naive = pa.timestamp("us")
    table = pa.table(
        {
            "user_id": pa.array([1, 1, 2], pa.int64()),
            # 2026-03-29 01:30 Paris = 00:30 UTC (winter time, +1)
            "ts": pa.array(
                [datetime(2026, 3, 29, 1, 30)] * 2 + [datetime(2026, 3, 29, 1, 30)], naive
            ),
            "created": pa.array(
                [T0 + timedelta(hours=2), T0 + timedelta(hours=1), None], pa.timestamp("us", "UTC")
            ),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    _ingest(module_ws, name, table, tmp_path)
    user = Entity(name="user", join_keys=["user_id"])
    fields = [
        Field(name="amount", dtype="float64"),
        Field(name="doubled", dtype="int64", expression="amount * 2"),
    ]
    without_zone = FeatureView(
        name=f"n{new_id().lower()[-8:]}",
        entities=[user],
        source=name,
        timestamp="ts",
        features=fields,
    )
    with pytest.raises(InvalidInput, match="without a time zone"):
        _online(module_ws, tmp_path, without_zone).materialize()
    view = FeatureView(
        name=f"z{new_id().lower()[-8:]}",
        entities=[user],
        source=name,
        timestamp="ts",
        created_timestamp="created",
        timezone="Europe/Paris",
        features=fields,
    )
    online = _online(module_ws, tmp_path, view)
    online.materialize()
    utc = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    got = online.online(
        [{"user_id": 1}, {"user_id": 2}], [f"{view.name}:amount", f"{view.name}:doubled"], at=utc
    )
    # same event time: the greater created timestamp wins, though written earlier
    assert got.values == {"amount": [1.0, 3.0], "doubled": [2, 6]}
    assert got.ages["amount"] == [0.0, 0.0]
    # DST: 02:30 on 2026-10-25 happens twice in Paris (the later, +1, is taken: 01:30 UTC);
    # 02:30 on 2026-03-29 never happens (moved forward by the gap: 01:30 UTC too)
    later = pa.table(
        {
            "user_id": pa.array([3, 4], pa.int64()),
            "ts": pa.array([datetime(2026, 10, 25, 2, 30), datetime(2026, 3, 29, 2, 30)], naive),
            "created": pa.array([None, None], pa.timestamp("us", "UTC")),
            "amount": [4.0, 5.0],
        }
    )
    _ingest(module_ws, name, later, tmp_path)
    online.materialize()
    for user_id, instant in (
        (3, datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        (4, datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
    ):
        got = online.online([{"user_id": user_id}], [f"{view.name}:amount"], at=instant)
        assert (got.statuses["amount"], got.ages["amount"]) == (["present"], [0.0]), user_id


def test_several_join_keys_and_bad_expressions(
    module_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    name = f"ck-{new_id().lower()[-8:]}"
    table = pa.table(
        {
            "user_id": pa.array([1, 1], pa.int64()),
            "merchant": ['é,"x', "b"],
            "ts": pa.array([T0, T0], pa.timestamp("us", "UTC")),
            "amount": [5.0, 6.0],
        }
    )
    _ingest(module_ws, name, table, tmp_path)
    pair = [
        Entity(name="user", join_keys=["user_id"]),
        Entity(name="merchant", join_keys=["merchant"]),
    ]
    view = FeatureView(
        name=f"p{new_id().lower()[-8:]}",
        entities=pair,
        source=name,
        timestamp="ts",
        features=[Field(name="amount", dtype="float64")],
    )
    online = _online(module_ws, tmp_path, view)
    online.materialize()
    got = online.online(
        [
            {"user_id": 1, "merchant": 'é,"x'},
            {"user_id": 1, "merchant": "b"},
            {"user_id": 2, "merchant": "b"},
        ],
        [f"{view.name}:amount"],
        at=T0,
    )
    assert got.values["amount"] == [5.0, 6.0, None]
    with pytest.raises(InvalidInput, match=r"'merchant' .* must be string, not int"):
        online.online([{"user_id": 1, "merchant": 7}], [f"{view.name}:amount"], at=T0)
    broken = FeatureView(
        name=f"x{new_id().lower()[-8:]}",
        entities=pair,
        source=name,
        timestamp="ts",
        features=[Field(name="bad", dtype="float64", expression="amount +* 2")],
    )
    with pytest.raises(
        InvalidInput, match=r"feature x\w+:bad: the expression 'amount \+\* 2' does not compile"
    ):
        _online(module_ws, tmp_path, broken).materialize()
