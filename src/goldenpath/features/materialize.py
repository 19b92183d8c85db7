"""Materialisation: which source rows to read, how they become online rows and events, and the
incremental state that says what the online store already holds.

Rules (docs/features.md):

- a view over a dataset reads only the versions added since its last run (the batches their
  Delta commits added, each row tagged with its dataset version and row position, which break
  ties); a version written in overwrite mode, a changed definition, a first run or
  ``full=True`` rebuilds the view from the dataset's current version;
- a view over a SQL query (``SqlSource``) is rebuilt whenever one of its datasets has a new
  version (a query's output cannot be diffed by version): rows are tagged version 0 and their
  position in the query's output;
- ``start``/``end`` backfill the rows with event time in ``[start, end)`` of the current
  version, upserted (nothing is removed) and not recorded as state;
- expressions are evaluated here, once per source row, in the sandboxed DuckDB, never at read;
- the state row (``feature_online_state``) is written only after the online store committed
  the values; a run killed before that is redone by the next (writes are idempotent upserts).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from goldenpath.core import faults
from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import InvalidInput
from goldenpath.core.sql import quote_identifier, quote_literal, sandboxed_duckdb
from goldenpath.data.service import DatasetService
from goldenpath.data.versions import PendingCheck
from goldenpath.features.definitions import DUCKDB_TYPES, FeatureView, SqlSource
from goldenpath.features.online.base import NO_CREATED, OnlineStore, ViewLayout, encode_keys
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import feature_online_state


@dataclass(frozen=True)
class ViewMaterialization:
    """What one view's materialisation (or push) read and wrote: the lineage of its values."""

    view: str
    mode: str  # full | incremental | backfill | unchanged | push
    rows_read: int
    entities_written: int
    dataset_versions: dict[str, list[int]] = field(default_factory=dict)
    event_start: datetime | None = None
    event_end: datetime | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "mode": self.mode,
            "rows_read": self.rows_read,
            "entities_written": self.entities_written,
            "dataset_versions": {k: list(v) for k, v in self.dataset_versions.items()},
            "event_start": None if self.event_start is None else self.event_start.isoformat(),
            "event_end": None if self.event_end is None else self.event_end.isoformat(),
            "seconds": round(self.seconds, 6),
        }


@dataclass(frozen=True)
class MaterializeResult:
    """One :class:`ViewMaterialization` per view, in the order asked, and the table rules that
    pushes to the views' datasets had left pending, checked by this run (docs/contracts.md)."""

    views: list[ViewMaterialization]
    contract_checks: list[PendingCheck] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "views": [v.as_dict() for v in self.views],
            "contract_checks": [c.as_dict() for c in self.contract_checks],
        }


Recorder = Callable[[Connection, ViewMaterialization], None]
"""Called inside the transaction that records a view's online state (lineage, audit)."""


@dataclass(frozen=True)
class State:
    definition_hash: str
    source_versions: dict[str, int]


# -- layouts and evaluation ---------------------------------------------------------------------


def key_types(view: FeatureView, schema: pa.Schema) -> tuple[str, ...]:
    """The online type of each join key (``int64`` or ``string``), from the source schema."""
    found = []
    for key in view.join_keys:
        if key not in schema.names:
            raise InvalidInput(
                f"feature view {view.name!r}: its source has no join key column {key!r}",
                hint=f"the source's columns: {', '.join(schema.names)}",
            )
        kind = schema.field(key).type
        if pa.types.is_integer(kind):
            found.append("int64")
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            found.append("string")
        else:
            raise InvalidInput(
                f"feature view {view.name!r}: join key {key!r} is {kind}; online keys must be "
                "integers or text",
                hint="cast it in the source (a SqlSource query) or in the dataset",
            )
    return tuple(found)


def event_columns(view: FeatureView) -> tuple[str, ...]:
    """The aggregations that need a stored column value (all but a plain row count)."""
    return tuple(a.name for a in view.aggregations if a.column is not None)


def layout_of(view: FeatureView, keys: tuple[str, ...]) -> ViewLayout:
    windows = [int(a.window_delta.total_seconds()) * 1_000_000 for a in view.aggregations]
    return ViewLayout(
        view=view.name,
        definition_hash=view.version_hash,
        key_types=keys,
        fields=tuple(f.name for f in view.features),
        field_types=tuple(f.dtype for f in view.features),
        event_columns=event_columns(view),
        retention_us=max(windows, default=0),
    )


