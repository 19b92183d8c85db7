"""Column names and text a file may bring into a dataset, checked before anything is written.

Column names are the uploader's text. Quoting (``core/sql.py``) makes any name safe in SQL;
this module refuses the names and shapes that would still go wrong further down:

- names equal but for case (``id``, ``ID``): DuckDB and Delta Lake treat them as one column;
- an empty name, or one with a NUL (DuckDB and C strings end there, so the name is cut);
- names starting ``_gp_`` (any case): the platform adds ``_gp_rules``, ``_gp_row``,
  ``_gp_version`` to quarantine rows, and a data column of that name would collide;
- a name longer than ``limits.column_name_chars_max``;
- a header-only text file: no row tells a column's type, and a first version stored with
  ``null`` columns would fix the dataset's schema to ``null`` (we refuse it rather than guess
  a type that the next batch would then "break");
- text that is not UTF-8: pyarrow reads a CSV field in Latin-1 as an opaque ``binary``
  column. We refuse it, naming the column and row, rather than guess the encoding.
"""

from __future__ import annotations

import pyarrow as pa

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits

RESERVED_PREFIX = "_gp_"
_SHOWN = 40  # characters of a hostile name shown in a message


def _show(name: str) -> str:
    text = repr(name)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def too_many_columns(
    name: str, count: str, limits: Limits, *, nested: bool = False
) -> InvalidInput:
    """The error for a file with ``count`` columns (``"3,000"``, ``"more than 2,000"``), or
    fields when ``nested`` ones are counted too: the same words from the byte scan of a CSV
    header (:mod:`~goldenpath.data.prescan`) and from a schema (:mod:`~goldenpath.data.shapes`).
    """
    what = "columns and nested fields" if nested else "columns"
    return InvalidInput(
        f"{name} has {count} {what}; the limit is {limits.columns_max:,} (limits.columns_max)",
        hint="split the columns over several datasets, or raise the limit (GP_LIMIT_COLUMNS_MAX)",
    )


def check_columns(table: pa.Table, fmt: str, source: str, *, limits: Limits | None = None) -> None:
    """Raise :class:`InvalidInput` if ``table`` (read from ``source`` as ``fmt``) cannot be
    stored as it is. Called once a file is read, before it is validated or written."""
    limits = limits or Limits()
    check_names(table.column_names, source, chars_max=limits.column_name_chars_max)
    if fmt in ("csv", "jsonl"):
        _check_text(table, source)


def check_names(names: list[str], source: str, *, chars_max: int) -> None:
    """Refuse column names the platform cannot store faithfully (see the module docstring)."""
    seen: dict[str, str] = {}
    for position, name in enumerate(names, 1):
        if not name.strip():
            raise InvalidInput(
                f"{source}: column {position} has an empty name",
                hint="give every column a name in the header",
            )
        if "\x00" in name:
            raise InvalidInput(
                f"{source}: column {position} ({_show(name)}) has a NUL character in its name",
                hint="remove the NUL byte from the header",
            )
        if len(name) > chars_max:
            raise InvalidInput(
                f"{source}: column {position} has a name of {len(name):,} characters "
                f"(at most {chars_max:,}): {_show(name)}",
                hint="shorten it (limits.column_name_chars_max)",
            )
        if name.lower().startswith(RESERVED_PREFIX):
            raise InvalidInput(
                f"{source}: column {_show(name)} uses the reserved prefix {RESERVED_PREFIX!r}",
                hint="rename it: columns starting with _gp_ are added by goldenpath "
                "(_gp_rules, _gp_row, _gp_version in quarantine rows)",
            )
        folded = name.lower()
        if folded in seen:
            raise InvalidInput(
                f"{source}: columns {_show(seen[folded])} and {_show(name)} differ only in "
                "case (or not at all); DuckDB and Delta Lake treat them as one column",
                hint="rename one of them",
            )
        seen[folded] = name


def _check_text(table: pa.Table, source: str) -> None:
    if table.num_rows == 0 and any(pa.types.is_null(t) for t in table.schema.types):
        raise InvalidInput(
            f"{source} has a header but no rows: the columns' types cannot be inferred",
            hint="ingest a file with at least one row (or Parquet, which records its types); "
            "an empty batch adds nothing",
        )
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        # A text file has no binary type: pyarrow makes one only when a field is not UTF-8.
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            raise InvalidInput(
                f"{source}: column {_show(name)} is not UTF-8 text (first at data row "
                f"{_first_invalid_row(column) + 1:,})",
                hint="convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8 in.csv > out.csv",
            )
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            try:
                column.validate(full=True)  # checks every value is valid UTF-8
            except pa.ArrowInvalid:
                raise InvalidInput(
                    f"{source}: column {_show(name)} is not valid UTF-8 text",
                    hint="convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8 in x > out",
                ) from None


def _first_invalid_row(column: pa.ChunkedArray) -> int:
    """The position of the first value that is not UTF-8 (chunk by chunk, stopping there)."""
    offset = 0
    for chunk in column.chunks:
        for index, value in enumerate(chunk.to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    return offset + index
        offset += len(chunk)
    return 0
