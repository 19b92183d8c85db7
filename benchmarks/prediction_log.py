"""The prediction log: what it costs the request path, and how fast the supervisor flushes.

Measured in one run, on the same generated records (a fraud-style prediction, ~400 bytes of
JSON columns each):

1. ``PredictionLog.submit``, ns per record: one orjson encoding of the record into a JSON line
   and a queue append (what the request path pays), with the writer idle, with the writer
   spooling at the same time (the writer thread takes the GIL while it joins a batch), and on
   a full queue (the drop path: no encoding). Next to a bare ``deque.append`` loop, the floor.
2. The writer thread's work per record while holding the GIL: joining a batch's JSON lines
   into one spool file's bytes (``.ndjson``), µs per record; its write and fsync release the
   GIL. No Arrow work happens in the server: the supervisor's flush builds the Arrow table.
3. ``flush_spool`` throughput, rows/s: N records spooled as files of ``--batch`` records,
   flushed into a new Delta table, next to a plain ``write_deltalake`` of the same rows
   (one table, partitioned alike) into another.
4. ``PredictionLogReader.get`` and ``tail(20)`` on the flushed table, ms (median of 20).

Run from the repository root::

    .venv/bin/python benchmarks/prediction_log.py                  # 200,000 records
    .venv/bin/python benchmarks/prediction_log.py --records 20000  # a quick check
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from _timing import best_of
from deltalake import write_deltalake

from goldenpath.core.ids import new_id
from goldenpath.serving.prediction_log import (
    FLUSH_FILES_MAX,
    PARTITION,
    PredictionLog,
    PredictionLogReader,
    flush_spool,
    read_spool_file,
    spool_files,
)


def record(i: int) -> dict[str, Any]:
    return {
        "request_id": new_id(),
        "time": datetime.now(UTC),
        "deployment": "fraud-api",
        "model": "fraud",
        "model_version": 3,
        "role": "primary",
        "returned": True,
        "entities": f'{{"user_id": {i}}}',
        "request": f'{{"amount": {i % 977}.5, "merchant": "m{i % 31}"}}',
        "features": (
            '{"user_stats:avg_amount_7d": {"value": 41.5, "status": "fresh", '
            '"age_seconds": 12.0, "source": "transactions@5"}, '
            '"user_stats:txn_count_24h": {"value": 3, "status": "fresh", '
            '"age_seconds": 12.0, "source": "transactions@5"}}'
        ),
        "contract_passed": True,
        "contract": "[]",
        "output": f'{{"score": 0.{i % 1000:03d}, "label": 0}}',
        "latency_ms": 1.2,
        "status": 200,
    }


def ns_per(seconds: float, count: int) -> float:
    return seconds * 1e9 / count


def submit_costs(records: list[dict[str, Any]], tmp: Path) -> dict[str, float]:
    n = len(records)

    def floor() -> None:
        queue: collections.deque[dict[str, Any]] = collections.deque()
        append = queue.append
        for r in records:
            if len(queue) < n:
                append(r)

    def idle() -> PredictionLog:
        plog = PredictionLog(tmp / "idle", queue_max=n, batch_max=n + 1, flush_seconds=3600)
        submit = plog.submit
        for r in records:
            submit(r)
        return plog

    def full() -> PredictionLog:
        plog = PredictionLog(tmp / "full", queue_max=1, batch_max=10, flush_seconds=3600)
        submit = plog.submit
        for r in records:
            submit(r)
        return plog

    def busy() -> PredictionLog:
        plog = PredictionLog(tmp / "busy", queue_max=n, batch_max=1_000, flush_seconds=0.05)
        submit = plog.submit
        for r in records:
            submit(r)
        return plog

    out: dict[str, float] = {}
    out["deque.append floor"] = ns_per(best_of(3, floor)[0], n)
    for name, work in (("submit, writer idle", idle), ("submit, queue full (drop)", full)):
        seconds, plog = best_of(3, work)
        out[name] = ns_per(seconds, n)
        plog._queue.clear()  # not measured: skip spooling them
        plog.close()
    started = time.perf_counter()
    plog = busy()
    out["submit, writer spooling"] = ns_per(time.perf_counter() - started, n)
    plog.close(timeout=120)
    return out


def writer_cost(records: list[dict[str, Any]], batch: int) -> float:
    """µs of writer-thread work per record: joining the JSON lines of a batch (the fsync
    waits without the GIL). Building the Arrow table is the supervisor's (flush)."""
    import orjson

    lines = [orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records]
    chunks = [lines[i : i + batch] for i in range(0, len(lines), batch)]

    def work() -> None:
        for chunk in chunks:
            b"".join(chunk)

    return best_of(3, work)[0] * 1e6 / len(records)


def flush_vs_plain(records: list[dict[str, Any]], batch: int, tmp: Path) -> dict[str, float]:
    spool = tmp / "spool"
    plog = PredictionLog(spool, queue_max=len(records), batch_max=batch, flush_seconds=3600)
    for r in records:
        plog.submit(r)
    plog.close(timeout=300)
    files = spool_files(spool)
    data = pa.concat_tables([read_spool_file(p) for p in files])
    started = time.perf_counter()
    rows = flush_spool(spool, str(tmp / "table"))
    flushed = time.perf_counter() - started
    assert rows == len(records), (rows, len(records))
    started = time.perf_counter()
    write_deltalake(str(tmp / "plain"), data, mode="append", partition_by=[PARTITION])
    plain = time.perf_counter() - started
    return {"files": len(files), "flush_s": flushed, "plain_s": plain}


def reads(records: list[dict[str, Any]], table: str) -> dict[str, float]:
    reader = PredictionLogReader(table)
    ids = [records[i]["request_id"] for i in range(0, len(records), len(records) // 20)][:20]
    gets, tails = [], []
    for rid in ids:
        started = time.perf_counter()
        assert reader.get(rid) is not None
        gets.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert len(reader.tail(20)) == 20
        tails.append(time.perf_counter() - started)
    return {"get_ms": statistics.median(gets) * 1e3, "tail_ms": statistics.median(tails) * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000, help="records per spool file")
    args = parser.parse_args()
    records = [record(i) for i in range(args.records)]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        print(f"prediction log, {args.records:,} records, spool files of {args.batch:,}")
        print("\n1. submit() cost, ns per record (lower is better)")
        for label, ns in submit_costs(records, tmp).items():
            print(f"   {label:<28} {ns:8.0f} ns")
        print("\n2. writer thread work holding the GIL (join a batch's JSON lines), per record")
        print(f"   {writer_cost(records, args.batch):.2f} µs")
        result = flush_vs_plain(records, args.batch, tmp)
        n = args.records
        print(
            f"\n3. flush into Delta ({result['files']:,.0f} spool files, "
            f"one commit per {FLUSH_FILES_MAX} files)"
        )
        for label, seconds in (
            ("flush_spool", result["flush_s"]),
            ("write_deltalake", result["plain_s"]),
        ):
            print(f"   {label:<17} {seconds:7.2f} s  {n / seconds:>12,.0f} rows/s")
        print(f"   ratio (flush / plain time): {result['flush_s'] / result['plain_s']:.2f}x")
        got = reads(records, str(tmp / "table"))
        print("\n4. reads on the flushed table (median of 20)")
        print(f"   get(request_id)   {got['get_ms']:7.2f} ms")
        print(f"   tail(20)          {got['tail_ms']:7.2f} ms")


if __name__ == "__main__":
    main()
