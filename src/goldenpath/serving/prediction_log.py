"""The prediction log: every served prediction, written off the request path (issue 15).

Two stages, so that one process only (the supervisor) ever writes the Delta table, while the
inference server, which may be restarted and briefly overlaps its successor during a version
swap, only writes files of its own:

1. In the server, :class:`PredictionLog`. ``submit`` encodes the record as one JSON line
   (orjson, ~1 µs) and appends it to a bounded in-memory queue: no lock, no I/O, no
   validation. When the queue is full the record is dropped and counted (``dropped``, and
   ``on_drop`` for the server's metric); a request never waits for the log. One daemon
   thread takes the waiting lines every ``flush_seconds`` (sooner when ``batch_max`` wait)
   and writes each batch as one JSON Lines file, ``<ULID of the batch>.ndjson`` in the spool
   directory: under a temporary name, fsynced, then renamed (``core/atomic.py``), so no reader
   ever sees part of a file. The thread only joins bytes and makes system calls: building
   Arrow tables there (the first design) held the interpreter lock ~2.4 ms per 1,000 records
   and cost the server a third of its throughput (docs/architecture.md, "Serving"). What a
   crash loses: a killed server loses what was still queued (about ``flush_seconds``).
2. In the supervisor, :func:`flush_spool` appends the complete spool files, oldest first, to
   the Delta table in one commit, then deletes them. A record that does not fit
   :data:`SCHEMA` is never dropped silently: it goes to ``<spool>.dead-letter/<batch>`` with
   the reason, and a spool file that cannot be read at all is moved there as it was
   (``<batch>.unreadable``, counted as one; :func:`dead_letter_count` feeds ``/metrics`` and
   ``gp deployments status``).

Why a flush never appends a batch twice. A crash between the Delta commit and the deletes
leaves committed batches in the spool. Delta *application transactions* record a number per
application atomically with a commit: deltalake 1.6 writes them with
``CommitProperties(app_transactions=[Transaction(app_id, version)])`` and reads the newest back
with ``DeltaTable.transaction_version(app_id)``. Flushes number their commits 1, 2, 3, ...
under :data:`APP_ID`. Before commit N, the flush writes an intent file naming N and the
batches it takes (fsynced); after the commit it deletes the batches, then the intent. A flush
that finds an intent left behind asks the table for its transaction version: if it has
reached N the batches are in the table and are only deleted, otherwise commit N never
happened and they are flushed again. That costs one small file and one number read from the
Delta log per flush, and holds whatever else commits to the table (an OPTIMIZE, a vacuum).
Two alternatives were rejected. Keeping the highest flushed batch ULID as the version is
wrong when two servers overlap: a batch named earlier can be renamed into the spool after a
later one was flushed, and would be skipped as already written. A batch-id column costs a
column in every row and a scan to check it.

The table is partitioned by the hour of the request id (a ULID begins with its timestamp in
milliseconds), e.g. ``2026-12-01T20``: :class:`PredictionLogReader` finds one prediction by
reading the one partition its id names, and the newest by reading files newest first (by the
largest request id Delta records for each file) until no older file can change the answer.
Every read goes through Arrow's native file system, never deltalake's Python one (see
docs/architecture.md, "Clean exits"). Storage is local only, like datasets.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from goldenpath.core import faults
from goldenpath.core.atomic import fsync_dir, write_atomically
from goldenpath.core.errors import Conflict, InvalidInput
from goldenpath.core.ids import new_id
from goldenpath.core.locks import file_lock
from goldenpath.serving.spec import UNREADABLE_SUFFIX, dead_letter_count, dead_letter_dir

__all__ = ["dead_letter_count", "dead_letter_dir"]  # re-exported: the spec module is lighter

if TYPE_CHECKING:
    from deltalake import DeltaTable

log = logging.getLogger("goldenpath.serving")

SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),  # a ULID: its timestamp names the partition
        ("time", pa.timestamp("us", tz="UTC")),
        ("partition", pa.string()),  # the request id's hour, "2026-12-01T20"
        ("deployment", pa.string()),
        ("model", pa.string()),
        ("model_version", pa.int64()),
        ("role", pa.string()),  # one of ROLES
        ("returned", pa.bool_()),  # false for shadow scores
        ("entities", pa.string()),  # JSON object
        ("request", pa.string()),  # JSON object of the request fields
        ("features", pa.string()),  # JSON: name -> {"value", "status", "age_seconds", "source"}
        ("contract_passed", pa.bool_()),
        ("contract", pa.string()),  # JSON list of failed checks
        ("output", pa.string()),  # JSON
        ("latency_ms", pa.float64()),
        ("status", pa.int32()),  # HTTP status of the answer
    ]
)
"""The columns of the prediction table (and of every spool file), in order."""

PARTITION = "partition"
_FILE_SCHEMA = pa.schema([f for f in SCHEMA if f.name != PARTITION])
"""A data file's columns: Delta keeps the partition value in its log, not in the file."""
RECORD_KEYS = tuple(name for name in SCHEMA.names if name != PARTITION)
"""What :meth:`PredictionLog.submit` takes: every column but ``partition`` (computed)."""
JSON_COLUMNS = ("entities", "request", "features", "contract", "output")
PRIMARY, CANARY, SHADOW = "primary", "canary", "shadow"
ROLES = frozenset({PRIMARY, CANARY, SHADOW})
"""The roles a prediction is logged with: the one definition the server writes (through
:mod:`goldenpath.serving.traffic`) and the flush accepts. ``primary`` and ``canary`` answered
the client (``returned``), ``shadow`` never did."""
APP_ID = "gp-prediction-log"
"""The Delta application id under which flushes number their commits."""
INTENT = ".flush-intent.json"
LOCK = ".flush.lock"
FLUSH_FILES_MAX = 500  # spool files per Delta commit: bounds a flush's memory after a backlog
STALE_TEMP_SECONDS = 3600.0  # a temporary spool file this old was left by a killed writer
TAIL_LIMIT_MAX = 10_000

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_BASE32 = str.maketrans(_CROCKFORD, "0123456789ABCDEFGHIJKLMNOPQRSTUV")
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
SPOOL_SUFFIX = ".ndjson"
_BATCH = re.compile(r"([0-7][0-9A-HJKMNP-TV-Z]{25})\.ndjson")
_TEMP = re.compile(r"\.[0-7][0-9A-HJKMNP-TV-Z]{25}\.ndjson\..+\.tmp")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HOUR_MS = 3_600_000


