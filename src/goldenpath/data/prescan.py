"""One pass over a file's bytes before a reader decodes it: :func:`scan`.

The pass streams the file in 1 MiB chunks with constant memory, decompressing it on the way if
its content says it is compressed, and feeds every chunk to the checks its format needs; it
stops at the first limit broken, so a small hostile file (a gzip bomb, a 20,000-column header,
JSON nested 5,000 deep) is refused in milliseconds instead of costing gigabytes or crashing a
native library. The limits come from :class:`~goldenpath.core.limits.Limits` (issue 11,
point 8). What the bytes cannot tell (a Parquet footer, nested fields) is checked by the reader
(:mod:`goldenpath.data.formats`) and on the schema (:mod:`goldenpath.data.shapes`).

The checks, per format:

- CSV: not UTF-16 (its byte-order mark); at most ``columns_max`` columns in the header line,
  counted outside quotes; at most ``rows_per_upload_max`` lines after it.
- JSON Lines: nesting at most ``nesting_depth_max`` deep (a row is level 1), counted as bracket
  depth outside strings; no line longer than :data:`JSON_LINE_BYTES_MAX`; at most
  ``rows_per_upload_max`` lines.
- compressed input (any format): decoded bytes at most ``decompression_ratio_max`` times the
  file and at most ``decompressed_max_bytes``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits
from goldenpath.data.columns import too_many_columns

CHUNK_BYTES = 1 << 20
# pyarrow's JSON reader refuses a line longer than its block size ("straddling object"); we
# give it this block size and refuse longer lines ourselves, with a clearer message.
JSON_LINE_BYTES_MAX = 16 << 20

# Compression is recognised by content, never by name: a gzip file named .csv is still a bomb.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh", "bz2"))

# A complete JSON string literal (escapes included). JSON strings cannot hold a raw newline,
# so within whole lines every literal is complete and can be blanked before counting brackets.
# Written as an unrolled loop ("normal* (escape normal*)*"): the same language as
# '"(?:[^"\\\n]|\\.)*"', 2.4x faster on JSON Lines (one alternation per string, not per byte).
_JSON_STRING = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_CSV_TOKENS = re.compile(rb'["\n,]')


def scan(path: Path, fmt: str, name: str, limits: Limits, scratch: Path) -> Path:
    """Check ``path`` (read as ``fmt``, named ``name`` in errors) in one pass over its bytes
    and return the file a reader should decode: ``path`` itself, or, when its content is
    compressed, the decompressed copy written under ``scratch`` during the same pass.

    Raises :class:`InvalidInput` at the first limit broken (see the module docstring)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    codec = next((codec for magic, codec in _MAGIC if head.startswith(magic)), None)
    checks = _Checks(fmt, name, limits)
    if codec is None:
        if checks.needed:
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    checks.feed(chunk)
            checks.finish()
        return path
    decoded = scratch / "decoded"
    budget = int(max(path.stat().st_size, 1) * limits.decompression_ratio_max)
    written = 0
    # The whole stream is decoded (within the ratio) before a format check may refuse it, so
    # a bomb is named a bomb whatever else is wrong with its content.
    refused: InvalidInput | None = None
    with (
        pa.CompressedInputStream(pa.OSFile(str(path)), codec) as source,
        open(decoded, "wb") as out,
    ):
        while chunk := source.read(CHUNK_BYTES):
            written += len(chunk)
            # Within the ratio, a large file could still fill the disk it is decompressed to.
            if written > limits.decompressed_max_bytes:
                raise InvalidInput(
                    f"{name} decompresses to more than {limits.decompressed_max_bytes:,} "
                    "bytes (limits.decompressed_max_bytes); refused before decoding",
                    hint="split it into several files, or raise the limit "
                    "(GP_LIMIT_DECOMPRESSED_MAX_BYTES)",
                )
            if written > budget:
                raise InvalidInput(
                    f"{name} expands more than {limits.decompression_ratio_max:g} times "
                    f"when decompressed ({codec}); refused before decoding",
                    hint="upload it uncompressed, or raise limits.decompression_ratio_max "
                    "(GP_LIMIT_DECOMPRESSION_RATIO_MAX)",
                )
            if refused is None:
                try:
                    checks.feed(chunk)
                except InvalidInput as exc:
                    refused = exc
            out.write(chunk)
    if refused is not None:
        raise refused
    checks.finish()
    return decoded


