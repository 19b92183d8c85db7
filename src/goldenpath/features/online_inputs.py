"""What callers send to the online service (entity rows, pushed rows, instants) as the plain
values and Arrow tables it works on, with one clear error for anything else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from goldenpath.core.errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(value: datetime, *, what: str) -> int:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(
            f"{what} must be a timezone-aware datetime",
            hint="for example: datetime.now(UTC)",
        )
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def count_rows(rows: Any) -> int:
    """How many rows a list, an Arrow table or a DataFrame holds, before converting any."""
    if isinstance(rows, pa.Table):
        return int(rows.num_rows)
    try:
        return len(rows)
    except TypeError:
        raise InvalidInput(
            "rows must be a list of mappings, an Arrow table or a pandas DataFrame",
            hint='for example: [{"user_id": 7}]',
        ) from None


def to_entity_rows(rows: Any) -> list[dict[str, Any]]:
    if isinstance(rows, pa.Table):
        return list(rows.to_pylist())
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # pandas
        return list(pa.Table.from_pandas(rows, preserve_index=False).to_pylist())
    if type(rows) is list and all(type(row) is dict for row in rows):
        return rows  # read, never changed
    if isinstance(rows, Mapping) or not isinstance(rows, Sequence):
        raise InvalidInput(
            "entity rows must be a list of mappings, an Arrow table or a pandas DataFrame",
            hint='for example: [{"user_id": 7}]',
        )
    result = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise InvalidInput(
                f"an entity row must be a mapping of join keys, not {type(row).__name__}",
                hint='for example: [{"user_id": 7}]',
            )
        result.append(row if isinstance(row, dict) else dict(row))
    return result


def push_table(rows: Any, schema: pa.Schema, dataset: str) -> pa.Table:
    """Pushed rows as an Arrow table with the dataset's column types; naive times refused."""
    if isinstance(rows, pa.Table):
        table = rows
    elif hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # pandas
        table = pa.Table.from_pandas(rows, preserve_index=False)
    else:
        listed = [dict(row) for row in to_entity_rows(rows)]  # copies: times are parsed in place
        names = {k for row in listed for k in row}
        unknown = sorted(names - set(schema.names))
        if unknown:
            raise InvalidInput(
                f"dataset {dataset!r} has no column(s) {', '.join(unknown)}",
                hint=f"its columns: {', '.join(schema.names)}",
            )
        for field in schema:
            if pa.types.is_timestamp(field.type) and field.type.tz is not None:
                for row in listed:
                    value = row.get(field.name)
                    if isinstance(value, str):  # JSON (over HTTP): ISO-8601 text
                        try:
                            value = row[field.name] = datetime.fromisoformat(value)
                        except ValueError:
                            raise InvalidInput(
                                f"column {field.name!r}: {value!r} is not an ISO-8601 time",
                                hint="for example: 2026-06-01T12:00:00+00:00",
                            ) from None
                    if isinstance(value, datetime) and value.tzinfo is None:
                        raise InvalidInput(
                            f"column {field.name!r}: {value.isoformat()} has no time zone",
                            hint="push timezone-aware times, e.g. datetime.now(UTC)",
                        )
        try:
            table = pa.Table.from_pylist(listed, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"rows do not fit dataset {dataset!r}: {str(exc).splitlines()[0]}",
                hint=f"its columns: {', '.join(f'{f.name} {f.type}' for f in schema)}",
            ) from None
        return table
    unknown = [n for n in table.column_names if n not in schema.names]
    if unknown:
        raise InvalidInput(
            f"dataset {dataset!r} has no column(s) {', '.join(unknown)}",
            hint=f"its columns: {', '.join(schema.names)}",
        )
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        if (
            pa.types.is_timestamp(field.type)
            and field.type.tz is not None
            and pa.types.is_timestamp(column.type)
            and column.type.tz is None
        ):
            raise InvalidInput(
                f"column {field.name!r} holds timestamps without a time zone",
                hint="push timezone-aware times",
            )
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(
                f"column {field.name!r} cannot be {field.type}: {str(exc).splitlines()[0]}",
            ) from None
    return pa.table(columns, schema=schema)