# -- request ids and partitions ---------------------------------------------------------------


def check_request_id(value: object) -> str:
    """``value`` as a request id (upper case), or :class:`InvalidInput` naming it."""
    text = value.upper() if isinstance(value, str) else ""
    if not _ULID.fullmatch(text):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:50] + "..."
        raise InvalidInput(
            f"{shown} is not a request id: a request id is a ULID, 26 characters of Crockford "
            "base32 (0-9 and A-Z without I, L, O, U)",
            hint="copy it from the response's request id or from `gp predictions tail NAME`",
        )
    return text


def ulid_milliseconds(request_id: str) -> int:
    """The timestamp a valid ULID begins with, in milliseconds since the epoch."""
    return int(request_id[:10].translate(_TO_BASE32), 32)


@lru_cache(maxsize=64)
def _hour_name(hour: int) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(hour * 3600))


def partition_of(request_id: str) -> str:
    """The partition of a valid request id: the UTC hour of its timestamp, "2026-12-01T20"."""
    return _hour_name(ulid_milliseconds(request_id) // _HOUR_MS)


def ulid_floor(moment: datetime) -> str:
    """The smallest ULID of ``moment``'s millisecond: ids at or after it compare >= to it."""
    ms = (moment - _EPOCH) // timedelta(milliseconds=1)
    digits = []
    for _ in range(10):
        ms, digit = divmod(ms, 32)
        digits.append(_CROCKFORD[digit])
    return "".join(reversed(digits)) + "0" * 16


def _partition_end(partition: str) -> str:
    """A ULID greater than every request id of ``partition``: the first of the next hour."""
    start = datetime.strptime(partition, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return ulid_floor(start + timedelta(hours=1))


# -- building batches (in the writer thread) ---------------------------------------------------


def _partition_checked(request_id: object) -> str:
    if type(request_id) is not str or not _ULID.fullmatch(request_id):
        raise ValueError(f"request_id {request_id!r} is not a ULID")
    return partition_of(request_id)


def _micros(value: object) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str):  # an aware datetime, as JSON wrote it
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return (value - _EPOCH) // _MICROSECOND
    raise ValueError(f"time {value!r} is neither epoch microseconds nor a timezone-aware datetime")


def _table(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The records as one table in :data:`SCHEMA`; raises on the first bad record."""
    ids = [r["request_id"] for r in records]
    arrays = [
        pa.array(ids, pa.string()),
        pa.array([_micros(r["time"]) for r in records], SCHEMA.field("time").type),
        pa.array([_partition_checked(i) for i in ids], pa.string()),
    ]
    for field in SCHEMA:
        if field.name in ("request_id", "time", PARTITION):
            continue
        values = [r[field.name] for r in records]
        if field.name == "role" and not set(values) <= ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}, not {values!r}"[:200])
        arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def build_batch(records: Sequence[Mapping[str, Any]]) -> tuple[pa.Table, list[str]]:
    """The valid records as one table, and why each invalid one was left out.

    A record must have every key of :data:`RECORD_KEYS` with a value of its column's type (or
    None, except ``request_id``, a ULID, and ``time``: epoch microseconds or an aware
    datetime). The fast path converts whole columns; only a batch that fails is checked record
    by record, so one bad record costs its own row, not the batch.
    """
    table, rejected = _build(records)
    return table, [reason for _, reason in rejected]


def _build(records: Sequence[Mapping[str, Any]]) -> tuple[pa.Table, list[tuple[int, str]]]:
    """:func:`build_batch`, naming each invalid record by its position."""
    try:
        return _table(records), []
    except (KeyError, TypeError, ValueError, pa.ArrowException):
        pass
    good: list[Mapping[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    for index, record in enumerate(records):
        try:
            _table([record])
        except KeyError as exc:
            rejected.append((index, f"missing key {exc}"))
        except (TypeError, ValueError, pa.ArrowException) as exc:
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            rejected.append((index, reason))
        else:
            good.append(record)
    return (_table(good) if good else SCHEMA.empty_table()), rejected


# -- stage 1: the server's queue and writer thread ---------------------------------------------


class PredictionLog:
    """A bounded queue of prediction records and the thread that spools them to files.

    Counters (ints, read them any time): ``dropped`` records refused because the queue was
    full or the log closed; ``invalid`` records left out because they did not fit
    :data:`SCHEMA` (a programming error: the first is logged); ``failed`` records lost because
    their spool file could not be written (logged); ``written`` records spooled.
    """

    def __init__(
        self,
        spool_dir: Path,
        *,
        queue_max: int = 10_000,
        batch_max: int = 1_000,
        flush_seconds: float = 0.5,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        if queue_max < 1 or batch_max < 1 or not flush_seconds > 0:
            raise ValueError("queue_max and batch_max must be >= 1, flush_seconds > 0")
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dropped = 0
        self.invalid = 0
        self.failed = 0
        self.written = 0
        self._queue: collections.deque[bytes] = collections.deque()
        self._limit = queue_max  # 0 once closed: every later submit is dropped
        self._batch_max = batch_max
        self._flush_seconds = flush_seconds
        self._on_drop = on_drop
        self._drop_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="gp-prediction-log", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Records waiting to be spooled."""
        return len(self._queue)

    def invalid_total(self) -> int:
        """Records never appended for being invalid: refused here (JSON cannot hold them) and
        dead-lettered by the supervisor's flush (:func:`dead_letter_count`)."""
        return self.invalid + dead_letter_count(self.spool_dir)

    def submit(self, record: Mapping[str, Any]) -> bool:
        """Queue ``record`` (see :func:`build_batch` for its keys); False if it was dropped.

        Never blocks and never raises: a full queue drops the record and counts it. The record
        is not copied or checked here: do not change it after submitting it.
        """
        queue = self._queue
        waiting = len(queue)
        if waiting < self._limit:
            try:
                line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
            except TypeError as exc:  # a value JSON cannot hold: a programming error
                if not self.invalid:
                    log.error("prediction log: left out a record JSON cannot hold: %s", exc)
                self.invalid += 1
                return False
            queue.append(line)
            if waiting + 1 >= self._batch_max and not self._wake.is_set():
                self._wake.set()
            return True
        with self._drop_lock:  # += is not atomic between threads
            self.dropped += 1
        if self._on_drop is not None:
            try:
                self._on_drop()
            except Exception:  # a metrics callback must not fail a request
                log.exception("prediction log: on_drop failed")
        return False

    def close(self, timeout: float = 5.0) -> bool:
        """Spool everything queued and stop the thread; True if nothing was left unwritten.

        Call it after the in-flight requests have finished: later submits are dropped.
        """
        self._limit = 0
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self._drain()  # a submit that raced with the thread's last drain
        return not self._queue

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            stopping = self._stopping
            self._drain()
            if stopping:
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(len(queue), self._batch_max))]
            self._write(batch)

    def _write(self, lines: list[bytes]) -> None:
        """Spool one batch of JSON lines; never raises (the thread outlives a failed write).
        Records are checked against :data:`SCHEMA` when the supervisor reads the file."""
        try:
            path = self.spool_dir / f"{new_id()}{SPOOL_SUFFIX}"
            write_atomically(path, b"".join(lines), mode=0o600)
        except Exception:
            self.failed += len(lines)
            log.exception("prediction log: could not spool %d predictions", len(lines))
            return
        self.written += len(lines)


