"""What callers send to the online service (entity rows, pushed rows, instants) as the plain
values and Arrow tables it works on, with one clear error for anything else."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
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


_INTEGER = re.compile(r"^[+-]?[0-9]{1,19}$")
_BOOLS = {"true": True, "false": False}


def typed_from_text(
    rows: list[dict[str, Any]], types: Mapping[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    """Entity rows whose values are text (``--entity user_id=007`` on a command line), each
    value read as the type its definition gives it, never guessed from how it looks.

    ``types`` maps a name to its type (``int64``, ``float64``, ``string``, ``bool``,
    ``timestamp``) and what gave it (for the error: ``join key 'user_id' of feature view
    'user_tx'``); text stays text for ``string`` keys (``007`` keeps its zeros) and for names
    without a type. A value that does not read as its type is one :class:`InvalidInput`.
    """
    typed = []
    for row in rows:
        out: dict[str, Any] = {}
        for name, value in row.items():
            known = types.get(name)
            out[name] = (
                value if known is None or not isinstance(value, str) else _read(name, value, *known)
            )
        typed.append(out)
    return typed


def _read(name: str, text: str, dtype: str, where: str) -> Any:
    shown = text[:40]
    if dtype == "string":
        return text
    if dtype == "int64":
        if _INTEGER.match(text.strip()) and -(2**63) <= int(text) < 2**63:
            return int(text)
        example = "7"
    elif dtype == "float64":
        try:
            return float(text)
        except ValueError:
            example = "12.5"
    elif dtype == "bool":
        if text.strip().lower() in _BOOLS:
            return _BOOLS[text.strip().lower()]
        example = "true"
    else:  # timestamp
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            example = "2026-06-01T12:00:00+00:00"
    noun = {"int64": "an integer", "float64": "a number", "bool": "true or false"}.get(
        dtype, "an ISO-8601 time"
    )
    raise InvalidInput(
        f"{name}={shown!r}: {where} must be {dtype}, and {shown!r} is not {noun}",
        hint=f"for example: {name}={example}",
    )


def _parse_times(rows: list[dict[str, Any]], field: pa.Field) -> None:
    """The values of a timestamp or date column as datetimes or dates, in place: ISO-8601 text
    (JSON, over HTTP) parsed per the column's type; a zone required when the column has one;
    a number is not a time (Arrow would read 5 as 5 microseconds after 1970)."""
    name = field.name
    is_date = pa.types.is_date(field.type)
    aware = not is_date and field.type.tz is not None
    example = "2026-06-01" if is_date else "2026-06-01T12:00:00" + ("+00:00" if aware else "")
    for row in rows:
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, str):  # JSON (over HTTP): ISO-8601 text
            text = value
            try:
                value = date.fromisoformat(text) if is_date else datetime.fromisoformat(text)
            except ValueError:
                raise InvalidInput(
                    f"column {name!r}: {text[:40]!r} is not an ISO-8601 "
                    f"{'date' if is_date else 'time'}",
                    hint=f"for example: {example}",
                ) from None
            row[name] = value
        if not isinstance(value, date):  # datetime is a date too
            raise InvalidInput(
                f"column {name!r}: {str(value)[:40]} ({type(value).__name__}) is not a "
                f"{'date' if is_date else 'time'}",
                hint=f"send ISO-8601 text, for example: {example}",
            )
        if not is_date and not isinstance(value, datetime):
            raise InvalidInput(
                f"column {name!r}: {value.isoformat()} is a date, not a time",
                hint=f"for example: {example}",
            )
        if aware and isinstance(value, datetime) and value.tzinfo is None:
            raise InvalidInput(
                f"column {name!r}: {value.isoformat()} has no time zone",
                hint="push timezone-aware times, e.g. datetime.now(UTC)",
            )


def text_columns(schema: Sequence[Mapping[str, Any]]) -> dict[str, pa.DataType]:
    """The text columns of a dataset schema (``[{name, type}, ...]``, as
    ``DatasetVersion.schema``), to pin when reading a file to push: a CSV's ``007`` is then
    read as the text it is, not guessed to be the integer 7 (and pushed as ``"7"``)."""
    return {c["name"]: pa.string() for c in schema if c["type"] in ("string", "large_string")}


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
            if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
                _parse_times(listed, field)
        try:
            table = pa.Table.from_pylist(listed, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
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
