"""The consistency proof (issue 13, point 8): online values equal offline point-in-time values.

Hypothesis draws source rows (ties in event time, created times and null created times, nulls,
NaN, duplicates, rows in one or two dataset versions), a feature view (row-level fields with
or without a TTL and defaults; windowed count, sum, mean, min, max and count_distinct over
several windows) and an on-demand feature over them. After ``ws.features.materialize``,
``ws.features.online`` at an instant ``at`` at or after every entity's newest event must equal
``ws.features.training_set`` for entity rows stamped ``at``, cell by cell, on SQLite and on
Redis. One workspace per backend, reused; each example has its own dataset and view names.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goldenpath
from goldenpath.features import Aggregation, Entity, FeatureView, Field, OnDemandFeatureView
from goldenpath.features.project import Definitions
from tests.features.online.conftest import redis_or_skip

T0 = datetime(2025, 3, 1, tzinfo=UTC)
# With a view time zone the source holds naive local times from here: the first day crosses
# the spring-forward gap (02:00-03:00 on 30 March does not exist in Paris).
LOCAL_T0 = datetime(2025, 3, 29, 20, 0)
STEP = timedelta(minutes=10)
HOUR = timedelta(hours=1)
UTC_US = pa.timestamp("us", tz="UTC")  # times on a grid: ties and exact window edges are common
USERS = (1, 2, 3)
ABSENT = 4  # asked for, never in the data
WINDOWS = ("10m", "1h", "1d", "3d")
_numbers = itertools.count()


def total(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The on-demand function: request value plus its inputs (nulls count as 0)."""
    values = [v for v in row.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {"total": float(sum(values))}


source_rows = st.lists(
    st.fixed_dictionaries(
        {
            "user_id": st.sampled_from(USERS),
            # Three days of 10-minute steps, often an hour or a day apart (window edges), or
            # in the nonexistent local hour (steps 36-41 from LOCAL_T0).
            "step": st.integers(0, 3 * 24 * 6) | st.sampled_from([0, 6, 12, 36, 39, 138, 144, 288]),
            "created": st.none() | st.integers(0, 3),
            "amount": st.none() | st.just(math.nan) | st.sampled_from([0.5, 1.0, 2.5, 7.0, 40.0]),
            "cat": st.none() | st.sampled_from(["a", "b", "c"]),
        }
    ),
    min_size=0,
    max_size=14,
)
aggregations = st.lists(
    st.tuples(
        st.sampled_from(
            [
                ("count", None),
                ("count", "amount"),
                ("sum", "amount"),
                ("mean", "amount"),
                ("min", "amount"),
                ("max", "amount"),
                ("count_distinct", "cat"),
            ]
        ),
        st.sampled_from(WINDOWS),
        st.none() | st.just(-1.0),
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "rows": draw(source_rows),
        "split": draw(st.integers(0, 14)),  # rows before it are version 1, the rest version 2
        "ttl": draw(st.sampled_from([None, "30m", "6h", "2d"])),
        "default": draw(st.none() | st.just(-5.0)),
        "created": draw(st.booleans()),
        "zone": draw(st.sampled_from([None, "Europe/Paris"])),
        "aggregations": draw(aggregations),
        # at: this many steps after the newest event (often exactly a window or a TTL later)
        "after": draw(st.sampled_from([0, 1, 3, 6, 36, 144, 288, 432]) | st.integers(0, 576)),
    }


def _table(rows: list[dict[str, Any]], zone: str | None) -> pa.Table:
    start, kind = (T0, UTC_US) if zone is None else (LOCAL_T0, pa.timestamp("us"))
    return pa.table(
        {
            "user_id": pa.array([r["user_id"] for r in rows], pa.int64()),
            "ts": pa.array([start + r["step"] * STEP for r in rows], kind),
            "created": pa.array(
                [None if r["created"] is None else start + r["created"] * HOUR for r in rows],
                kind,
            ),
            "amount": pa.array([r["amount"] for r in rows], pa.float64()),
            "cat": pa.array([r["cat"] for r in rows], pa.string()),
        }
    )


def _definitions(case: dict[str, Any], dataset: str, number: int) -> Definitions:
    name = f"v{number}"
    aggregations = [
        Aggregation(
            name=f"a{i}_{function}",
            function=function,
            column=column,
            window=window,
            **({"dtype": "float64"} if function in ("sum", "min", "max") else {}),
            **({} if default is None or function.startswith("count") else {"default": default}),
        )
        for i, ((function, column), window, default) in enumerate(case["aggregations"])
    ]
    view = FeatureView(
        name=name,
        entities=[Entity(name="user", join_keys=["user_id"])],
        source=dataset,
        timestamp="ts",
        created_timestamp="created" if case["created"] else None,
        timezone=case["zone"],
        ttl=case["ttl"],
        features=[
            Field(name="amount", dtype="float64", default=case["default"]),
            Field(name="large", dtype="bool", expression="amount > 2"),
            Field(name="cat", dtype="string"),
        ],
        aggregations=aggregations,
    )
    on_demand = OnDemandFeatureView(
        name=f"od{number}",
        function=total,
        inputs=[f"{name}:amount", f"{name}:{aggregations[0].name}"],
        request=[Field(name="x", dtype="float64")],
        outputs=[Field(name="total", dtype="float64")],
    )
    return Definitions.of([view, on_demand])


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    return bool(left == right) and type(left) is type(right)


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def backend_ws(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[goldenpath.Workspace]:
    online = "sqlite" if request.param == "sqlite" else redis_or_skip()
    home = tmp_path_factory.mktemp(f"consistency-{request.param}") / "home"
    ws = goldenpath.connect(home, actor="alice", online=online, create=True)
    assert isinstance(ws, goldenpath.Workspace)
    yield ws
    if request.param == "redis":
        import redis

        from goldenpath.workspace import online_namespace

        client = redis.Redis.from_url(online)
        for key in client.scan_iter(match=online_namespace(ws.stack.metadata) + "*", count=1000):
            client.unlink(key)
        client.close()
    ws.close()


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_online_equals_offline_point_in_time(
    backend_ws: goldenpath.Workspace, tmp_path_factory: pytest.TempPathFactory, case: dict[str, Any]
) -> None:
    ws = backend_ws
    number = next(_numbers)
    dataset = f"tx{number}"
    rows = case["rows"] or [{"user_id": 1, "step": 0, "created": None, "amount": 1.0, "cat": "a"}]
    first, second = rows[: max(case["split"], 1)], rows[max(case["split"], 1) :]
    path = Path(tmp_path_factory.mktemp("rows")) / "first.parquet"
    pq.write_table(_table(first, case["zone"]), path)
    ws.datasets.ingest(dataset, path)
    if second:
        ws.datasets.append_rows(dataset, _table(second, case["zone"]), source={"kind": "test"})
    definitions = _definitions(case, dataset, number)
    ws.features.apply(definitions)
    ws.features.materialize([f"v{number}"])

    # Local Paris times are 1 or 2 hours ahead of UTC: read as UTC, a local time is later
    # than its instant, so ``at`` is at or after every entity's newest event either way.
    start = T0 if case["zone"] is None else LOCAL_T0.replace(tzinfo=UTC)
    at = start + (max(r["step"] for r in rows) + case["after"]) * STEP
    view = definitions.views[f"v{number}"]
    refs = [f"v{number}:{n}" for n in view.feature_names] + [f"od{number}:total"]
    users = [*USERS, ABSENT]
    entity_rows = pa.table(
        {
            "user_id": pa.array(users, pa.int64()),
            "event_timestamp": pa.array([at] * len(users), pa.timestamp("us", tz="UTC")),
            "x": pa.array([0.25 * u for u in users], pa.float64()),
        }
    )
    offline = ws.features.training_set(entity_rows, refs, definitions=definitions).table
    online = ws.features.online(
        [{"user_id": u, "x": 0.25 * u} for u in users], refs, at=at, definitions=definitions
    )
    for ref in refs:
        feature = ref.partition(":")[2]
        expected = offline.column(feature).to_pylist()
        got = online.values[feature]
        assert all(_same(a, b) for a, b in zip(got, expected, strict=True)), (
            f"{ref} at {at.isoformat()}: online {got} != offline {expected}; rows {rows}"
        )


def test_a_pushed_correction_wins_online_and_offline(
    backend_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    """A push at an event time the store already holds for the entity (a correction) is a
    later dataset version: it wins the tie, online as in training sets, for one key or many."""
    ws = backend_ws
    number = next(_numbers)
    dataset, name = f"tx{number}", f"v{number}"
    at = T0 + HOUR
    rows = [
        {"user_id": 1, "step": 0, "created": None, "amount": 1.0, "cat": "a"},
        {"user_id": 2, "step": 0, "created": None, "amount": 2.0, "cat": "b"},
    ]
    path = tmp_path / "first.parquet"
    pq.write_table(_table(rows, None), path)
    ws.datasets.ingest(dataset, path)
    view = FeatureView(
        name=name,
        entities=[Entity(name="user", join_keys=["user_id"])],
        source=dataset,
        timestamp="ts",
        features=[Field(name="amount", dtype="float64"), Field(name="cat", dtype="string")],
        aggregations=[Aggregation(name="n_1d", function="count", window="1d")],
    )
    ws.features.apply(Definitions.of([view]))
    ws.features.materialize([name])
    refs = [f"{name}:amount", f"{name}:cat", f"{name}:n_1d"]
    assert ws.features.online([{"user_id": 1}], refs, at=at).values["amount"] == [1.0]
    correction = {"user_id": 1, "ts": T0, "created": None, "amount": 10.0, "cat": "z"}
    assert ws.features.push(name, [correction]).dataset_version == f"{dataset}@2"
    entity_rows = pa.table(
        {"user_id": pa.array([1, 2], pa.int64()), "event_timestamp": pa.array([at] * 2, UTC_US)}
    )
    offline = ws.features.training_set(entity_rows, refs).table.to_pydict()
    expected = {"amount": [10.0, 2.0], "cat": ["z", "b"], "n_1d": [2, 1]}
    assert {k: offline[k] for k in expected} == expected
    assert ws.features.online([{"user_id": 1}, {"user_id": 2}], refs, at=at).values == expected
    alone = ws.features.online([{"user_id": 1}], refs, at=at).values
    assert alone == {"amount": [10.0], "cat": ["z"], "n_1d": [2]}