def _time_sql(view: FeatureView, schema: pa.Schema, column: str, what: str) -> str:
    if column not in schema.names:
        raise InvalidInput(
            f"feature view {view.name!r}: its source has no {what} column {column!r}",
            hint=f"the source's columns: {', '.join(schema.names)}",
        )
    kind = schema.field(column).type
    ident = quote_identifier(column)
    if not pa.types.is_timestamp(kind):
        raise InvalidInput(
            f"feature view {view.name!r}: {what} column {column!r} is {kind}, not a timestamp",
            hint="store it as a timestamp in the dataset (a contract column of type timestamp)",
        )
    if kind.tz is not None:
        return ident
    if view.timezone is None:
        raise InvalidInput(
            f"feature view {view.name!r}: {what} column {column!r} holds timestamps without a "
            "time zone",
            hint="store them with a zone, or declare the view's zone: timezone='Europe/Paris'",
        )
    # Interpreted in the view's zone (DuckDB ICU): an ambiguous local time (the hour repeated
    # when clocks go back) is the later, standard-time instant; a nonexistent one (skipped
    # when clocks go forward) is shifted forward by the gap.
    return f"timezone({quote_literal(view.timezone)}, {ident})"


def evaluate(
    view: FeatureView,
    source: pa.Table,
    layout: ViewLayout,
    *,
    now_us: int,
    event_range: tuple[int | None, int | None] = (None, None),
) -> tuple[pa.Table, pa.Table | None, int, int | None, int | None]:
    """Source rows (with ``__ver`` and ``__pos`` columns) as online rows and events.

    Returns ``(rows, events, rows_read, first_event_us, last_event_us)``: rows and events
    already pruned within this batch by the store's rules (see ``online/base.py``); rows with
    a null join key or a null event time are dropped (they can never match or be placed).
    """
    schema = source.schema
    ev = _time_sql(view, schema, view.timestamp, "timestamp")
    cr = (
        _time_sql(view, schema, view.created_timestamp, "created timestamp")
        if view.created_timestamp
        else "NULL::TIMESTAMPTZ"
    )
    keys = [quote_identifier(k) for k in view.join_keys]
    for key in view.join_keys:
        if key not in schema.names:
            key_types(view, schema)  # raises naming the column
    fields = [
        f"CAST(({f.sql}) AS {DUCKDB_TYPES[f.dtype]}) AS {quote_identifier('f_' + f.name)}"
        for f in view.features
    ]
    columns = [
        f"({a.column}) AS {quote_identifier('e_' + a.name)}"
        for a in view.aggregations
        if a.column is not None
    ]
    where = " AND ".join([f"{k} IS NOT NULL" for k in keys] + ["__ev IS NOT NULL"])
    start, end = event_range
    if start is not None:
        where += f" AND __ev >= {int(start)}"
    if end is not None:
        where += f" AND __ev < {int(end)}"
    key_sql = f"CAST({keys[0]} AS VARCHAR) AS __key" if len(keys) == 1 else ", ".join(keys)
    con = sandboxed_duckdb({"source": source})
    try:
        _check_expressions(con, view)
        select_list = ", ".join(
            [
                *keys,
                f"epoch_us({ev}) AS __ev",
                f"epoch_us({cr}) AS __cr",
                "__ver",
                "__pos",
                *fields,
                *columns,
            ]
        )
        con.execute(
            f"CREATE TEMP TABLE evaluated AS SELECT * FROM (SELECT {select_list} FROM source) "
            f"WHERE {where}"
        )
        counted = con.execute("SELECT count(*), min(__ev), max(__ev) FROM evaluated").fetchall()[0]
        assert counted is not None
        rows_read, first, last = int(counted[0]), counted[1], counted[2]
        partition = ", ".join(keys)
        newest = (
            f"max(CASE WHEN __ev <= {int(now_us)} THEN __ev END) OVER (PARTITION BY {partition})"
        )
        order = f"{key_sql}, __ev, coalesce(__cr, {NO_CREATED}) AS __cr, __ver, __pos"
        field_names = ", ".join(quote_identifier("f_" + f.name) for f in view.features)
        rows = con.sql(
            f"SELECT {order}{', ' + field_names if field_names else ''} FROM "
            f"(SELECT *, {newest} AS __newest FROM evaluated) "
            "WHERE __newest IS NULL OR __ev >= __newest "
            # in the stores' key order: B-tree inserts then append instead of splitting pages
            "ORDER BY 1, 2, 3, 4, 5"
        ).to_arrow_table()
        events = None
        if view.aggregations:
            column_names = ", ".join(quote_identifier("e_" + c) for c in layout.event_columns)
            events = con.sql(
                f"SELECT {order}{', ' + column_names if column_names else ''} FROM "
                f"(SELECT *, {newest} AS __newest FROM evaluated) "
                f"WHERE __newest IS NULL OR __ev > __newest - {layout.retention_us} "
                "ORDER BY 1, 2, 3, 4, 5"
            ).to_arrow_table()
    finally:
        con.close()
    if len(keys) > 1:
        rows = _with_key(rows, view)
        events = None if events is None else _with_key(events, view)
    rows = _plain(rows)
    if events is not None:
        events = _plain(events)
    return rows, events, rows_read, first, last