# -- stage 2: the supervisor's flush -----------------------------------------------------------


def _local(table_uri: str) -> str:
    """The table's absolute local path; other schemes are refused (local storage only)."""
    if table_uri.startswith("file://"):
        table_uri = table_uri[len("file://") :]
    elif "://" in table_uri:
        raise InvalidInput(
            f"prediction log table {table_uri!r} is not a local path: the prediction log "
            "supports local storage only",
            hint="set the workspace storage to a local directory",
        )
    return os.path.abspath(table_uri)


def _native(location: str) -> pafs.FileSystem:
    return pafs.SubTreeFileSystem(location, pafs.LocalFileSystem())


def _open_table(location: str) -> DeltaTable | None:
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(location):
        return None
    return DeltaTable(location)


_READ_TABLES: dict[str, tuple[DeltaTable, threading.Lock]] = {}
_READ_TABLES_LOCK = threading.Lock()
_READ_TABLES_MAX = 256


def _uri_path(uri: str) -> str:
    """The local path of a file Delta names by URI (``file://`` or not, percent-encoded: a
    workspace path with a space reads ``gp%20home``)."""
    from urllib.parse import unquote

    return unquote(uri.removeprefix("file://"))


@contextlib.contextmanager
def _current_table(location: str) -> Iterator[DeltaTable | None]:
    """The table at ``location`` brought up to its newest commit, for reading, or None.

    Kept open per process and brought up to date incrementally (only the commits since the
    last read are read): opening a log of hundreds of flush commits costs ~15 ms, most of a
    lookup by request id (benchmarks/lineage.py). Held under a lock per table while in use
    (a DeltaTable is not shared between threads mid-update)."""
    from deltalake import DeltaTable

    if not os.path.isdir(os.path.join(location, "_delta_log")):
        yield None
        return
    with _READ_TABLES_LOCK:
        cached = _READ_TABLES.get(location)
    if cached is None:
        table = DeltaTable(location)
        with _READ_TABLES_LOCK:
            if len(_READ_TABLES) >= _READ_TABLES_MAX:
                _READ_TABLES.clear()
            cached = _READ_TABLES.setdefault(location, (table, threading.Lock()))
        fresh = cached[0] is table
    else:
        fresh = False
    table, lock = cached
    with lock:
        if not fresh:
            try:
                table.update_incremental()
            except Exception:  # the log was replaced (a table removed and made again)
                table = DeltaTable(location)
                with _READ_TABLES_LOCK:
                    _READ_TABLES[location] = (table, lock)
        yield table


