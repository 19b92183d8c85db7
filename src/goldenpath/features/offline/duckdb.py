"""The DuckDB offline engine: point-in-time feature values for training sets.

Everything runs on one :func:`~goldenpath.core.sql.sandboxed_duckdb` connection, which sees
only the Arrow data registered on it. Per feature view:

1. ``_gp_s<i>``: a view of the source rows of the entity keys asked for, with event time at
   or before the latest instant asked for, timestamps normalised to UTC and every expression
   evaluated per row (user SQL runs here, on its own lines, so a ``--`` comment cannot reach
   ours). A dataset's rows stream from Delta through an Arrow key filter (``_only_keys``) and
   only the rows kept are held, as one Arrow table DuckDB scans in parallel: copying a stream
   into a temporary table, or semi-joining it, runs on one thread (2x slower, issue 13);
2. row-level features: an ``ASOF LEFT JOIN`` ordered by (event time, created time with nulls
   lowest, write position) picks, per entity row, the latest event time <= T with ties broken
   by the greatest created time, then the greatest write position; outside the TTL the value
   is the default;
3. windowed aggregations: a range join on the key with ``T - window < event time <= T`` and
   one ``FILTER`` per window, grouped per entity row.

The rules are in docs/features.md; tests/features/test_point_in_time.py checks this engine
against a plain-Python reading of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goldenpath.core.errors import InvalidInput
from goldenpath.core.sql import quote_identifier as q
from goldenpath.core.sql import quote_literal, sandboxed_duckdb
from goldenpath.features.definitions import (
    DUCKDB_TYPES,
    Aggregation,
    FeatureView,
    Field,
    SqlSource,
)
from goldenpath.features.offline import SEQ, PointInTime, ViewInput

ROW = "_gp_row"
ENTITIES = "_gp_entities"


def _reason(error: Exception) -> str:
    """DuckDB's message, first line, without its error-class prefix."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.split(": ", 1)[1] if text.split(": ", 1)[0].endswith("Error") else text


def _expression(text: str) -> str:
    # On lines of its own: a trailing ``--`` comment in user SQL ends at its line.
    return f"(\n{text}\n)"


def _timestamp_sql(column: str, field: pa.Field, zone: str | None) -> str:
    if field.type.tz is not None:
        return f"CAST({q(column)} AS TIMESTAMPTZ)"
    assert zone is not None
    return f"timezone({quote_literal(zone)}, CAST({q(column)} AS TIMESTAMP))"


