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
from goldenpath.data.columns import too_many_columns

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


def _children(kind: pa.DataType, column: str) -> list[tuple[pa.DataType, str]]:
    """The types nested one level inside ``kind``, with the path naming each."""
    if pat.is_struct(kind):
        return [
            (kind.field(i).type, f"{column}.{kind.field(i).name}") for i in range(kind.num_fields)
        ]
    if pat.is_map(kind):
        return [(kind.key_type, f"{column}.key"), (kind.item_type, f"{column}.value")]
    if (
        pat.is_list(kind)
        or pat.is_large_list(kind)
        or pat.is_fixed_size_list(kind)
        or pat.is_list_view(kind)
        or pat.is_large_list_view(kind)
    ):
        return [(kind.value_type, f"{column}[]")]
    return []


def _check_struct(kind: pa.DataType, column: str, name: str) -> None:
    if kind.num_fields == 0:
        raise _refuse(
            name,
            column,
            "is an object with no fields (e.g. {}), which cannot be stored",
            "drop the column or give the objects at least one field",
        )
    seen: dict[str, str] = {}
    for index in range(kind.num_fields):
        child = kind.field(index).name
        folded = child.casefold()
        if folded in seen:
            raise _refuse(
                name,
                column,
                f"has fields {seen[folded]!r} and {child!r}, which differ only in case",
                "rename one of them: stored field names are case-insensitive",
            )
        seen[folded] = child


def _walk(top: pa.DataType, column: str, name: str, limits: Limits) -> None:
    """Check one column's type; depth counts the row as level 1 (as JSON nesting does).

    Iterative, not recursive: a type nested deeper than Python's recursion limit (possible
    when the operator raises ``nesting_depth_max``) must not raise RecursionError.
    """
    pending = [(top, column, 1)]
    while pending:
        kind, path, depth = pending.pop()
        if depth > limits.nesting_depth_max:
            raise _refuse(
                name,
                column,
                f"nests values more than {limits.nesting_depth_max} levels deep "
                "(limits.nesting_depth_max)",
                "flatten the records, or raise the limit (GP_LIMIT_NESTING_DEPTH_MAX)",
            )
        if pat.is_dictionary(kind):
            pending.append((kind.value_type, path, depth))
            continue
        if pat.is_struct(kind):
            _check_struct(kind, path, name)
        children = _children(kind, path)
        if not children and not _scalar_ok(kind):
            raise _refuse(
                name,
                path,
                f"has type {kind}, which a dataset cannot store",
                "cast it to a string, integer, float, decimal(<=38), date or timestamp first",
            )
        pending.extend((child, child_path, depth + 1) for child, child_path in children)


def _fields(kind: pa.DataType) -> int:
    """Struct fields nested anywhere inside ``kind`` (iteratively, like :func:`_walk`)."""
    count, pending = 0, [kind]
    while pending:
        kind = pending.pop()
        if pat.is_struct(kind):
            count += kind.num_fields
        pending.extend(child for child, _ in _children(kind, ""))
    return count


def check_schema(schema: pa.Schema, name: str, limits: Limits) -> None:
    """Refuse a schema with too many columns, too deep a nesting or a type we cannot store.

    Fields of nested objects count as columns: a JSON object of 20,000 keys in one column
    costs what 20,000 columns cost.
    """
    if len(schema) > limits.columns_max:
        raise too_many_columns(name, f"{len(schema):,}", limits)
    for field in schema:
        _walk(field.type, field.name, name, limits)  # depth first: bounds the count below
    fields = len(schema) + sum(_fields(field.type) for field in schema)
    if fields > limits.columns_max:
        raise too_many_columns(name, f"{fields:,}", limits, nested=True)


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
