"""One window of a deployment's prediction log, read by its hour partitions only.

The Delta table is partitioned by the hour of each request id (``serving/prediction_log.py``):
a window ``[start, end)`` reads the files of the hours it covers (pruned by Delta's partition
values before any file is opened), filtered to the request ids made within it, and at most
``limits.monitor_window_rows_max`` rows: past that the read stops and the window says
``capped`` (its figures describe the rows read). Spool files not flushed yet (a few seconds of
traffic) are read first, as the log's reader does, so a batch flushed meanwhile is found in
the table; a request id seen twice is kept once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from goldenpath.serving import prediction_log as plog

COLUMNS = (
    "request_id",
    "model_version",
    "role",
    "features",
    "request",
    "output",
    "contract_passed",
    "latency_ms",
    "status",
)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    rows: pa.Table  # COLUMNS
    partitions: tuple[str, ...]  # the hour partitions the window covers
    files_read: int  # table files opened (the pruned ones only)
    capped: bool  # the row bound stopped the read


def hours(start: datetime, end: datetime) -> list[str]:
    """The hour partitions ``[start, end)`` touches, oldest first."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    found = []
    while hour < end:
        found.append(hour.strftime("%Y-%m-%dT%H"))
        hour += timedelta(hours=1)
    return found


def read_window(
    table_uri: str, spool_dir: Path | None, start: datetime, end: datetime, rows_max: int
) -> Window:
    """The predictions whose request ids were made in ``[start, end)`` (aware datetimes)."""
    low, high = plog.ulid_floor(start), plog.ulid_floor(end)
    partitions = hours(start, end)
    found: list[pa.Table] = []
    total = 0
    capped = False
    if spool_dir is not None:
        for path in plog.spool_files(spool_dir):
            try:
                table = plog.read_spool_file(path)
            except FileNotFoundError:  # flushed meanwhile: the table has it
                continue
            except (OSError, ValueError, pa.ArrowException):
                continue  # the flush dead-letters it; the log's reader says so
            ids = table["request_id"]
            table = table.filter(pc.and_(pc.greater_equal(ids, low), pc.less(ids, high)))
            if table.num_rows:
                if table.num_rows >= rows_max - total:
                    table, capped = table.slice(0, rows_max - total), True
                found.append(table.select(COLUMNS))
                total += table.num_rows
            if capped:
                break
    files_read = 0
    delta = plog._open_table(plog._local(table_uri))
    if delta is not None and not capped:
        location = plog._local(table_uri)
        dataset = delta.to_pyarrow_dataset(
            file_pruning_predicate=[(plog.PARTITION, "in", partitions)],
            filesystem=plog._native(location),
        )
        row_filter = (pc.field("request_id") >= low) & (pc.field("request_id") < high)
        for fragment in dataset.get_fragments():
            files_read += 1
            for batch in fragment.to_batches(
                columns=list(COLUMNS), filter=row_filter, schema=dataset.schema
            ):
                if not batch.num_rows:
                    continue
                room = rows_max - total
                if batch.num_rows >= room:
                    batch = batch.slice(0, room)
                    capped = True
                found.append(pa.Table.from_batches([batch]))
                total += batch.num_rows
                if capped:
                    break
            if capped:
                break
    schema = pa.schema([plog.SCHEMA.field(name) for name in COLUMNS])
    merged = pa.concat_tables([t.cast(schema) for t in found]) if found else schema.empty_table()
    if merged.num_rows:  # a batch flushed while we read appears twice
        order = pc.sort_indices(merged, [("request_id", "ascending")])
        merged = merged.take(order)
        ids = merged["request_id"].to_pylist()
        keep = [i for i, rid in enumerate(ids) if not i or rid != ids[i - 1]]
        if len(keep) < len(ids):
            merged = merged.take(pa.array(keep, pa.int64()))
    return Window(start, end, merged, tuple(partitions), files_read, capped)