class DuckDBEngine:
    """Point-in-time builds on a sandboxed DuckDB connection (see the module docstring)."""

    def source_schema(self, view: FeatureView, tables: Mapping[str, Any]) -> pa.Schema:
        if not isinstance(view.source, SqlSource):
            raise TypeError("source_schema is for SQL sources; a dataset's schema is its own")
        empty = {name: table.schema.empty_table() for name, table in tables.items()}
        con = sandboxed_duckdb(empty)
        try:
            _single_statement(con, view.source.query, view.name)
            return con.sql(f"SELECT * FROM ({view.source.query}\n) LIMIT 0").to_arrow_table().schema
        except InvalidInput:
            raise
        except Exception as error:  # duckdb.Error: the user's query does not compile
            raise InvalidInput(
                f"feature view {view.name!r}: its SQL source does not compile: {_reason(error)}",
                hint="the query sees each dataset it names as a table of that name",
            ) from None
        finally:
            con.close()

    def check_view(self, view: FeatureView, schema: pa.Schema) -> None:
        names = set(schema.names)
        where = f"feature view {view.name!r}"
        source = view.source if isinstance(view.source, str) else "its SQL source"
        for key in view.join_keys:
            if key not in names:
                raise InvalidInput(
                    f"{where}: join key {key!r} is not a column of {source}",
                    hint=f"its columns are: {', '.join(schema.names)}",
                )
        for column in filter(None, (view.timestamp, view.created_timestamp)):
            if column not in names:
                raise InvalidInput(
                    f"{where}: timestamp column {column!r} is not a column of {source}",
                    hint=f"its columns are: {', '.join(schema.names)}",
                )
            kind = schema.field(column).type
            if not pa.types.is_timestamp(kind):
                raise InvalidInput(
                    f"{where}: column {column!r} is {kind}, not a timestamp",
                    hint="the event and created timestamps must be timestamp columns",
                )
            if kind.tz is None and view.timezone is None:
                raise InvalidInput(
                    f"{where}: column {column!r} holds timestamps without a time zone",
                    hint="declare the zone they are in: FeatureView(..., timezone='Europe/Paris')",
                )
        con = sandboxed_duckdb({"source": schema.empty_table()})
        try:
            items: list[Field | Aggregation] = [*view.features, *view.aggregations]
            for item in items:
                sql = _value_sql(item)
                if sql is None:
                    continue
                _single_statement(con, f"SELECT {sql} FROM source", view.name, item.name)
                try:
                    con.sql(f"SELECT {sql} FROM source LIMIT 0").fetchall()
                except Exception as error:  # duckdb.Error: the user's expression
                    raise InvalidInput(
                        f"{where}, feature {item.name!r}: {_text_of(item)!r} does not compile: "
                        f"{_reason(error)}",
                        hint=f"expressions are DuckDB SQL over the columns: "
                        f"{', '.join(schema.names)}",
                    ) from None
        finally:
            con.close()

    def point_in_time(
        self, entities: pa.Table, timestamp_column: str, inputs: Sequence[ViewInput]
    ) -> PointInTime:
        rows = entities.append_column(ROW, pa.array(np.arange(entities.num_rows), pa.int64()))
        con = sandboxed_duckdb({ENTITIES: rows})
        try:
            selects = [f"e.* EXCLUDE ({q(ROW)})"]
            joins: list[str] = []
            params: list[Any] = []
            ranges: list[tuple[datetime | None, datetime | None]] = []
            for index, item in enumerate(inputs):
                ranges.append(self._prepare_source(con, index, item, timestamp_column))
                parts = self._view_parts(con, index, item, timestamp_column)
                for alias, sql, names, part_params in parts:
                    joins.append(f"LEFT JOIN ({sql}) {alias} ON {alias}.{q(ROW)} = e.{q(ROW)}")
                    selects += [f"{alias}.{q(name)}" for name in names]
                    params += part_params
            query = (
                f"SELECT {', '.join(selects)} FROM {ENTITIES} e {' '.join(joins)} "
                f"ORDER BY e.{q(ROW)}"
            )
            table = con.sql(query, params=params).to_arrow_table()
        finally:
            con.close()
        return PointInTime(table, ranges)

    # -- per view ----------------------------------------------------------------------------

    def _prepare_source(
        self, con: Any, index: int, item: ViewInput, timestamp_column: str
    ) -> tuple[datetime | None, datetime | None]:
        """Create the view ``_gp_s<index>``: the rows this build needs, evaluated per row."""
        view = item.view
        raw = f"_gp_raw{index}"
        if isinstance(view.source, SqlSource):
            for name, table in item.source.items():
                con.register(name, table)
            con.execute(
                f"CREATE TEMP TABLE {raw} AS SELECT *, row_number() OVER () AS {SEQ} "
                f"FROM ({view.source.query}\n)"
            )
            for name in item.source:
                con.unregister(name)
            filtered = False
        else:
            reader, filtered = _only_keys(cast(pa.RecordBatchReader, item.source), view, con)
            con.register(raw, reader.read_all())
        schema = (
            con.sql(f"SELECT * FROM {raw} LIMIT 0").to_arrow_table().schema
            if isinstance(view.source, SqlSource)
            else cast(pa.RecordBatchReader, item.source).schema  # read once: never peeked at
        )
        wanted = set(item.features)
        columns = [f"s.{q(k)}" for k in view.join_keys]
        columns.append(
            f"{_timestamp_sql(view.timestamp, schema.field(view.timestamp), view.timezone)} "
            "AS _gp_ts"
        )
        if view.created_timestamp is not None:
            field = schema.field(view.created_timestamp)
            columns.append(
                f"{_timestamp_sql(view.created_timestamp, field, view.timezone)} AS _gp_created"
            )
        else:
            columns.append("CAST(NULL AS TIMESTAMPTZ) AS _gp_created")
        columns.append(f"s.{SEQ}")
        definitions: list[Field | Aggregation] = [*view.features, *view.aggregations]
        values = [
            (item_def.name, sql)
            for item_def in definitions
            if item_def.name in wanted and (sql := _value_sql(item_def)) is not None
        ]
        if values:
            # NaN is null, as in the online store (SQLite cannot keep NaN): a float value
            # that is NaN after its expression is a missing value for choices and aggregates.
            kinds = con.sql(
                f"SELECT {', '.join(sql for _, sql in values)} FROM {raw} s LIMIT 0"
            ).types
            for (name, sql), kind in zip(values, kinds, strict=True):
                if str(kind) in ("DOUBLE", "FLOAT"):
                    sql = f"CASE WHEN isnan({sql}) THEN NULL ELSE {sql} END"
                columns.append(f"{sql} AS {q(name)}")
        keys = view.join_keys
        on = " AND ".join(f"s.{q(k)} = k.{q(k)}" for k in keys)
        key_list = ", ".join(q(k) for k in keys)
        # Only the keys asked for (unless the stream was filtered already: a semi join over
        # a stream runs on one thread), and nothing after the latest instant asked for.
        keep = (
            "" if filtered else f"SEMI JOIN (SELECT DISTINCT {key_list} FROM {ENTITIES}) k ON {on}"
        )
        con.execute(
            f"CREATE TEMP VIEW _gp_s{index} AS SELECT * FROM ("
            f"SELECT {', '.join(columns)} FROM {raw} s {keep}) "
            f"WHERE _gp_ts <= (SELECT max({q(timestamp_column)}) FROM {ENTITIES})"
        )
        ((low, high),) = con.sql(f"SELECT min(_gp_ts), max(_gp_ts) FROM _gp_s{index}").fetchall()
        return low, high

    def _view_parts(
        self, con: Any, index: int, item: ViewInput, ts: str
    ) -> list[tuple[str, str, list[str], list[Any]]]:
        view = item.view
        wanted = set(item.features)
        keys = view.join_keys
        parts: list[tuple[str, str, list[str], list[Any]]] = []
        fields = [f for f in view.features if f.name in wanted]
        if fields:
            names = ", ".join(f"r.{q(f.name)}" for f in fields)
            # The ASOF join orders by (event time, created time, write position): it picks
            # per entity row the greatest such tuple at or before (T, +inf, +inf), which is
            # the latest event time <= T with its ties broken by the rule, without first
            # keeping one row per (key, event time) (a window over every source row).
            if view.created_timestamp is not None:
                order = (
                    f"{{'t': r._gp_ts, 'c': coalesce(r._gp_created, '-infinity'::TIMESTAMPTZ), "
                    f"'s': r.{SEQ}}}"
                )
                bound = f"{{'t': e.{q(ts)}, 'c': 'infinity'::TIMESTAMPTZ, 's': {2**63 - 1}}}"
            else:
                order = f"{{'t': r._gp_ts, 's': r.{SEQ}}}"
                bound = f"{{'t': e.{q(ts)}, 's': {2**63 - 1}}}"
            # A struct holding a null sorts last, so it would match every row: no instant,
            # no value.
            bound = f"(CASE WHEN e.{q(ts)} IS NOT NULL THEN {bound} END)"
            source = (
                f"(SELECT {', '.join(f'r.{q(k)}' for k in keys)}, r._gp_ts, {names}, "
                f"{order} AS _gp_order FROM _gp_s{index} r)"
            )
            ttl = view.ttl_delta
            live = "r._gp_ts IS NOT NULL"
            if ttl is not None:
                live += f" AND r._gp_ts >= e.{q(ts)} - to_seconds({int(ttl.total_seconds())})"
            values, params = [], []
            for f in fields:
                values.append(
                    f"CASE WHEN {live} THEN r.{q(f.name)} "
                    f"ELSE CAST(? AS {DUCKDB_TYPES[f.dtype]}) END AS {q(f.name)}"
                )
                params.append(f.default)
            on = " AND ".join(f"e.{q(k)} = r.{q(k)}" for k in keys)
            if _has_ties(con, index, keys):
                asof = f"{source} r ON {on} AND {bound} >= r._gp_order"
            else:
                # No two rows share a key and an event time: the plain ASOF join has one
                # candidate per instant (ordering by a struct costs it ~60% more).
                asof = f"_gp_s{index} r ON {on} AND e.{q(ts)} >= r._gp_ts"
            sql = f"SELECT e.{q(ROW)}, {', '.join(values)} FROM {ENTITIES} e ASOF LEFT JOIN {asof}"
            parts.append((f"f{index}", sql, [f.name for f in fields], params))
        aggregations = [a for a in view.aggregations if a.name in wanted]
        if aggregations:
            widest = max(int(a.window_delta.total_seconds()) for a in aggregations)
            values, params = [], []
            for a in aggregations:
                sql_value, value_params = _aggregate_sql(a, ts)
                values.append(f"{sql_value} AS {q(a.name)}")
                params += value_params
            on = " AND ".join(f"e.{q(k)} = s.{q(k)}" for k in keys)
            sql = (
                f"SELECT e.{q(ROW)}, {', '.join(values)} FROM {ENTITIES} e "
                f"LEFT JOIN _gp_s{index} s ON {on} AND s._gp_ts <= e.{q(ts)} "
                f"AND s._gp_ts > e.{q(ts)} - to_seconds({widest}) GROUP BY e.{q(ROW)}"
            )
            parts.append((f"a{index}", sql, [a.name for a in aggregations], params))
        return parts


