"""The DuckDB engine against a plain-Python reading of the rules (docs/features.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldenpath.features import Aggregation, Entity, FeatureView, Field
from goldenpath.features.offline import SEQ, ViewInput
from goldenpath.features.offline.duckdb import DuckDBEngine
from goldenpath.features.timestamps import local_to_utc

USER = Entity(name="user", join_keys=["user_id"])
T0 = datetime(2025, 1, 1, tzinfo=UTC)
US = pa.timestamp("us", tz="UTC")


def make_view(
    ttl: str | None = "1h", windows: tuple[str, ...] = ("1h", "1d"), **kw: Any
) -> FeatureView:
    aggregations = []
    for w in windows:
        aggregations += [
            Aggregation(name=f"n_{w}", function="count", window=w),
            Aggregation(
                name=f"sum_{w}", function="sum", column="amount", window=w, dtype="float64"
            ),
            Aggregation(
                name=f"max_{w}", function="max", column="amount", window=w, dtype="float64"
            ),
            Aggregation(name=f"distinct_{w}", function="count_distinct", column="amount", window=w),
        ]
    spec: dict[str, Any] = {
        "name": "v",
        "entities": [USER],
        "source": "tx",
        "timestamp": "ts",
        "ttl": ttl,
        "features": [
            Field(name="amount", dtype="float64", default=-1.0),
            Field(name="double", dtype="float64", expression="amount * 2"),
        ],
        "aggregations": aggregations,
    }
    spec.update(kw)
    return FeatureView(**spec)


def source(
    rows: list[tuple[int, datetime, float | None, datetime | None]], ts_type: pa.DataType = US
) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([r[0] for r in rows], pa.int64()),
            "ts": pa.array([r[1] for r in rows], ts_type),
            "amount": pa.array([r[2] for r in rows], pa.float64()),
            "created": pa.array([r[3] for r in rows], ts_type),
            SEQ: pa.array(range(len(rows)), pa.int64()),
        }
    )


def build(
    view: FeatureView, src: pa.Table, entities: list[tuple[int, datetime]]
) -> dict[str, list[Any]]:
    table = pa.table(
        {
            "user_id": pa.array([e[0] for e in entities], pa.int64()),
            "event_timestamp": pa.array([e[1] for e in entities], US),
        }
    )
    reader = pa.RecordBatchReader.from_batches(src.schema, src.to_batches())
    engine = DuckDBEngine()
    engine.check_view(view, src.schema)
    return engine.point_in_time(
        table, "event_timestamp", [ViewInput(view, view.feature_names, reader)]
    ).table.to_pydict()


def reference(
    view: FeatureView,
    rows: list[tuple[int, datetime, float | None, datetime | None]],
    entities: list[tuple[int, datetime]],
) -> dict[str, list[Any]]:
    """The rules, read plainly: one entity row at a time, no SQL."""
    out: dict[str, list[Any]] = {n: [] for n in view.feature_names}
    lowest = datetime.min.replace(tzinfo=UTC)
    for key, t in entities:
        mine = [(pos, r) for pos, r in enumerate(rows) if r[0] == key and r[1] <= t]
        winner = max(mine, key=lambda p: (p[1][1], p[1][3] or lowest, p[0]), default=None)
        live = winner is not None and (view.ttl_delta is None or t - winner[1][1] <= view.ttl_delta)
        out["amount"].append(winner[1][2] if live and winner else -1.0)
        out["double"].append(
            (winner[1][2] * 2 if winner[1][2] is not None else None) if live and winner else None
        )
        for a in view.aggregations:
            values = [r[2] for _, r in mine if r[1] > t - a.window_delta]
            present = [v for v in values if v is not None]
            if a.function == "count":
                out[a.name].append(len(values))
            elif a.function == "count_distinct":
                out[a.name].append(len(set(present)))
            elif a.function == "sum":
                out[a.name].append(sum(present) if present else None)
            else:
                out[a.name].append(max(present) if present else None)
    return out


def check(view: FeatureView, rows: list[Any], entities: list[tuple[int, datetime]]) -> None:
    got = build(view, source(rows), entities)
    want = reference(view, rows, entities)
    for name in view.feature_names:
        assert got[name] == want[name], name


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_ties_go_to_created_time_then_write_position() -> None:
    view = make_view(created_timestamp="created")
    rows = [
        (1, at(0), 1.0, at(5)),
        (1, at(0), 2.0, at(9)),  # latest created: wins
        (1, at(0), 3.0, None),  # null created is lowest
        (2, at(0), 4.0, None),
        (2, at(0), 5.0, None),  # same everything: later write wins
    ]
    got = build(view, source(rows), [(1, at(1)), (2, at(1))])
    assert got["amount"] == [2.0, 5.0]
    check(view, rows, [(1, at(1)), (2, at(1))])


def test_early_entity_rows_future_rows_late_rows_and_duplicates() -> None:
    view = make_view()
    rows = [
        (1, at(10), 1.0, None),
        (1, at(20), 7.0, None),
        (1, at(20), 7.0, None),  # an exact duplicate: two events
        (1, at(500), 9.0, None),  # in the future of every entity row below
        (1, at(15), 3.0, at(900)),  # arrived late (created after T), still visible
    ]
    entities = [(1, at(0)), (1, at(20)), (1, at(100)), (3, at(20))]
    got = build(view, source(rows), entities)
    assert got["amount"] == [-1.0, 7.0, -1.0, -1.0]  # before any row, live, expired, unknown
    assert got["n_1h"] == [0, 4, 0, 0] and got["sum_1h"][0] is None
    assert got["distinct_1h"][1] == 3
    check(view, rows, entities)


@pytest.mark.parametrize("created", [None, "created"])
def test_the_ttl_edge_to_the_microsecond(created: str | None) -> None:
    # A row exactly ttl before T is live; one microsecond more and it is not. With a created
    # timestamp and a tie the engine takes its other join (ordered by a struct): both paths.
    view = make_view(ttl="1h", created_timestamp=created)
    rows = [(1, at(0), 5.0, None)] + ([(1, at(0), 6.0, at(1))] if created else [])
    edge, past = at(60), at(60) + timedelta(microseconds=1)
    got = build(view, source(rows), [(1, edge), (1, past), (1, at(60) - timedelta(microseconds=1))])
    live = 6.0 if created else 5.0
    assert got["amount"] == [live, -1.0, live]
    assert got["double"] == [live * 2, None, live * 2]
    check(view, rows, [(1, edge), (1, past)])


def test_window_start_is_exclusive_and_end_inclusive() -> None:
    view = make_view(ttl=None)
    rows = [(1, at(0), 1.0, None), (1, at(60), 2.0, None)]
    got = build(view, source(rows), [(1, at(60))])
    assert got["n_1h"] == [1] and got["sum_1h"] == [2.0]


def test_naive_timestamps_are_read_in_the_views_zone_across_dst() -> None:
    view = make_view(timezone="Europe/Paris")
    local = [
        datetime(2025, 3, 30, 1, 59),
        datetime(2025, 3, 30, 2, 30),
        datetime(2025, 10, 26, 2, 30),
        datetime(2025, 10, 26, 3, 10),
    ]
    naive = pa.timestamp("us")
    rows = [(1, t, float(i), None) for i, t in enumerate(local)]
    src = source(rows, naive)
    utc = [local_to_utc(t, "Europe/Paris") for t in local]
    assert utc[1] == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)  # skipped hour: moved forward
    assert utc[2] == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)  # repeated hour: the second
    entities = [(1, u) for u in utc] + [(1, utc[2] - timedelta(minutes=1))]
    got = build(view, src, entities)
    assert got["amount"] == [0.0, 1.0, 2.0, 3.0, -1.0]
    assert got["n_1h"] == [1, 2, 1, 2, 0]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(1, 3),
            st.integers(0, 240).map(at),
            st.one_of(st.none(), st.integers(0, 5).map(float)),
            st.one_of(st.none(), st.integers(0, 3).map(at)),
        ),
        max_size=25,
    ),
    entities=st.lists(
        st.tuples(st.integers(1, 4), st.integers(-10, 300).map(at)), min_size=1, max_size=12
    ),
    ttl=st.sampled_from([None, "10m", "1h"]),
    window=st.sampled_from(["5m", "1h", "1d"]),
)
def test_engine_equals_the_plain_reading_of_the_rules(
    rows: list[Any], entities: list[tuple[int, datetime]], ttl: str | None, window: str
) -> None:
    check(make_view(ttl=ttl, windows=(window,), created_timestamp="created"), rows, entities)