def _transaction_version(location: str) -> int:
    table = _open_table(location)
    version = table.transaction_version(APP_ID) if table is not None else None
    return int(version) if version is not None else 0


@contextlib.contextmanager
def _flush_lock(spool_dir: Path) -> Iterator[None]:
    """One flush at a time per spool (two would number their commits alike)."""
    with file_lock(spool_dir / LOCK):
        yield


def spool_files(spool_dir: Path) -> list[Path]:
    """The complete spool files, oldest batch first."""
    try:
        names = [entry.name for entry in os.scandir(spool_dir) if _BATCH.fullmatch(entry.name)]
    except FileNotFoundError:
        return []
    return [spool_dir / name for name in sorted(names)]


def read_spool_file(path: Path) -> pa.Table:
    """One spool file's valid records as a table in :data:`SCHEMA` (see :func:`read_spool`)."""
    return read_spool(path)[0]


def read_spool(path: Path) -> tuple[pa.Table, list[str]]:
    """One spool file: its valid records as a table in :data:`SCHEMA`, and why each invalid
    one (a line that is not a JSON object, a missing key, a value of the wrong type) was left
    out. A file that cannot be read raises :class:`OSError`."""
    table, rejected = _read_spool(path)
    return table, [reason for _, reason in rejected]


def _read_spool(path: Path) -> tuple[pa.Table, list[tuple[bytes, str]]]:
    """:func:`read_spool`, with each invalid record's line as it was spooled."""
    records: list[Mapping[str, Any]] = []
    kept: list[bytes] = []
    rejected: list[tuple[bytes, str]] = []
    for line in path.read_bytes().splitlines():
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            rejected.append((line, "a line is not JSON"))
            continue
        if isinstance(value, dict):
            for column in JSON_COLUMNS:  # given as values: held as JSON text
                found = value.get(column)
                if found is not None and not isinstance(found, str):
                    value[column] = orjson.dumps(found).decode()
            records.append(value)
            kept.append(line)
        else:
            rejected.append((line, "a line is not a JSON object"))
    table, invalid = _build(records)
    return table, rejected + [(kept[index], reason) for index, reason in invalid]


