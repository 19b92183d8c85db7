"""Reading source files (CSV, Parquet, JSON Lines) into Arrow, with clear errors.

pyarrow's readers are multi-threaded and vectorised; what we add is format detection and turning
every reader failure (ragged CSV, corrupt Parquet, bad JSON) into one line naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from goldenpath.core.errors import InvalidInput
from goldenpath.data.columns import check_columns

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def detect_format(path: Path, explicit: str | None = None) -> str:
    """The file's format from ``explicit`` or its suffix; raise if neither tells."""
    if explicit is not None:
        if explicit not in ("csv", "parquet", "jsonl"):
            raise InvalidInput(f"unknown format {explicit!r}", hint="use csv, parquet or jsonl")
        return explicit
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"cannot tell the format of {path.name!r} from its suffix",
            hint="name it .csv, .parquet or .jsonl, or pass --format",
        )
    return fmt


def read_table(
    path: Path,
    fmt: str | None = None,
    *,
    column_types: Mapping[str, pa.DataType] | None = None,
) -> tuple[pa.Table, str]:
    """Read ``path`` into an Arrow table; return it with the detected format.

    ``column_types`` pins the types of some CSV/JSON columns (a contract's string columns, so
    that ``01234`` stays a string). Other columns are inferred.
    """
    if not path.exists():
        raise InvalidInput(f"file not found: {path}", hint="check the path")
    if not path.is_file():
        raise InvalidInput(f"not a file: {path}")
    fmt = detect_format(path, fmt)
    if path.stat().st_size == 0:
        raise InvalidInput(f"{path.name} is empty", hint="a CSV needs at least a header line")
    try:
        table = _read(path, fmt, column_types or {})
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"cannot read {path.name} as {fmt}: {first}",
            hint="check the file is complete and well-formed",
        ) from None
    if table.num_columns == 0:
        raise InvalidInput(f"{path.name} has no columns")
    check_columns(table, fmt, path.name)
    names = table.column_names
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"{path.name} repeats column names: {', '.join(dupes)}")
    return table, fmt


def _read(path: Path, fmt: str, column_types: Mapping[str, pa.DataType]) -> pa.Table:
    if fmt == "csv":
        from pyarrow import csv

        return csv.read_csv(
            path,
            # An empty field is a missing value in every column, text included (as in pandas);
            # otherwise a pinned string column would turn blanks into "" and hide nulls.
            convert_options=csv.ConvertOptions(
                column_types=dict(column_types), strings_can_be_null=True
            ),
        )
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    from pyarrow import json

    schema = pa.schema(list(column_types.items())) if column_types else None
    return json.read_json(
        path,
        parse_options=json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
    )
