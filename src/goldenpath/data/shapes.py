"""Which Arrow shapes a dataset can hold, checked before anything is validated or written.

The Delta writer crashes or throws untyped errors on shapes a reader happily produces: a type
nested thousands deep (exit 139), a struct with no fields, two struct fields differing only in
case, time-of-day, durations, intervals, unions, 256-bit decimals. Each is refused here with one
clear message naming the column, so nothing reaches the writer that it cannot take.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pat

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits
from goldenpath.data.prescan import too_many_columns

# Unsigned integers are widened to the signed type that holds every value (Delta has none);
# uint64 is cast checked, so a value above 2**63-1 is an error rather than a wrapped number.
_WIDER = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.int64(),
}


def _scalar_ok(kind: pa.DataType) -> bool:
    return bool(
        pat.is_boolean(kind)
        or pat.is_integer(kind)
        or pat.is_floating(kind)
        or pat.is_string(kind)
        or pat.is_large_string(kind)
        or pat.is_binary(kind)
        or pat.is_large_binary(kind)
        or pat.is_fixed_size_binary(kind)
        or pat.is_date(kind)
        or pat.is_timestamp(kind)
        or pat.is_decimal128(kind)
        or pat.is_null(kind)
        or kind in (pa.string_view(), pa.binary_view())
    )


def _refuse(name: str, column: str, why: str, hint: str) -> InvalidInput:
    return InvalidInput(f"{name}: column {column!r} {why}", hint=hint)


def _walk(kind: pa.DataType, depth: int, column: str, name: str, limits: Limits) -> None:
    """Check one column's type; ``depth`` counts the row as level 1 (as JSON nesting does)."""
    if depth > limits.nesting_depth_max:
        raise _refuse(
            name,
            column,
            f"nests values more than {limits.nesting_depth_max} levels deep "
            "(limits.nesting_depth_max)",
            "flatten the records, or raise the limit (GP_LIMIT_NESTING_DEPTH_MAX)",
        )
    if pat.is_dictionary(kind):
        _walk(kind.value_type, depth, column, name, limits)
    elif pat.is_struct(kind):
        if kind.num_fields == 0:
            raise _refuse(
                name,
                column,
                "is an object with no fields (e.g. {}), which cannot be stored",
                "drop the column or give the objects at least one field",
            )
        seen: dict[str, str] = {}
        for index in range(kind.num_fields):
            child = kind.field(index)
            folded = child.name.casefold()
            if folded in seen:
                raise _refuse(
                    name,
                    column,
                    f"has fields {seen[folded]!r} and {child.name!r}, which differ only in case",
                    "rename one of them: stored field names are case-insensitive",
                )
            seen[folded] = child.name
            _walk(child.type, depth + 1, f"{column}.{child.name}", name, limits)
    elif pat.is_map(kind):
        _walk(kind.key_type, depth + 1, f"{column}.key", name, limits)
        _walk(kind.item_type, depth + 1, f"{column}.value", name, limits)
    elif (
        pat.is_list(kind)
        or pat.is_large_list(kind)
        or pat.is_fixed_size_list(kind)
        or pat.is_list_view(kind)
        or pat.is_large_list_view(kind)
    ):
        _walk(kind.value_type, depth + 1, f"{column}[]", name, limits)
    elif not _scalar_ok(kind):
        raise _refuse(
            name,
            column,
            f"has type {kind}, which a dataset cannot store",
            "cast it to a string, integer, float, decimal(<=38), date or timestamp first",
        )


def check_schema(schema: pa.Schema, name: str, limits: Limits) -> None:
    """Refuse a schema with too many columns, too deep a nesting or a type we cannot store."""
    if len(schema) > limits.columns_max:
        raise too_many_columns(name, len(schema), limits)
    for field in schema:
        _walk(field.type, 1, field.name, name, limits)


def storable(table: pa.Table, name: str, limits: Limits) -> pa.Table:
    """``table`` checked (see :func:`check_schema`) and with unsigned integers widened."""
    check_schema(table.schema, name, limits)
    if table.num_rows > limits.rows_per_upload_max:
        raise InvalidInput(
            f"{name} has {table.num_rows:,} rows; the limit is "
            f"{limits.rows_per_upload_max:,} (limits.rows_per_upload_max)",
            hint="split it into several appends, or raise the limit (GP_LIMIT_ROWS_PER_UPLOAD_MAX)",
        )
    for index, field in enumerate(table.schema):
        wider = _WIDER.get(field.type)
        if wider is None:
            continue
        try:
            column = table.column(index).cast(wider)
        except pa.ArrowInvalid:
            raise _refuse(
                name,
                field.name,
                f"holds values too large for {wider}",
                "store them as strings or decimals",
            ) from None
        table = table.set_column(index, pa.field(field.name, wider), column)
    return table