def _has_ties(con: Any, index: int, keys: Sequence[str]) -> bool:
    """Whether two source rows share a key and an event time (so the tie rule decides)."""
    key_list = ", ".join(q(k) for k in keys)
    ((ties,),) = con.sql(
        f"SELECT count(*) > count(DISTINCT ({key_list}, _gp_ts)) FROM _gp_s{index}"
    ).fetchall()
    return bool(ties)


def _only_keys(
    reader: pa.RecordBatchReader, view: FeatureView, con: Any
) -> tuple[pa.RecordBatchReader, bool]:
    """The source stream keeping only the rows whose join key an entity row asks for, and
    True; or the stream unchanged and False when the filter cannot be exact in Arrow (a
    composite key, or entity keys that do not convert to the source's key type)."""
    if len(view.join_keys) != 1:
        return reader, False
    key = view.join_keys[0]
    kind = reader.schema.field(key).type
    asked = con.sql(
        f"SELECT DISTINCT {q(key)} FROM {ENTITIES} WHERE {q(key)} IS NOT NULL"
    ).to_arrow_table()
    try:
        wanted = pc.cast(asked.column(0), kind)  # safe: an overflow raises, never wraps
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return reader, False

    def batches() -> Any:
        for batch in reader:
            yield batch.filter(pc.is_in(batch.column(key), value_set=wanted))

    return pa.RecordBatchReader.from_batches(reader.schema, batches()), True


