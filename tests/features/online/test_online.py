"""The online store on SQLite and Redis against the reference rules: statuses, TTL, windows as
time passes, pushes, incremental == full, backfills, bad keys and limits."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath
from goldenpath.core.errors import (
    Conflict,
    GoldenpathError,
    InvalidInput,
    NotFound,
    ValidationFailed,
)
from goldenpath.core.ids import new_id
from goldenpath.core.limits import Limits
from goldenpath.features import (
    Aggregation,
    Entity,
    FeatureView,
    Field,
    OnDemandFeatureView,
    SqlSource,
)
from goldenpath.features.online import OnlineStore
from goldenpath.features.online_service import OnlineFeatures, OnlineResult
from goldenpath.features.project import Definitions
from tests.conftest import write
from tests.features.online.reference import (
    Row,
    row_origin,
    row_value,
    window_origin,
    window_value,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)  # in the past of the test machine's clock
USER = Entity(name="user", join_keys=["user_id"])
TS = pa.timestamp("us", tz="UTC")


def _unique(prefix: str) -> str:
    return f"{prefix}-{new_id().lower()[-10:]}"


def _view(dataset: str, **extra: Any) -> FeatureView:
    return FeatureView(
        name=_unique("v"),
        entities=[USER],
        source=dataset,
        timestamp="ts",
        features=[
            Field(name="amount", dtype="float64", default=-1.0),
            Field(name="merchant", dtype="string"),
        ],
        aggregations=[
            Aggregation(name="tx_10m", function="count", window="10m"),
            Aggregation(name="amounts_1h", function="count", column="amount", window="1h"),
            Aggregation(
                name="amount_sum_1h", function="sum", column="amount", window="1h", dtype="float64"
            ),
            Aggregation(name="amount_mean_1d", function="mean", column="amount", window="1d"),
            Aggregation(
                name="amount_max_1d", function="max", column="amount", window="1d", dtype="float64"
            ),
            Aggregation(
                name="merchants_1d", function="count_distinct", column="merchant", window="1d"
            ),
        ],
        **extra,
    )


def _ingest(
    ws: goldenpath.Workspace, dataset: str, rows: list[Row], tmp: Path, mode: str = "append"
) -> int:
    table = pa.table(
        {
            "user_id": pa.array([r["user_id"] for r in rows], pa.int64()),
            "ts": pa.array([r["ts"] for r in rows], TS),
            "amount": pa.array([r["amount"] for r in rows], pa.float64()),
            "merchant": pa.array([r["merchant"] for r in rows], pa.string()),
            "created": pa.array([r.get("created") for r in rows], TS),
        }
    )
    path = tmp / f"{new_id()}.parquet"
    pq.write_table(table, path)
    result = ws.datasets.ingest(dataset, path, mode=mode)  # type: ignore[arg-type]
    for position, row in enumerate(rows):
        row["_version"], row["_position"] = result.version.version, position
    return result.version.version


def _random_rows(rng: random.Random, count: int, users: int = 8) -> list[Row]:
    rows = []
    for _ in range(count):
        rows.append(
            {
                "user_id": rng.randrange(users),
                # whole minutes, so ties (same user, same instant) happen
                "ts": T0 + timedelta(minutes=rng.randrange(0, 3 * 24 * 60, 7)),
                "amount": None if rng.random() < 0.1 else round(rng.uniform(1, 100), 2),
                "merchant": rng.choice(["a", "b", "c", None]),
                # few distinct values, and nulls: ties in created time happen too
                "created": rng.choice([None, T0, T0 + timedelta(hours=1), T0 + timedelta(days=9)]),
            }
        )
    return rows


ALL = [
    "amount",
    "merchant",
    "tx_10m",
    "amounts_1h",
    "amount_sum_1h",
    "amount_mean_1d",
    "amount_max_1d",
    "merchants_1d",
]


def _service(
    ws: goldenpath.Workspace, store: OnlineStore, *views: FeatureView, limits: Limits | None = None
) -> OnlineFeatures:
    return OnlineFeatures(
        Definitions.of(list(views)), ws.datasets, store, ws.store, ws.actor, limits
    )


def _expected(view: FeatureView, rows: list[Row], key: int, at: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ALL:
        agg = next((a for a in view.aggregations if a.name == name), None)
        out[name] = (
            window_value(agg, rows, key, at) if agg else row_value(view, rows, key, at, name)
        )
    return out


def _both(
    online: OnlineFeatures,
    store: OnlineStore,
    entity_rows: list[dict[str, Any]],
    refs: list[str],
    at: datetime | None = None,
) -> OnlineResult:
    """The lookup blocking and awaited (``online_async``: Redis' reads through
    ``redis.asyncio``, SQLite's inline): the same answer, or the same error."""

    async def awaited() -> OnlineResult:
        try:
            return await online.online_async(entity_rows, refs, at=at)
        finally:
            reads = store.async_reads()
            if reads is not None:
                await reads.aclose()

    try:
        blocking = online.online(entity_rows, refs, at=at)
    except GoldenpathError as exc:
        with pytest.raises(type(exc)) as raised:
            asyncio.run(awaited())
        assert str(raised.value) == str(exc)
        raise
    got = asyncio.run(awaited())
    assert (got.values, got.statuses) == (blocking.values, blocking.statuses)
    assert got.origins == blocking.origins
    if at is not None:
        assert got.ages == blocking.ages
    return blocking


def _check(
    online: OnlineFeatures,
    view: FeatureView,
    rows: list[Row],
    at: datetime,
    users: int = 8,
    store: OnlineStore | None = None,
) -> None:
    entity_rows = [{"user_id": k} for k in range(users + 1)]  # the last one has no rows
    refs = [f"{view.name}:{n}" for n in ALL]
    if store is not None:
        result = _both(online, store, entity_rows, refs, at)
    else:
        result = online.online(entity_rows, refs, at=at)
    got = result.to_rows()
    for key, row in enumerate(got):
        expected = _expected(view, rows, key, at)
        for name in ALL:
            if isinstance(expected[name], float):
                assert row[name] == pytest.approx(expected[name], rel=1e-12), (key, name, at)
            else:
                assert row[name] == expected[name], (key, name, at)
            # Where the value came from (the lineage a prediction log keeps).
            agg = next((a for a in view.aggregations if a.name == name), None)
            origin = (
                window_origin(view, agg, rows, key, at) if agg else row_origin(view, rows, key, at)
            )
            assert result.origins[name][key] == origin, (key, name, at)


def _instants(rows: list[Row]) -> list[datetime]:
    """From each entity's newest event on (where the store is exact), across every window."""
    newest = max(r["ts"] for r in rows)
    steps = [0, 1, 299, 600, 601, 3_599, 3_600, 3_601, 43_200, 86_399, 86_400, 86_401, 200_000]
    return [newest + timedelta(seconds=s) for s in steps]


def test_values_match_the_rules_as_time_passes(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    rng = random.Random(13)
    dataset = _unique("tx")
    rows = _random_rows(rng, 300)
    _ingest(module_ws, dataset, rows[:150], tmp_path)
    _ingest(module_ws, dataset, rows[150:], tmp_path)
    # exact duplicates of existing rows: each counts as an event
    dupes = [dict(r) for r in rows[:20]]
    # and rows tied with each entity's newest event, created earlier, later or not at all:
    # at the instants checked (from the newest event on) the created time decides these
    for key in range(8):
        newest = max((r for r in rows if r["user_id"] == key), key=lambda r: r["ts"])
        for created in (None, T0 - timedelta(days=1), T0 + timedelta(days=5)):
            dupes.append({**newest, "amount": float(key) + 0.5, "created": created})
    _ingest(module_ws, dataset, dupes, tmp_path)
    rows += dupes
    view = _view(dataset, ttl="1d", created_timestamp="created")
    online = _service(module_ws, store, view)
    result = online.materialize()
    assert result.views[0].mode == "full" and result.views[0].rows_read == 344
    assert result.views[0].dataset_versions == {dataset: [1, 2, 3]}
    for at in _instants(rows):
        _check(online, view, rows, at, store=store)


def test_statuses_ttl_and_ages(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    rows = [
        {"user_id": 1, "ts": T0, "amount": 5.0, "merchant": "a"},
        {"user_id": 2, "ts": T0 + timedelta(hours=1), "amount": 7.0, "merchant": "b"},
    ]
    _ingest(module_ws, dataset, rows, tmp_path)
    view = _view(dataset, ttl="2h")
    online = _service(module_ws, store, view)
    online.materialize()
    at = T0 + timedelta(hours=2, seconds=30)
    got = online.online(
        [{"user_id": 1}, {"user_id": 2}, {"user_id": 3}, {"user_id": None}],
        [f"{view.name}:amount", f"{view.name}:tx_10m"],
        at=at,
    )
    assert got.statuses["amount"] == ["expired", "present", "missing", "missing"]
    assert got.values["amount"] == [-1.0, 7.0, -1.0, -1.0]  # the default when not live
    assert got.ages["amount"] == [7230.0, 3630.0, None, None]
    assert got.values["tx_10m"] == [0, 0, 0, 0]
    # a count over a window without events is a known 0; a null key is no entity
    assert got.statuses["tx_10m"] == ["present", "present", "present", "missing"]
    assert got.ages["tx_10m"] == [None] * 4
    # exactly at the TTL the value is still live (T - event <= ttl)
    edge = online.online([{"user_id": 1}], [f"{view.name}:amount"], at=T0 + timedelta(hours=2))
    assert edge.statuses["amount"] == ["present"] and edge.values["amount"] == [5.0]
    # one microsecond later it is not
    past = T0 + timedelta(hours=2, microseconds=1)
    late = online.online([{"user_id": 1}], [f"{view.name}:amount"], at=past)
    assert late.statuses["amount"] == ["expired"] and late.values["amount"] == [-1.0]


def test_ties_are_broken_by_version_then_position(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    same = T0 + timedelta(hours=3)
    _ingest(
        module_ws,
        dataset,
        [
            {"user_id": 1, "ts": same, "amount": 1.0, "merchant": "a"},
            {"user_id": 1, "ts": same, "amount": 2.0, "merchant": "b"},
        ],
        tmp_path,
    )
    view = _view(dataset)
    online = _service(module_ws, store, view)
    online.materialize()
    got = online.online([{"user_id": 1}], [f"{view.name}:amount", f"{view.name}:tx_10m"], at=same)
    assert got.values == {"amount": [2.0], "tx_10m": [2]}  # the later position wins; both count
    _ingest(
        module_ws,
        dataset,
        [
            {"user_id": 1, "ts": same, "amount": 3.0, "merchant": "c"},
            {"user_id": 1, "ts": same - timedelta(seconds=1), "amount": None, "merchant": "c"},
        ],
        tmp_path,
    )
    assert online.materialize().views[0].mode == "incremental"
    for entity_rows in ([{"user_id": 1}], [{"user_id": 1}, {"user_id": 99}]):
        refs = [f"{view.name}:amount", f"{view.name}:tx_10m", f"{view.name}:amounts_1h"]
        got = online.online(entity_rows, refs, at=same)
        assert got.values["amount"][0] == 3.0  # the later version wins
        assert got.values["tx_10m"][0] == 4
        assert got.values["amounts_1h"][0] == 3  # counting a column skips its nulls


def test_created_time_breaks_ties_for_one_key_as_for_many(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    same = T0 + timedelta(hours=3)

    def row(amount: float, created: datetime | None) -> Row:
        return {"user_id": 1, "ts": same, "amount": amount, "merchant": "a", "created": created}

    # The latest created time wins, whatever the version or position: a null created time
    # is lowest, and a later version created earlier loses.
    first = [row(1.0, same), row(2.0, same + timedelta(minutes=9)), row(3.0, None)]
    second = [row(4.0, same + timedelta(minutes=1)), row(5.0, None)]
    _ingest(module_ws, dataset, first, tmp_path)
    _ingest(module_ws, dataset, second, tmp_path)
    rows = first + second
    view = _view(dataset, created_timestamp="created")
    online = _service(module_ws, store, view)
    online.materialize()
    refs = [f"{view.name}:amount", f"{view.name}:tx_10m"]
    assert row_value(view, rows, 1, same, "amount") == 2.0  # the reference reads created times
    for entity_rows in ([{"user_id": 1}], [{"user_id": 1}, {"user_id": 2}]):
        got = online.online(entity_rows, refs, at=same)
        assert got.values["amount"][0] == 2.0 and got.values["tx_10m"][0] == 5, entity_rows
    _check(online, view, rows, same, users=2, store=store)


def test_incremental_equals_full_and_overwrite_rebuilds(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    rng = random.Random(7)
    dataset = _unique("tx")
    rows = _random_rows(rng, 120)
    _ingest(module_ws, dataset, rows[:60], tmp_path)
    view = _view(dataset)
    online = _service(module_ws, store, view)
    assert online.materialize().views[0].mode == "full"
    _ingest(module_ws, dataset, rows[60:], tmp_path)
    step = online.materialize().views[0]
    assert (step.mode, step.rows_read, step.dataset_versions) == ("incremental", 60, {dataset: [2]})
    assert online.materialize().views[0].mode == "unchanged"
    incremental = [
        online.online(
            [{"user_id": k} for k in range(9)], [f"{view.name}:{n}" for n in ALL], at=at
        ).values
        for at in _instants(rows)
    ]
    assert online.materialize(full=True).views[0].mode == "full"
    rebuilt = [
        online.online(
            [{"user_id": k} for k in range(9)], [f"{view.name}:{n}" for n in ALL], at=at
        ).values
        for at in _instants(rows)
    ]
    assert incremental == rebuilt
    # an overwrite version replaces the data: the view is rebuilt, old entities are gone
    fresh = [{"user_id": 3, "ts": T0, "amount": 1.5, "merchant": "z"}]
    _ingest(module_ws, dataset, fresh, tmp_path, mode="overwrite")
    assert online.materialize().views[0].mode == "full"
    _check(online, view, fresh, T0 + timedelta(minutes=5), store=store)


def test_backfill_upserts_a_time_range(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    rows = [
        {"user_id": 1, "ts": T0 + timedelta(minutes=m), "amount": float(m), "merchant": "a"}
        for m in (0, 5, 20)
    ]
    _ingest(module_ws, dataset, rows, tmp_path)
    view = _view(dataset)
    online = _service(module_ws, store, view)
    with pytest.raises(InvalidInput, match="materialised in full before a backfill"):
        online.materialize(start=T0, end=T0 + timedelta(minutes=10))
    online.materialize()
    store.drop(view.name)  # lose the values, then backfill only [0m, 10m)
    online.materialize(full=True)
    result = online.materialize(start=T0, end=T0 + timedelta(minutes=10)).views[0]
    assert (result.mode, result.rows_read) == ("backfill", 2)
    assert result.event_start == T0 and result.event_end == T0 + timedelta(minutes=5)
    _check(online, view, rows, T0 + timedelta(minutes=25), users=2, store=store)


def test_push_updates_rows_and_windows_and_the_offline_log(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    rows = [{"user_id": 1, "ts": T0, "amount": 10.0, "merchant": "a"}]
    _ingest(module_ws, dataset, rows, tmp_path)
    view = _view(dataset)
    online = _service(module_ws, store, view)
    online.materialize()
    pushed = [
        {"user_id": 1, "ts": T0 + timedelta(minutes=3), "amount": 30.0, "merchant": "b"},
        {"user_id": 2, "ts": T0 + timedelta(minutes=4), "amount": 1.0, "merchant": "c"},
    ]
    result = online.push(view.name, pushed)
    assert result.dataset_version == f"{dataset}@2" and result.online.entities_written == 2
    for position, row in enumerate(pushed):
        row["_version"], row["_position"] = 2, position
    # the offline log holds exactly what is served
    assert module_ws.datasets.read(f"{dataset}@2").num_rows == 3
    _check(online, view, rows + pushed, T0 + timedelta(minutes=5), users=3, store=store)
    # the push advanced the recorded state: nothing left to materialise
    assert online.materialize().views[0].mode == "unchanged"


def test_a_refused_push_writes_nothing(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    contract = write(
        tmp_path / "c.yaml",
        f"dataset: {dataset}\non_violation: quarantine\ncolumns:\n"
        "  user_id: {type: int, nullable: false}\n  ts: {type: timestamp}\n"
        "  amount: {type: float, min: 0}\n  merchant: {type: string}\n",
    )
    table = pa.table(
        {
            "user_id": pa.array([1], pa.int64()),
            "ts": pa.array([T0], TS),
            "amount": [1.0],
            "merchant": ["a"],
        }
    )
    pq.write_table(table, tmp_path / "first.parquet")
    module_ws.datasets.ingest(dataset, tmp_path / "first.parquet", contract=contract)
    view = _view(dataset)
    online = _service(module_ws, store, view)
    online.materialize()
    good = {"user_id": 1, "ts": T0 + timedelta(minutes=1), "amount": 2.0, "merchant": "a"}
    bad = {"user_id": 1, "ts": T0 + timedelta(minutes=2), "amount": -5.0, "merchant": "a"}
    with pytest.raises(ValidationFailed) as refused:
        online.push(view.name, [good, bad])  # the contract quarantines; a push never does
    assert refused.value.report is not None
    assert len(module_ws.datasets.history(dataset)) == 1
    got = online.online([{"user_id": 1}], [f"{view.name}:amount"], at=T0 + timedelta(minutes=5))
    assert got.values["amount"] == [1.0]
    with pytest.raises(InvalidInput, match="has no column"):
        online.push(view.name, [{**good, "extra": 1}])
    with pytest.raises(InvalidInput, match="no time zone"):
        online.push(view.name, [{**good, "ts": datetime(2026, 3, 1)}])


def test_bad_requests_are_clear_errors(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    _ingest(
        module_ws, dataset, [{"user_id": 1, "ts": T0, "amount": 1.0, "merchant": "a"}], tmp_path
    )
    view = _view(dataset)
    sql_view = FeatureView(
        name=_unique("q"),
        entities=[USER],
        source=SqlSource(query=f'SELECT * FROM "{dataset}"', datasets=[dataset]),
        timestamp="ts",
        features=[Field(name="amount", dtype="float64")],
    )
    online = _service(
        module_ws, store, view, sql_view, limits=Limits(online_entities_max=3, push_rows_max=1)
    )
    with pytest.raises(NotFound, match="no online values yet"):
        online.online([{"user_id": 1}], [f"{view.name}:amount"])
    online.materialize()
    assert online.online([{"user_id": 1}], [f"{sql_view.name}:amount"], at=T0).values == {
        "amount": [1.0]
    }
    with pytest.raises(InvalidInput, match=r"join key 'user_id' .* must be int64, not str"):
        online.online([{"user_id": "1"}], [f"{view.name}:amount"])
    with pytest.raises(InvalidInput, match="must be int64, not bool"):
        online.online([{"user_id": True}], [f"{view.name}:amount"])
    with pytest.raises(InvalidInput, match="lacks join key 'user_id'"):
        online.online([{"user": 1}], [f"{view.name}:amount"])
    with pytest.raises(InvalidInput, match="online_entities_max"):
        online.online([{"user_id": k} for k in range(4)], [f"{view.name}:amount"])
    with pytest.raises(NotFound, match="unknown feature"):
        online.online([{"user_id": 1}], [f"{view.name}:nope"])
    with pytest.raises(InvalidInput, match="timezone-aware"):
        online.online([{"user_id": 1}], [f"{view.name}:amount"], at=datetime(2026, 1, 1))
    table = pa.table({"user_id": pa.array([1, 2, 3, 4], pa.int64())})
    with pytest.raises(InvalidInput, match="4 entity rows is more than"):
        online.online(table, [f"{view.name}:amount"])
    assert online.online(table.slice(0, 1), [f"{view.name}:amount"], at=T0).values == {
        "amount": [1.0]
    }
    two = [{"user_id": 1, "ts": T0, "amount": 1.0, "merchant": "a"}] * 2
    with pytest.raises(InvalidInput, match="push_rows_max"):
        online.push(view.name, two)
    assert len(module_ws.datasets.history(dataset)) == 1
    with pytest.raises(InvalidInput, match="SQL query: rows cannot be pushed"):
        online.push(sql_view.name, [{"user_id": 1}])


def test_a_large_lookup_matches_one_by_one(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    rng = random.Random(5)
    dataset = _unique("tx")
    rows = _random_rows(rng, 200, users=40)
    _ingest(module_ws, dataset, rows, tmp_path)
    view = _view(dataset)
    online = _service(module_ws, store, view)
    online.materialize()
    refs = [f"{view.name}:{n}" for n in ALL]
    at = max(r["ts"] for r in rows)
    entity_rows = [{"user_id": rng.randrange(300)} for _ in range(400)]  # > 256: one JSON list
    together = online.online(entity_rows, refs, at=at)
    for index in range(0, 400, 7):
        alone = online.online([entity_rows[index]], refs, at=at)
        for name in ALL:
            assert together.values[name][index] == alone.values[name][0]
            assert together.statuses[name][index] == alone.statuses[name][0]


def _ratio(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """amount / amount_mean_1d, and whether the request's amount is above the day's max."""
    mean, amount = inputs["amount_mean_1d"], inputs["amount"]
    return {
        "ratio": None if mean in (None, 0) or amount is None else amount / mean,
        "above_max": inputs["request_amount"] > (inputs["amount_max_1d"] or 0.0),
    }


def test_on_demand_features_run_on_online_inputs(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    rows = [
        {"user_id": 1, "ts": T0, "amount": 10.0, "merchant": "a"},
        {"user_id": 1, "ts": T0 + timedelta(minutes=1), "amount": 30.0, "merchant": "a"},
    ]
    _ingest(module_ws, dataset, rows, tmp_path)
    view = _view(dataset)
    odfv = OnDemandFeatureView(
        name=_unique("od"),
        function=_ratio,
        inputs=[f"{view.name}:amount", f"{view.name}:amount_mean_1d", f"{view.name}:amount_max_1d"],
        request=[Field(name="request_amount", dtype="float64")],
        outputs=[Field(name="ratio", dtype="float64"), Field(name="above_max", dtype="bool")],
    )
    online = OnlineFeatures(
        Definitions.of([view, odfv]), module_ws.datasets, store, module_ws.store, module_ws.actor
    )
    online.materialize()
    got = online.online(
        [{"user_id": 1, "request_amount": 31.0}, {"user_id": 2, "request_amount": 1.0}],
        [f"{odfv.name}:ratio", f"{odfv.name}:above_max", f"{view.name}:amount"],
        at=T0 + timedelta(minutes=2),
    )
    assert got.values == {"amount": [30.0, -1.0], "ratio": [1.5, None], "above_max": [True, True]}
    with pytest.raises(InvalidInput, match="lacks request field 'request_amount'"):
        online.online([{"user_id": 1}], [f"{odfv.name}:ratio"], at=T0 + timedelta(minutes=2))


def test_nan_is_null_on_every_store(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    rows = [
        {"user_id": 1, "ts": T0, "amount": 4.0, "merchant": "a"},
        {"user_id": 1, "ts": T0 + timedelta(minutes=1), "amount": float("nan"), "merchant": "a"},
    ]
    _ingest(module_ws, dataset, rows, tmp_path)
    view = _view(dataset)
    online = _service(module_ws, store, view)
    online.materialize()
    refs = [f"{view.name}:amount", f"{view.name}:amount_mean_1d", f"{view.name}:amounts_1h"]
    got = online.online([{"user_id": 1}], refs, at=T0 + timedelta(minutes=2))
    assert got.values == {"amount": [None], "amount_mean_1d": [4.0], "amounts_1h": [1]}


def test_a_new_definition_is_materialised_in_full_and_old_readers_are_told(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    rows = [{"user_id": 1, "ts": T0, "amount": 4.0, "merchant": "a"}]
    _ingest(module_ws, dataset, rows, tmp_path)
    old = _view(dataset)
    old_online = _service(module_ws, store, old)
    old_online.materialize()
    ref = f"{old.name}:amount"
    assert old_online.online([{"user_id": 1}], [ref], at=T0).values == {"amount": [4.0]}
    new = FeatureView(
        name=old.name,
        entities=[USER],
        source=dataset,
        timestamp="ts",
        features=[Field(name="amount", dtype="float64", expression="amount * 10")],
    )
    new_online = _service(module_ws, store, new)
    with pytest.raises(Conflict, match="another version of its definition"):
        new_online.online([{"user_id": 1}], [ref], at=T0)
    assert new_online.materialize().views[0].mode == "full"
    assert new_online.online([{"user_id": 1}], [ref], at=T0).values == {"amount": [40.0]}
    with pytest.raises(Conflict, match="rewritten under another version"):
        old_online.online([{"user_id": 1}], [ref], at=T0)  # planned before: told, not misled


def test_a_changed_window_is_a_new_version_rebuilt_online(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    dataset = _unique("tx")
    rows = [
        {"user_id": 1, "ts": T0 + timedelta(minutes=m), "amount": 1.0, "merchant": "a"}
        for m in (0, 30, 50)
    ]
    _ingest(module_ws, dataset, rows, tmp_path)
    name = _unique("w")

    def windowed(window: str) -> FeatureView:
        return FeatureView(
            name=name,
            entities=[USER],
            source=dataset,
            timestamp="ts",
            aggregations=[Aggregation(name="n", function="count", window=window)],
        )

    hour, quarter = windowed("1h"), windowed("15m")
    assert hour.version_hash != quarter.version_hash
    _service(module_ws, store, hour).materialize()
    old = store.layout(name)
    assert old is not None and old.retention_us == 3_600 * 1_000_000
    at = T0 + timedelta(minutes=55)
    online = _service(module_ws, store, quarter)
    assert online.materialize().views[0].mode == "full"
    new = store.layout(name)
    assert new is not None and new.definition_hash == quarter.version_hash
    assert new.retention_us == 900 * 1_000_000
    assert online.online([{"user_id": 1}], [f"{name}:n"], at=at).values == {"n": [1]}


def test_an_instant_the_store_no_longer_answers_is_refused(
    module_ws: goldenpath.Workspace, store: OnlineStore, tmp_path: Path
) -> None:
    """Before an entity's oldest kept row (its newest event as of the last write), rows may
    have been pruned: the lookup is refused naming the window, never answered as missing."""
    dataset = _unique("tx")
    rows = [
        {"user_id": 1, "ts": T0 + timedelta(hours=h), "amount": float(h), "merchant": "a"}
        for h in (0, 1, 2)
    ]
    future = datetime.now(UTC) + timedelta(days=30)  # dated after now: nothing pruned for it
    rows.append({"user_id": 5, "ts": future, "amount": 9.0, "merchant": "f"})
    _ingest(module_ws, dataset, rows, tmp_path)
    view = _view(dataset, ttl="1d")
    online = _service(module_ws, store, view)
    online.materialize()
    refs = [f"{view.name}:amount", f"{view.name}:amount_sum_1h", f"{view.name}:tx_10m"]
    before = T0 + timedelta(minutes=90)  # user 1 had amount 1.0 then: the store kept only 2.0
    window = r"for user_id=1 from 2026-03-01T02:00:00\+00:00 on .* 2026-03-01T01:30:00\+00:00"
    for entity_rows in ([{"user_id": 1}], [{"user_id": 2}, {"user_id": 1}]):
        with pytest.raises(InvalidInput, match=window):
            _both(online, store, entity_rows, refs, at=before)
        with pytest.raises(InvalidInput, match=window):  # aggregations alone too
            _both(online, store, entity_rows, [f"{view.name}:tx_10m"], at=before)
    # From the oldest kept row on, the answer is exact; an unknown entity is missing, and an
    # entity whose only row is still in the future is answered as having none yet.
    edge = T0 + timedelta(hours=2)
    got = _both(online, store, [{"user_id": 1}, {"user_id": 2}, {"user_id": 5}], refs, at=edge)
    assert got.values == {
        "amount": [2.0, -1.0, -1.0],
        "amount_sum_1h": [2.0, None, None],
        "tx_10m": [1, 0, 0],
    }
    assert got.statuses["amount"] == ["present", "missing", "missing"]
    assert got.statuses["tx_10m"] == ["present", "present", "present"]
    assert got.statuses["amount_sum_1h"] == ["present", "missing", "missing"]
    now = online.online([{"user_id": 1}, {"user_id": 5}], refs)  # now: always answered
    assert now.values["amount"] == [-1.0, -1.0] and now.statuses["amount"] == ["expired", "missing"]
