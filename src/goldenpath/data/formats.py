"""Reading source files (CSV, Parquet, JSON Lines) into Arrow, with clear errors.

:func:`read_table` is the one reader, in three steps, each visited once:

1. one pass over the file's bytes (:func:`goldenpath.data.prescan.scan`): the limits that
   hold before decoding, and decompression, in the same pass;
2. one pyarrow reader per format (multi-threaded and vectorised), Parquet's footer checked
   first;
3. the table checked (:mod:`goldenpath.data.columns`, :mod:`goldenpath.data.shapes`) and
   returned.

Every reader failure (ragged CSV, corrupt Parquet, bad JSON) becomes one line naming the file.
Every path (CLI, SDK, server, a training set's entity rows) reads through here, so the limits
hold on all of them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits, resolve_limits
from goldenpath.data import prescan, shapes
from goldenpath.data.columns import check_columns

# Compression is recognised by content (prescan); a name may say it too.
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".bz2")

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def format_suffix(filename: str) -> str | None:
    """The suffix that names ``filename``'s format (``.csv``, or ``.csv.gz`` when compressed),
    or None if it names none."""
    suffixes = [s.lower() for s in Path(filename).suffixes[-2:]]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        return "".join(suffixes) if len(suffixes) == 2 and suffixes[0] in FORMATS else None
    return suffixes[-1] if suffixes and suffixes[-1] in FORMATS else None


def detect_format(path: Path, explicit: str | None = None) -> str:
    """The file's format from ``explicit`` or its suffix; raise if neither tells."""
    if explicit is not None:
        if explicit not in ("csv", "parquet", "jsonl"):
            raise InvalidInput(f"unknown format {explicit!r}", hint="use csv, parquet or jsonl")
        return explicit
    suffix = format_suffix(path.name)
    if suffix is None:
        raise InvalidInput(
            f"cannot tell the format of {path.name!r} from its suffix",
            hint="name it .csv, .parquet or .jsonl (optionally .gz, .zst, .bz2), or pass --format",
        )
    return FORMATS["." + suffix.split(".")[1]]  # ".csv.gz" -> "csv"


def read_table(
    path: Path,
    fmt: str | None = None,
    *,
    column_types: Mapping[str, pa.DataType] | None = None,
    limits: Limits | None = None,
) -> tuple[pa.Table, str]:
    """Read ``path`` into an Arrow table; return it with the detected format.

    ``column_types`` pins the types of some CSV/JSON columns (a contract's string columns, so
    that ``01234`` stays a string). Other columns are inferred. ``limits`` (default: the
    defaults and ``GP_LIMIT_*``) bound what the file may cost; a file over any of them is
    refused before it is decoded, where the format allows, and always before it is returned.
    """
    limits = limits if limits is not None else resolve_limits()
    if not path.exists():
        raise InvalidInput(f"file not found: {path}", hint="check the path")
    if not path.is_file():
        raise InvalidInput(f"not a file: {path}")
    fmt = detect_format(path, fmt)
    if path.stat().st_size == 0:
        raise InvalidInput(f"{path.name} is empty", hint="a CSV needs at least a header line")
    try:
        with tempfile.TemporaryDirectory(prefix="gp-read-") as scratch:
            source = prescan.scan(path, fmt, path.name, limits, Path(scratch))
            table = _read(source, path.name, fmt, column_types or {}, limits)
    except (pa.ArrowException, OSError, ValueError, EOFError) as exc:
        first = _printable(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        raise InvalidInput(
            f"cannot read {path.name} as {fmt}: {first}",
            hint="check the file is complete and well-formed",
        ) from None
    if table.num_columns == 0:
        raise InvalidInput(f"{path.name} has no columns")
    check_columns(table, fmt, path.name, limits=limits)
    _require_valid(table, path.name)
    table = shapes.storable(table, path.name, limits)
    names = table.column_names
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"{path.name} repeats column names: {', '.join(dupes)}")
    return table, fmt


def _read(
    path: Path,
    name: str,
    fmt: str,
    column_types: Mapping[str, pa.DataType],
    limits: Limits,
) -> pa.Table:
    """Decode ``path`` (already scanned) as ``fmt``."""
    # Readers get an open file, never a path: given a path ending in .gz, pyarrow would
    # decompress it itself, past the ratio check.
    if fmt == "csv":
        from pyarrow import csv

        with pa.OSFile(str(path)) as handle:
            return csv.read_csv(
                handle,
                # An empty field is a missing value in every column, text included (as in
                # pandas); otherwise a pinned string column would turn blanks into "" and
                # hide nulls.
                convert_options=csv.ConvertOptions(
                    column_types=dict(column_types), strings_can_be_null=True
                ),
            )
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pa.OSFile(str(path)) as handle:
            parquet = pq.ParquetFile(handle)
            _check_parquet(parquet.metadata, path.stat().st_size, name, limits)
            shapes.check_schema(parquet.schema_arrow, name, limits)
            return parquet.read()
    from pyarrow import json

    schema = pa.schema(list(column_types.items())) if column_types else None
    with pa.OSFile(str(path)) as handle:
        return json.read_json(
            handle,
            read_options=json.ReadOptions(block_size=prescan.JSON_LINE_BYTES_MAX),
            parse_options=json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            ),
        )


def _printable(text: str, chars_max: int = 200) -> str:
    """A reader's message made safe to show: readers quote the offending bytes (NULs, escape
    sequences, megabytes of one line), which must not reach a terminal or a log raw."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:chars_max])
    return shown + ("..." if len(text) > chars_max else "") or "unreadable"


def _require_valid(table: pa.Table, name: str) -> None:
    """Refuse data a reader produced but Arrow itself calls invalid: pyarrow's JSON reader
    passes Latin-1 bytes through as "strings", which break every later step."""
    try:
        table.validate(full=True)
    except pa.ArrowInvalid as exc:
        first = _printable(str(exc).strip().splitlines()[0])
        if "UTF8" in first:
            raise InvalidInput(
                f"{name} holds text that is not UTF-8",
                hint="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
            ) from None
        raise InvalidInput(
            f"cannot read {name}: {first}", hint="check the file is complete and well-formed"
        ) from None


def _check_parquet(metadata: object, file_bytes: int, name: str, limits: Limits) -> None:
    """Refuse a Parquet file by its footer: too many rows (a 430 KB file of 100M rows added
    ~1 GiB), or pages that decompress to more than ``decompression_ratio_max`` times the file."""
    import pyarrow.parquet as pq

    assert isinstance(metadata, pq.FileMetaData)
    if metadata.num_rows > limits.rows_per_upload_max:
        raise InvalidInput(
            f"{name} has {metadata.num_rows:,} rows; the limit is "
            f"{limits.rows_per_upload_max:,} (limits.rows_per_upload_max); refused before "
            "decoding",
            hint="split it into several appends, or raise the limit (GP_LIMIT_ROWS_PER_UPLOAD_MAX)",
        )
    decoded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if decoded > max(file_bytes, 1) * limits.decompression_ratio_max:
        raise InvalidInput(
            f"{name} expands more than {limits.decompression_ratio_max:g} times when decoded "
            f"({decoded:,} bytes from {file_bytes:,}); refused before decoding",
            hint="write it with less extreme compression, or raise "
            "limits.decompression_ratio_max (GP_LIMIT_DECOMPRESSION_RATIO_MAX)",
        )