def _value_sql(item: Field | Aggregation) -> str | None:
    """The per-row SQL of a feature: a Field's cast expression, an aggregation's column."""
    if isinstance(item, Field):
        return f"CAST({_expression(item.sql)} AS {DUCKDB_TYPES[item.dtype]})"
    if item.column is None:
        return None
    return _expression(item.column)


def _text_of(item: Field | Aggregation) -> str:
    return item.sql if isinstance(item, Field) else str(item.column)


def _aggregate_sql(a: Aggregation, ts: str) -> tuple[str, list[Any]]:
    column = f"s.{q(a.name)}" if a.column is not None else f"s.{SEQ}"
    window = (
        f"FILTER (WHERE s._gp_ts > e.{q(ts)} - to_seconds({int(a.window_delta.total_seconds())}))"
    )
    dtype = DUCKDB_TYPES[str(a.dtype)]
    if a.function == "count":
        return f"count({column}) {window}", []
    if a.function == "count_distinct":
        return f"count(DISTINCT {column}) {window}", []
    function = {"sum": "sum", "mean": "avg", "min": "min", "max": "max"}[a.function]
    return f"coalesce(CAST({function}({column}) {window} AS {dtype}), CAST(? AS {dtype}))", [
        a.default
    ]


def _single_statement(con: Any, sql: str, view: str, feature: str | None = None) -> None:
    """Refuse SQL that is more than one statement (``x; DROP ...``) or does not parse."""
    where = f"feature view {view!r}" + (f", feature {feature!r}" if feature else "")
    try:
        count = len(con.extract_statements(sql))
    except Exception as error:  # duckdb.ParserException
        raise InvalidInput(
            f"{where}: does not compile: {_reason(error)}", hint="write one DuckDB SQL expression"
        ) from None
    if count != 1:
        raise InvalidInput(f"{where}: write one SQL expression, not several statements")