def _check_expressions(con: Any, view: FeatureView) -> None:
    """Compile each expression alone, so an error names the feature it belongs to."""
    for name, sql, cast in [
        *((f.name, f.sql, DUCKDB_TYPES[f.dtype]) for f in view.features),
        *((a.name, a.column, None) for a in view.aggregations if a.column is not None),
    ]:
        expression = f"CAST(({sql}) AS {cast})" if cast else f"({sql})"
        try:
            con.execute(f"SELECT {expression} FROM source LIMIT 0")
        except Exception as exc:  # duckdb.Error and its subclasses: the user's SQL
            reason = str(exc).splitlines()[0]
            raise InvalidInput(
                f"feature {view.name}:{name}: the expression {sql!r} does not compile: {reason}",
                hint="expressions are DuckDB SQL over the source's columns",
            ) from None


def _with_key(table: pa.Table, view: FeatureView) -> pa.Table:
    """Replace the join key columns by one encoded ``__key`` column."""
    keys = encode_keys([table.column(k) for k in view.join_keys])
    table = table.drop_columns(list(view.join_keys))
    return table.add_column(0, "__key", pa.array(keys, pa.string()))


def _plain(table: pa.Table) -> pa.Table:
    """Values both stores keep alike: decimals as float64 (JSON has no decimals), NaN as null
    (SQLite stores NaN as null; Redis would keep it)."""
    for index, column in enumerate(table.schema):
        values = table.column(index)
        if pa.types.is_decimal(column.type):
            values = values.cast(pa.float64())
        if pa.types.is_floating(values.type):
            values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
            table = table.set_column(index, column.name, values)
    return table


def tag_batch(table: pa.Table, version: int, first_position: int = 0) -> pa.Table:
    """A source batch with its dataset version and each row's position."""
    count = table.num_rows
    table = table.append_column("__ver", pa.array([version] * count, pa.int64()))
    positions = pa.array(range(first_position, first_position + count), pa.int64())
    return table.append_column("__pos", positions)


# -- state ------------------------------------------------------------------------------------


def read_state(meta: MetadataStore, store: str, view: str) -> State | None:
    t = feature_online_state
    with meta.connect() as conn:
        row = conn.execute(
            select(t.c.definition_hash, t.c.source_versions).where(
                (t.c.store == store) & (t.c.view == view)
            )
        ).first()
    if row is None:
        return None
    return State(row.definition_hash, {k: int(v) for k, v in row.source_versions.items()})


def record_state(
    meta: MetadataStore,
    actor: Actor,
    store: str,
    view: FeatureView,
    versions: Mapping[str, int],
    rows_read: int,
    entities: int,
    *,
    only_after: Mapping[str, int] | None = None,
    also: Callable[[Connection], None] | None = None,
) -> bool:
    """Record what the online store holds for ``view``. With ``only_after`` (a push), only if
    the recorded versions are exactly those (the push's version follows them); False if not
    recorded. A recorded version never goes back (a slow run finishing after a push).

    ``also`` runs in the same transaction whether or not the state advances (the values were
    written either way): the caller's lineage edges and audit record."""
    t = feature_online_state
    now = utcnow()
    with meta.begin() as conn:
        if also is not None:
            also(conn)
        row = conn.execute(
            select(t.c.definition_hash, t.c.source_versions).where(
                (t.c.store == store) & (t.c.view == view.name)
            )
        ).first()
        if only_after is not None and (
            row is None
            or row.definition_hash != view.version_hash
            or {k: int(v) for k, v in row.source_versions.items()} != dict(only_after)
        ):
            return False
        values = {
            "definition_hash": view.version_hash,
            "source_versions": dict(versions),
            "rows_read": rows_read,
            "entities_written": entities,
            "updated_at": now,
            "updated_by": actor.name,
        }
        if row is None:
            conn.execute(t.insert().values(store=store, view=view.name, **values))
            return True
        if row.definition_hash == view.version_hash and any(
            int(row.source_versions.get(k, -1)) > v for k, v in versions.items()
        ):
            return False
        conn.execute(
            t.update().where((t.c.store == store) & (t.c.view == view.name)).values(**values)
        )
    return True


