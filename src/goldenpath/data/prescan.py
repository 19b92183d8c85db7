"""Cheap checks on a file's bytes before a reader decodes it.

Each check streams the file in 1 MiB chunks with constant memory and stops at the first limit
broken, so a small hostile file (a gzip bomb, a 20,000-column header, JSON nested 5,000 deep)
is refused in milliseconds instead of costing gigabytes or crashing a native library. The
limits come from :class:`~goldenpath.core.limits.Limits` (issue 11, point 8).
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits

CHUNK_BYTES = 1 << 20
# pyarrow's JSON reader refuses a line longer than its block size ("straddling object"); we
# give it this block size and refuse longer lines ourselves, with a clearer message.
JSON_LINE_BYTES_MAX = 16 << 20

# Compression is recognised by content, never by name: a gzip file named .csv is still a bomb.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh", "bz2"))
COMPRESSED_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".bz2": "bz2"}

# A complete JSON string literal (escapes included). JSON strings cannot hold a raw newline,
# so within whole lines every literal is complete and can be blanked before counting brackets.
_JSON_STRING = re.compile(rb'"(?:[^"\\\n]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_CSV_TOKENS = re.compile(rb'["\n,]')


def compression_of(path: Path) -> str | None:
    """The codec ``path`` is compressed with (``gzip``, ``zstd``, ``bz2``), or None."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    return next((codec for magic, codec in _MAGIC if head.startswith(magic)), None)


def decompress(path: Path, codec: str, into: Path, limits: Limits) -> Path:
    """Stream-decompress ``path`` into ``into``, refusing once the output passes
    ``decompression_ratio_max`` times the compressed size (a 510 KB .csv.gz expanded to 4.2 GB)."""
    budget = int(max(path.stat().st_size, 1) * limits.decompression_ratio_max)
    written = 0
    with pa.CompressedInputStream(pa.OSFile(str(path)), codec) as source, open(into, "wb") as out:
        while chunk := source.read(CHUNK_BYTES):
            written += len(chunk)
            # Within the ratio, a large file could still fill the disk it is decompressed to.
            if written > limits.decompressed_max_bytes:
                raise InvalidInput(
                    f"{path.name} decompresses to more than {limits.decompressed_max_bytes:,} "
                    "bytes (limits.decompressed_max_bytes); refused before decoding",
                    hint="split it into several files, or raise the limit "
                    "(GP_LIMIT_DECOMPRESSED_MAX_BYTES)",
                )
            if written > budget:
                raise InvalidInput(
                    f"{path.name} expands more than {limits.decompression_ratio_max:g} times "
                    f"when decompressed ({codec}); refused before decoding",
                    hint="upload it uncompressed, or raise limits.decompression_ratio_max "
                    "(GP_LIMIT_DECOMPRESSION_RATIO_MAX)",
                )
            out.write(chunk)
    return into


def check_lines(path: Path, name: str, limits: Limits, *, header: bool) -> None:
    """Refuse a text file with more lines than ``rows_per_upload_max`` (plus a header line).

    A line count bounds the rows from above and costs one ``bytes.count`` per chunk, so the
    rows limit holds before a single value is decoded.
    """
    allowed = limits.rows_per_upload_max + (1 if header else 0)
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            if lines > allowed:
                break
    lines += 0 if last == b"\n" else 1
    if lines > allowed:
        raise InvalidInput(
            f"{name} has more than {limits.rows_per_upload_max:,} rows "
            f"(limits.rows_per_upload_max); refused before decoding",
            hint="split it into several appends, or raise the limit (GP_LIMIT_ROWS_PER_UPLOAD_MAX)",
        )


def check_csv_header(path: Path, name: str, limits: Limits) -> None:
    """Refuse a CSV whose header has more than ``columns_max`` columns, reading only the header
    (a 170 KB CSV of 20,000 columns took 570 s and 3.4 GB to ingest)."""
    with open(path, "rb") as handle:
        if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            raise InvalidInput(
                f"{name} is UTF-16 text, not UTF-8 text",
                hint="re-encode the file as UTF-8 (e.g. iconv -f utf-16 -t utf-8)",
            )
    columns, quoted = 1, False
    # A header longer than this cannot be columns_max names of column_name_chars_max characters.
    header_bytes_max = limits.columns_max * (4 * limits.column_name_chars_max + 3)
    seen = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            for token in _CSV_TOKENS.finditer(chunk):
                char = token.group()
                if char == b'"':
                    quoted = not quoted  # "" inside quotes toggles twice: still quoted
                elif quoted:
                    continue
                elif char == b",":
                    columns += 1
                    if columns > limits.columns_max:
                        raise _too_many_columns(name, f"more than {columns - 1:,}", limits)
                else:
                    return
            seen += len(chunk)
            if seen > header_bytes_max:
                raise InvalidInput(
                    f"{name}: the header line is longer than {header_bytes_max:,} bytes",
                    hint="check the file is a CSV with one header line",
                )


def check_json_depth(path: Path, name: str, limits: Limits) -> None:
    """Refuse JSON nested deeper than ``nesting_depth_max`` (counting a row as 1) before any
    reader sees it: a 10 KB line nested 5,000 deep crashed the Delta writer (exit 139).

    Depth is bracket depth outside strings. Blocks are cut at line ends, so string literals are
    whole and can be blanked by one regex; a block whose bracket count cannot reach the limit is
    passed without a Python-level loop, which keeps ordinary files at C speed.
    """
    depth_max = limits.nesting_depth_max
    depth = 0
    carry = b""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            block = carry + chunk
            cut = block.rfind(b"\n") + 1 if chunk else len(block)
            carry, block = block[cut:], block[:cut]
            if len(carry) > JSON_LINE_BYTES_MAX:
                raise InvalidInput(
                    f"{name} has a line longer than {JSON_LINE_BYTES_MAX >> 20} MiB",
                    hint="JSON Lines holds one record per line; split large records",
                )
            brackets = _JSON_STRING.sub(b"", block).translate(None, _NOT_BRACKETS)
            opens = brackets.count(b"[") + brackets.count(b"{")
            if depth + opens <= depth_max:
                depth += opens - (len(brackets) - opens)
            else:
                for char in brackets:
                    depth += 1 if char in b"[{" else -1
                    if depth > depth_max:
                        raise InvalidInput(
                            f"{name} nests values more than {depth_max} levels deep "
                            "(limits.nesting_depth_max)",
                            hint="flatten the records, or raise the limit "
                            "(GP_LIMIT_NESTING_DEPTH_MAX)",
                        )
            depth = max(depth, 0)  # unbalanced closers are the parser's to report
            if not chunk:
                return


def _too_many_columns(name: str, count: str, limits: Limits, what: str = "columns") -> InvalidInput:
    return InvalidInput(
        f"{name} has {count} {what}; the limit is {limits.columns_max:,} (limits.columns_max)",
        hint="split the columns over several datasets, or raise the limit (GP_LIMIT_COLUMNS_MAX)",
    )


def too_many_columns(
    name: str, count: int, limits: Limits, *, nested: bool = False
) -> InvalidInput:
    """The error for a file with ``count`` columns (or fields, ``nested`` included)."""
    what = "columns and nested fields" if nested else "columns"
    return _too_many_columns(name, f"{count:,}", limits, what)