class _Checks:
    """The byte checks of one format, fed the file chunk by chunk, in order."""

    def __init__(self, fmt: str, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        self.needed = fmt in ("csv", "jsonl")  # Parquet is checked by its footer
        self._csv = fmt == "csv"
        self._json = fmt == "jsonl"
        # Lines: a line count bounds the rows from above for one bytes.count per chunk, so the
        # rows limit holds before a single value is decoded.
        self._lines_allowed = limits.rows_per_upload_max + (1 if self._csv else 0)
        self._lines = 0
        self._last = b"\n"
        self._too_many_lines = False  # JSON: said once the depth of every line is known
        # CSV header: until its first unquoted newline.
        self._started = False
        self._in_header = self._csv
        self._columns = 1
        self._quoted = False
        self._header_bytes = 0
        # A header longer than this cannot be columns_max names of column_name_chars_max
        # characters.
        self._header_bytes_max = limits.columns_max * (4 * limits.column_name_chars_max + 3)
        # JSON depth: blocks are cut at line ends; the rest of a line waits in the carry.
        self._depth = 0
        self._carry = b""

    def feed(self, chunk: bytes) -> None:
        if not self._started:
            self._started = True
            if self._csv and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise InvalidInput(
                    f"{self.name} is UTF-16 text, not UTF-8 text",
                    hint="re-encode the file as UTF-8 (e.g. iconv -f utf-16 -t utf-8)",
                )
        if self._in_header:
            self._header(chunk)
        if self._json:
            self._nesting(chunk)
        self._count_lines(chunk)

    def finish(self) -> None:
        """The end of the file: the checks that need all of it; raises like :meth:`feed`."""
        if self._json:
            self._nesting(b"")
        self._lines += 0 if self._last == b"\n" else 1
        self._check_lines(final=True)

    def _count_lines(self, chunk: bytes) -> None:
        if self._too_many_lines:
            return
        self._lines += chunk.count(b"\n")
        self._last = chunk[-1:]
        self._check_lines(final=False)

    def _check_lines(self, *, final: bool) -> None:
        self._too_many_lines = self._too_many_lines or self._lines > self._lines_allowed
        # A JSON file too deep is named too deep even if it also has too many lines.
        if self._too_many_lines and (final or not self._json):
            raise InvalidInput(
                f"{self.name} has more than {self.limits.rows_per_upload_max:,} rows "
                f"(limits.rows_per_upload_max); refused before decoding",
                hint="split it into several appends, or raise the limit "
                "(GP_LIMIT_ROWS_PER_UPLOAD_MAX)",
            )

    def _header(self, chunk: bytes) -> None:
        """Count the header's columns, reading no further than its end (a 170 KB CSV of
        20,000 columns took 570 s and 3.4 GB to ingest)."""
        for token in _CSV_TOKENS.finditer(chunk):
            char = token.group()
            if char == b'"':
                self._quoted = not self._quoted  # "" inside quotes toggles twice: still quoted
            elif self._quoted:
                continue
            elif char == b",":
                self._columns += 1
                if self._columns > self.limits.columns_max:
                    raise too_many_columns(
                        self.name, f"more than {self._columns - 1:,}", self.limits
                    )
            else:
                self._in_header = False
                return
        self._header_bytes += len(chunk)
        if self._header_bytes > self._header_bytes_max:
            raise InvalidInput(
                f"{self.name}: the header line is longer than {self._header_bytes_max:,} bytes",
                hint="check the file is a CSV with one header line",
            )

    def _nesting(self, chunk: bytes) -> None:
        """Refuse JSON nested deeper than ``nesting_depth_max`` before any reader sees it: a
        10 KB line nested 5,000 deep crashed the Delta writer (exit 139). ``b""`` ends the
        file (the last line need not end with a newline).

        String literals are whole within whole lines and are blanked by one regex; a block
        whose bracket count cannot reach the limit is passed without a Python-level loop,
        which keeps ordinary files at C speed."""
        depth_max = self.limits.nesting_depth_max
        block = self._carry + chunk
        cut = block.rfind(b"\n") + 1 if chunk else len(block)
        self._carry, block = block[cut:], block[:cut]
        if len(self._carry) > JSON_LINE_BYTES_MAX:
            raise InvalidInput(
                f"{self.name} has a line longer than {JSON_LINE_BYTES_MAX >> 20} MiB",
                hint="JSON Lines holds one record per line; split large records",
            )
        brackets = _JSON_STRING.sub(b"", block).translate(None, _NOT_BRACKETS)
        opens = brackets.count(b"[") + brackets.count(b"{")
        if self._depth + opens <= depth_max:
            self._depth += opens - (len(brackets) - opens)
        else:
            for char in brackets:
                self._depth += 1 if char in b"[{" else -1
                if self._depth > depth_max:
                    raise InvalidInput(
                        f"{self.name} nests values more than {depth_max} levels deep "
                        "(limits.nesting_depth_max)",
                        hint="flatten the records, or raise the limit (GP_LIMIT_NESTING_DEPTH_MAX)",
                    )
        self._depth = max(self._depth, 0)  # unbalanced closers are the parser's to report