# -- one view ---------------------------------------------------------------------------------


def materialize_view(
    view: FeatureView,
    *,
    datasets: DatasetService,
    store: OnlineStore,
    meta: MetadataStore,
    actor: Actor,
    full: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    recorder: Recorder | None = None,
) -> ViewMaterialization:
    """Bring ``view``'s online values up to date (see the module docstring).

    ``recorder`` is called with what was written, in the transaction that records the state
    (a backfill records no state: in a transaction of its own, after the write)."""
    started = time.perf_counter()
    now_us = time.time_ns() // 1000
    state = read_state(meta, store.identity, view.name)
    backfill = start is not None or end is not None
    changed = state is None or state.definition_hash != view.version_hash
    stored = store.layout(view.name)
    if stored is not None and stored.definition_hash != view.version_hash:
        changed = True
    replace = (full or changed) and not backfill
    if backfill and changed:
        raise InvalidInput(
            f"feature view {view.name!r} must be materialised in full before a backfill "
            "(its definition changed or it was never materialised)",
            hint="run: gp features materialize --full " + view.name,
        )
    versions, batches = _source(view, datasets, state, replace or backfill)
    if batches is None:
        return ViewMaterialization(
            view.name,
            "unchanged",
            0,
            0,
            {d: [] for d in versions},
            seconds=time.perf_counter() - started,
        )
    if any(v.mode == "overwrite" for v in batches.versions) and not backfill:
        replace = True
    source = batches.table
    layout = layout_of(view, key_types(view, source.schema))
    event_range = (_us(start), _us(end))
    rows, events, rows_read, first, last = evaluate(
        view, source, layout, now_us=now_us, event_range=event_range
    )
    store.write(layout, rows, events, now_us=now_us, replace=replace)
    faults.reach("materialize.before-state")
    entities = _entities(rows, events)
    mode = "backfill" if backfill else "full" if replace else "incremental"
    result = ViewMaterialization(
        view.name,
        mode,
        rows_read,
        entities,
        {d: sorted(n) for d, n in batches.read.items()},
        _time(first),
        _time(last),
        time.perf_counter() - started,
    )
    also = None if recorder is None else (lambda conn: recorder(conn, result))
    if not backfill:
        record_state(meta, actor, store.identity, view, versions, rows_read, entities, also=also)
    elif also is not None:
        with meta.begin() as conn:
            also(conn)
    return result


@dataclass
class _Batches:
    table: pa.Table
    versions: list[Any]
    read: dict[str, list[int]]


def _source(
    view: FeatureView, datasets: DatasetService, state: State | None, everything: bool
) -> tuple[dict[str, int], _Batches | None]:
    """The newest versions of the view's datasets and the rows to read (None: nothing new)."""
    if isinstance(view.source, SqlSource):
        newest = {d: datasets.get(d).version for d in view.source.datasets}
        if not everything and state is not None and state.source_versions == newest:
            return newest, None
        tables = {d: datasets.read(f"{d}@{v}") for d, v in newest.items()}
        con = sandboxed_duckdb(tables)
        try:
            result = con.sql(view.source.query).to_arrow_table()
        except Exception as exc:  # the user's query
            raise InvalidInput(
                f"feature view {view.name!r}: its SQL source failed: {str(exc).splitlines()[0]}",
                hint="the query runs in DuckDB with each dataset registered as a table",
            ) from None
        finally:
            con.close()
        return newest, _Batches(tag_batch(result, 0), [], {d: [v] for d, v in newest.items()})
    name = view.source
    newest_version = datasets.get(name).version
    last = None if everything or state is None else state.source_versions.get(name)
    if last is not None and last >= newest_version:
        return {name: newest_version}, None
    batches = datasets.read_batches(name, after=last, upto=newest_version)
    tagged = [tag_batch(table, version.version) for version, table in batches]
    table = pa.concat_tables(tagged) if tagged else None
    if table is None:
        return {name: newest_version}, None
    versions = [version for version, _ in batches]
    return {name: newest_version}, _Batches(table, versions, {name: [v.version for v in versions]})


def _entities(rows: pa.Table, events: pa.Table | None) -> int:
    keys = [rows.column("__key")]
    if events is not None:
        keys.append(events.column("__key"))
    return int(
        pc.count_distinct(
            pa.chunked_array([c for k in keys for c in k.chunks], pa.string())
        ).as_py()
    )


def _us(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(
            f"{value.isoformat()} has no time zone",
            hint="give a timezone-aware time, e.g. 2024-01-01T00:00:00+00:00",
        )
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _time(micros: int | None) -> datetime | None:
    if micros is None:
        return None
    from datetime import timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