# -- the dead letters: records a flush could not append ----------------------------------------


def _write_dead_letters(spool_dir: Path, batch: str, rejected: list[tuple[bytes, str]]) -> None:
    """One file per spool batch, named like it, one JSON line per invalid record (the batch,
    why, and the line as spooled). Written atomically under the batch's name before the flush
    commits, so a flush rerun after a crash rewrites the same file: never a record twice."""
    folder = dead_letter_dir(spool_dir)
    folder.mkdir(mode=0o700, exist_ok=True)
    lines = b"".join(
        orjson.dumps(
            {
                "batch": batch,
                "reason": reason,
                "record": line.decode("utf-8", "backslashreplace"),
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        for line, reason in rejected
    )
    write_atomically(folder / batch, lines, mode=0o600)
    fsync_dir(folder)


def dead_letters(spool_dir: Path) -> list[dict[str, Any]]:
    """Every dead-lettered record: ``batch``, ``reason`` and ``record`` (the spooled line);
    an unreadable spool file is one entry with ``record`` None and ``file``, where it is."""
    found: list[dict[str, Any]] = []
    folder = dead_letter_dir(spool_dir)
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if _BATCH.fullmatch(path.name):
            found.extend(orjson.loads(line) for line in path.read_bytes().splitlines())
        elif path.name.endswith(UNREADABLE_SUFFIX) and _BATCH.fullmatch(
            batch := path.name.removesuffix(UNREADABLE_SUFFIX)
        ):
            found.append(
                {
                    "batch": batch,
                    "reason": "the spool file could not be read (the supervisor's log says "
                    "why); moved here as it was",
                    "record": None,
                    "file": str(path),
                }
            )
    return found


def _finish(spool_dir: Path, names: Sequence[str]) -> None:
    """Delete flushed batches, then the intent that names them (in that order, durably: an
    intent deleted first would leave batches that the next flush appends again)."""
    for name in names:
        (spool_dir / name).unlink(missing_ok=True)
    fsync_dir(spool_dir)
    faults.reach("prediction_log.finish.after-batches")
    (spool_dir / INTENT).unlink(missing_ok=True)
    fsync_dir(spool_dir)


def _recover(spool_dir: Path, location: str) -> None:
    """Finish or forget the flush a crash interrupted (see the module docstring)."""
    intent = spool_dir / INTENT
    try:
        text = intent.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    try:
        data = json.loads(text)
        version, names = int(data["version"]), [str(n) for n in data["batches"]]
    except (ValueError, KeyError, TypeError):
        raise Conflict(
            f"the prediction log's flush intent {intent} cannot be read, so it is unknown "
            "whether the batches it names are in the table",
            hint="compare its batches with the table, delete those already there, then the file",
        ) from None
    if _transaction_version(location) >= version:
        log.info(
            "prediction log: flush %d was committed; deleting its %d files", version, len(names)
        )
        _finish(spool_dir, names)
    else:
        intent.unlink()
        fsync_dir(spool_dir)


def _remove_stale_temp(spool_dir: Path) -> None:
    cutoff = time.time() - STALE_TEMP_SECONDS
    with os.scandir(spool_dir) as entries:
        for entry in entries:
            if _TEMP.fullmatch(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)


def _set_aside(spool_dir: Path, path: Path, exc: Exception) -> None:
    """Move an unreadable spool file into the dead letters as it was, in one rename (counted
    from then on, never half-moved), so that later flushes stop trying it."""
    folder = dead_letter_dir(spool_dir)
    target = folder / (path.name + UNREADABLE_SUFFIX)
    log.error(
        "prediction log: spool file %s is unreadable (%s); its records are not appended, "
        "moved as it was to %s",
        path,
        exc,
        target,
    )
    folder.mkdir(mode=0o700, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.rename(target)
    fsync_dir(folder)
    fsync_dir(spool_dir)


def _flush_batches(spool_dir: Path, location: str, paths: list[Path]) -> int:
    from deltalake import CommitProperties, Transaction, write_deltalake

    tables: list[pa.Table] = []
    names: list[str] = []
    for path in paths:
        try:
            table, rejected = _read_spool(path)
        except (OSError, ValueError, pa.ArrowException) as exc:
            _set_aside(spool_dir, path, exc)
            continue
        if rejected:
            _write_dead_letters(spool_dir, path.name, rejected)
            log.error(
                "prediction log: %s: left out %d invalid record(s), kept in %s; the first: %s",
                path.name,
                len(rejected),
                dead_letter_dir(spool_dir) / path.name,
                rejected[0][1],
            )
        tables.append(table)
        names.append(path.name)
    if not names:
        return 0
    data = pa.concat_tables(tables)
    version = _transaction_version(location) + 1
    write_atomically(
        spool_dir / INTENT,
        json.dumps({"version": version, "batches": names}).encode(),
        mode=0o600,
    )
    fsync_dir(spool_dir)
    faults.reach("prediction_log.flush.before-commit")
    write_deltalake(
        location,
        data,
        mode="append",
        partition_by=[PARTITION],
        commit_properties=CommitProperties(app_transactions=[Transaction(APP_ID, version)]),
    )
    faults.reach("prediction_log.flush.after-commit")
    _finish(spool_dir, names)
    return int(data.num_rows)


def flush_spool(spool_dir: Path, table_uri: str) -> int:
    """Append every complete spool file to the Delta table at ``table_uri``, then delete them.

    Oldest first, up to :data:`FLUSH_FILES_MAX` files per commit; returns the rows written.
    Safe to rerun after a crash at any point (nothing is appended twice), and safe to call
    while servers keep spooling (files renamed in meanwhile wait for the next flush). An
    unreadable spool file is moved into the dead letters and logged; the others are flushed.
    """
    spool_dir = Path(spool_dir)
    location = _local(table_uri)
    if not spool_dir.is_dir():
        return 0
    written = 0
    with _flush_lock(spool_dir):
        _recover(spool_dir, location)
        _remove_stale_temp(spool_dir)
        while True:
            paths = spool_files(spool_dir)[:FLUSH_FILES_MAX]
            if not paths:
                return written
            written += _flush_batches(spool_dir, location, paths)
            if len(paths) < FLUSH_FILES_MAX:
                return written


# -- reading ----------------------------------------------------------------------------------


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts, JSON columns parsed, without the partition column."""
    if PARTITION in table.column_names:
        table = table.drop_columns([PARTITION])
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        for name in JSON_COLUMNS:
            text = row.get(name)
            if isinstance(text, str):
                with contextlib.suppress(ValueError):
                    row[name] = json.loads(text)
    return rows


class PredictionLogReader:
    """Reads predictions from the Delta table and the spool files not flushed yet.

    The spool is read before the table: a batch flushed in between is then found in the
    table, never missed (a file is deleted only after its commit).
    """

    def __init__(self, table_uri: str, spool_dir: Path | None = None) -> None:
        self._location = _local(table_uri)
        self._spool = Path(spool_dir) if spool_dir is not None else None

    def _spool_tables(self) -> Iterator[pa.Table]:
        """The spool files, newest first; files flushed or unreadable meanwhile are skipped."""
        if self._spool is None:
            return
        for path in reversed(spool_files(self._spool)):
            try:
                yield read_spool_file(path)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, pa.ArrowException) as exc:
                log.warning("prediction log: skipping unreadable spool file %s: %s", path, exc)

    def get(self, request_id: str) -> dict[str, Any] | None:
        """The prediction ``request_id``, or None; reads only the partition its id names."""
        wanted = check_request_id(request_id)
        for table in self._spool_tables():
            hit = table.filter(pc.equal(table["request_id"], wanted))
            if hit.num_rows:
                return _rows(hit.slice(0, 1))[0]
        with _current_table(self._location) as delta:
            if delta is None:
                return None
            # Only the files of the id's hour whose request id range (Delta's file statistics)
            # holds it: building a dataset of the whole table costs ~0.05 ms per file.
            paths = delta.file_uris(
                file_pruning_predicate=[
                    (PARTITION, "=", partition_of(wanted)),
                    ("request_id", "=", wanted),
                ]
            )
        if not paths:
            return None
        import pyarrow.dataset as pads

        dataset = pads.dataset(
            [os.path.relpath(_uri_path(p), self._location) for p in paths],
            schema=_FILE_SCHEMA,
            format="parquet",
            filesystem=_native(self._location),
        )
        hit = dataset.to_table(filter=pc.field("request_id") == wanted)
        return _rows(hit.slice(0, 1))[0] if hit.num_rows else None

    def count(
        self,
        *,
        models: set[tuple[str, int]] | None,
        values_from: Sequence[tuple[str, str]] = (),
    ) -> dict[str, int]:
        """How many logged predictions were ``scored`` by one of ``models`` (``(model,
        version)`` pairs; None: every prediction), and how many were served a feature value
        from one of ``values_from`` (``("dataset", "transactions@3")`` or ``("view",
        "user_tx@1")``: the origins a feature entry records). One pass over four columns of
        the whole log (batch by batch); spooled records flushed meanwhile are counted once."""
        import re as regex

        patterns = []
        for kind, ref in values_from:
            quoted = regex.escape(json.dumps(ref))
            if kind == "dataset":
                patterns.append(r'"dataset_versions":\[[^\]]*' + quoted)
            else:
                patterns.append(r'"source":' + quoted)
        pattern = "|".join(f"(?:{p})" for p in patterns) if patterns else None
        totals = {"scored": 0, "served_values": 0}

        def add(batch: pa.Table | pa.RecordBatch) -> None:
            if batch.num_rows == 0:
                return
            if models is None:
                totals["scored"] += batch.num_rows
            elif models:
                hit = None
                for model, version in models:
                    one = pc.and_(
                        pc.equal(batch["model"], model), pc.equal(batch["model_version"], version)
                    )
                    hit = one if hit is None else pc.or_(hit, one)
                totals["scored"] += int(
                    pc.sum(pc.fill_null(hit, False).cast(pa.int64())).as_py() or 0
                )
            if pattern is not None:
                served = pc.match_substring_regex(batch["features"], pattern)
                totals["served_values"] += int(
                    pc.sum(pc.fill_null(served, False).cast(pa.int64())).as_py() or 0
                )

        columns = ["request_id", "model", "model_version", "features"]
        spooled: list[str] = []
        for table in self._spool_tables():
            add(table.select(columns))
            spooled.extend(table.column("request_id").to_pylist())
        delta = _open_table(self._location)
        if delta is None:
            return totals
        dataset = delta.to_pyarrow_dataset(filesystem=_native(self._location))
        row_filter = ~pc.field("request_id").isin(spooled) if spooled else None
        for batch in dataset.to_batches(columns=columns, filter=row_filter):
            add(batch)
        return totals

    def tail(self, limit: int = 20, *, since: datetime | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` predictions (by request id, i.e. arrival), newest first.

        ``since`` (timezone-aware) keeps predictions whose request id was made at or after it.
        """
        if not 1 <= limit <= TAIL_LIMIT_MAX:
            raise InvalidInput(
                f"limit {limit} is out of range: tail shows 1 to {TAIL_LIMIT_MAX} predictions"
            )
        if since is not None and since.utcoffset() is None:
            raise InvalidInput(
                f"since {since.isoformat()} has no time zone",
                hint="give a time zone, e.g. 2026-12-01T20:00:00Z",
            )
        floor = ulid_floor(since) if since is not None else None
        found: list[pa.Table] = [
            t if floor is None else t.filter(pc.greater_equal(t["request_id"], floor))
            for t in self._spool_tables()
        ]
        found.extend(self._table_tail(limit, floor))
        if not found:
            return []
        merged = pa.concat_tables([t.select(SCHEMA.names).cast(SCHEMA) for t in found])
        order = pc.sort_indices(merged, [("request_id", "descending")])
        ids = merged.column("request_id").take(order).to_pylist()
        keep: list[int] = []
        for position, rid in enumerate(ids):  # a batch flushed while we read appears twice
            if not position or rid != ids[position - 1]:
                keep.append(position)
                if len(keep) == limit:
                    break
        return _rows(merged.take(order.take(pa.array(keep, pa.int64()))))

    def _table_tail(self, limit: int, floor: str | None) -> list[pa.Table]:
        """The table's newest rows, at most ``limit``: files are ranked by the largest request
        id Delta's statistics record for each (or, without statistics, the end of its hour);
        their request ids are read, newest file first, until ``limit`` ids are newer than
        anything the next file can hold; then only those rows are read in full."""
        delta = _open_table(self._location)
        if delta is None:
            return []
        actions = pa.table(delta.get_add_actions(flatten=True))
        paths = actions.column("path").to_pylist()
        hours = actions.column(f"{PARTITION}.{PARTITION}").to_pylist()
        maxima = (
            actions.column("max.request_id").to_pylist()
            if "max.request_id" in actions.column_names
            else [None] * len(paths)
        )
        files = sorted(
            (
                (largest or _partition_end(hour), str(path))
                for path, hour, largest in zip(paths, hours, maxima, strict=True)
            ),
            reverse=True,
        )
        dataset = delta.to_pyarrow_dataset(filesystem=_native(self._location))
        fragments = {str(f.path): f for f in dataset.get_fragments()}
        row_filter = pc.field("request_id") >= floor if floor is not None else None
        read: list[Any] = []
        ids: list[str] = []
        for index, (bound, path) in enumerate(files):
            if floor is not None and bound < floor:
                break  # this file and every later one hold older predictions only
            read.append(fragments[path])
            column = fragments[path].to_table(columns=["request_id"], filter=row_filter)
            ids.extend(column.column("request_id").to_pylist())
            if len(ids) >= limit and index + 1 < len(files):
                ids.sort(reverse=True)
                del ids[limit:]
                if ids[-1] > files[index + 1][0]:
                    break
        if not ids:
            return []
        newest = pc.field("request_id").isin(sorted(ids, reverse=True)[:limit])
        return [fragment.to_table(schema=dataset.schema, filter=newest) for fragment in read]
