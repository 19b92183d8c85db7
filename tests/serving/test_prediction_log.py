"""The prediction log (issue 15, point 5): real files, a real Delta table, real threads.

The server's half (:class:`PredictionLog`: a bounded queue and a writer thread spooling Arrow
files), the supervisor's flush into Delta (crash-safe, checked by killing a real process at
the named crash points), and the reader (one partition per request id, newest files first).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from ulid import ULID

from goldenpath.core.errors import InvalidInput
from goldenpath.core.ids import new_id
from goldenpath.serving.prediction_log import (
    APP_ID,
    INTENT,
    RECORD_KEYS,
    ROLES,
    SCHEMA,
    PredictionLog,
    PredictionLogReader,
    dead_letter_count,
    dead_letter_dir,
    dead_letters,
    flush_spool,
    partition_of,
    read_spool_file,
    spool_files,
)

ROOT = Path(__file__).resolve().parents[2]
HOUR = datetime(2026, 11, 30, 10, tzinfo=UTC)


def record(request_id: str | None = None, **changes: Any) -> dict[str, Any]:
    rid = request_id or new_id()
    base: dict[str, Any] = {
        "request_id": rid,
        "time": datetime.fromtimestamp(ULID.from_str(rid).timestamp, UTC)
        if len(rid) == 26
        else datetime.now(UTC),
        "deployment": "fraud-api",
        "model": "fraud",
        "model_version": 3,
        "role": "primary",
        "returned": True,
        "entities": '{"user": 7}',
        "request": '{"amount": 12.5}',
        "features": '{"user_stats:avg": {"value": 1.0, "status": "fresh", '
        '"age_seconds": 3.0, "source": "tx@5"}}',
        "contract_passed": True,
        "contract": "[]",
        "output": '{"score": 0.25}',
        "latency_ms": 1.5,
        "status": 200,
    }
    base.update(changes)
    return base


def ids_at(moment: datetime, count: int) -> list[str]:
    """``count`` request ids in increasing order, one millisecond apart from ``moment``."""
    return [str(ULID.from_datetime(moment + timedelta(milliseconds=i))) for i in range(count)]


def spooled(spool: Path) -> pa.Table:
    tables = [read_spool_file(p) for p in spool_files(spool)]
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()


def spool_records(spool: Path, records: list[dict[str, Any]]) -> None:
    with PredictionLog(spool, flush_seconds=0.05) as plog:
        for r in records:
            assert plog.submit(r)


def table_rows(uri: Path) -> int:
    return int(DeltaTable(str(uri)).count())


def raw_ids(uri: Path) -> list[str]:
    """Every request id of the table's rows as stored, duplicates kept, sorted."""
    rows = DeltaTable(str(uri)).to_pyarrow_table(columns=["request_id"])
    return sorted(rows.column("request_id").to_pylist())


def commits(uri: Path) -> int:
    """The table's write commits (its history, without the creation)."""
    return sum(1 for entry in DeltaTable(str(uri)).history() if entry.get("operation") == "WRITE")


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return tmp_path / "predictions"


# -- the server's half ------------------------------------------------------------------------


def test_submit_then_close_spools_every_record_in_batches(spool: Path) -> None:
    plog = PredictionLog(spool, batch_max=1_000, flush_seconds=0.05)
    sent = [record() for _ in range(2_500)]
    for r in sent:
        assert plog.submit(r)
    assert plog.close()
    files = spool_files(spool)
    assert all(read_spool_file(p).num_rows <= 1_000 for p in files)
    got = spooled(spool)
    assert sorted(got.column("request_id").to_pylist()) == sorted(r["request_id"] for r in sent)
    assert (plog.written, plog.dropped, plog.invalid, plog.failed, plog.queued) == (
        2500,
        0,
        0,
        0,
        0,
    )
    first = got.filter(pa.compute.equal(got["request_id"], sent[0]["request_id"])).to_pylist()[0]
    assert first["partition"] == partition_of(sent[0]["request_id"])
    assert first["time"] == sent[0]["time"] and first["features"] == sent[0]["features"]
    assert not plog.submit(record())  # closed: dropped, counted
    assert plog.dropped == 1


def test_a_full_queue_drops_and_counts_without_blocking(spool: Path) -> None:
    drops: list[int] = []
    # The writer stalls: no timer for an hour and a batch larger than the queue can hold.
    plog = PredictionLog(
        spool, queue_max=10, batch_max=1_000, flush_seconds=3_600, on_drop=lambda: drops.append(1)
    )
    one = record()
    started = time.perf_counter()
    accepted = sum(plog.submit(one) for _ in range(100_000))
    elapsed = time.perf_counter() - started
    assert accepted == 10 and plog.queued == 10
    assert plog.dropped == 99_990 and len(drops) == 99_990
    assert elapsed < 2.0, f"100k submits took {elapsed:.2f} s"
    assert spool_files(spool) == []
    assert plog.close()
    assert spooled(spool).num_rows == 10


def test_a_failing_on_drop_does_not_fail_the_request(spool: Path) -> None:
    def broken() -> None:
        raise RuntimeError("metrics down")

    plog = PredictionLog(spool, queue_max=1, flush_seconds=3_600, on_drop=broken)
    assert plog.submit(record()) and not plog.submit(record())
    assert plog.dropped == 1
    plog.close()


def test_concurrent_submits_from_threads_lose_nothing(spool: Path) -> None:
    plog = PredictionLog(spool, queue_max=100_000, batch_max=500, flush_seconds=0.02)
    sent: list[list[str]] = [[] for _ in range(8)]

    def work(n: int) -> None:
        for _ in range(2_000):
            r = record()
            sent[n].append(r["request_id"])
            assert plog.submit(r)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert plog.close()
    got = spooled(spool).column("request_id").to_pylist()
    assert len(got) == 16_000 and set(got) == {i for ids in sent for i in ids}
    assert plog.written == 16_000 and plog.dropped == 0


def test_a_reader_never_sees_part_of_a_spool_file(spool: Path) -> None:
    """Large batches written back to back while another thread reads every file it lists."""
    payload = '"' + "x" * 50_000 + '"'
    plog = PredictionLog(spool, batch_max=20, flush_seconds=0.01)
    errors: list[str] = []
    reads = 0
    done = threading.Event()

    def read_all() -> None:
        nonlocal reads
        while not done.is_set():
            for path in spool_files(spool):
                try:
                    reads += read_spool_file(path).num_rows > 0
                except Exception as exc:  # a partial file fails to parse
                    errors.append(f"{path.name}: {exc}")

    reader = threading.Thread(target=read_all)
    reader.start()
    try:
        for _ in range(400):
            plog.submit(record(output=payload))
        assert plog.close()
    finally:
        done.set()
        reader.join()
    assert not errors, errors[:3]
    assert reads > 0 and spooled(spool).num_rows == 400
    leftovers = [p.name for p in spool.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_invalid_records_are_left_out_at_flush_and_logged_once_per_file(
    spool: Path, table: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server spools every record JSON can hold (checking costs the request path); the
    supervisor's flush leaves out the ones that do not fit the schema, logging the first."""
    good = [record() for _ in range(3)]
    missing = record()
    del missing["latency_ms"]
    bad = [
        missing,
        record(request_id="not-a-ulid"),
        record(time="2026-11-30T10:00:00"),  # naive: which zone?
        record(role="champion"),
        record(status="200"),
        record(returned="yes"),
    ]
    plog = PredictionLog(spool, flush_seconds=0.02)
    for r in [good[0], *bad, good[1]]:
        assert plog.submit(r)
    assert not plog.submit(record(output=object()))  # JSON cannot hold it: refused at once
    assert plog.invalid == 1
    plog.submit(good[2])
    assert plog.close()
    assert plog.written == 9
    assert sorted(spooled(spool).column("request_id").to_pylist()) == sorted(
        r["request_id"] for r in good
    )
    with caplog.at_level(logging.ERROR, logger="goldenpath.serving"):
        assert flush_spool(spool, str(table)) == 3
    messages = [r.getMessage() for r in caplog.records if ".ndjson" in r.getMessage()]
    assert len(messages) == 1 and "left out 6 invalid" in messages[0]
    assert "missing key 'latency_ms'" in messages[0]
    assert str(dead_letter_dir(spool)) in messages[0]
    # Never dropped silently: each invalid record is kept beside the spool, with its reason.
    letters = dead_letters(spool)
    assert [json.loads(d["record"])["request_id"] for d in letters] == [
        r["request_id"] for r in bad
    ]
    reasons = [d["reason"] for d in letters]
    assert "missing key 'latency_ms'" in reasons[0] and "not a ULID" in reasons[1]
    assert "role must be one of ['canary', 'primary', 'shadow']" in reasons[3]
    assert dead_letter_count(spool) == 6 and plog.invalid_total() == 7  # + the one refused
    assert flush_spool(spool, str(table)) == 0 and dead_letter_count(spool) == 6
    assert dead_letter_count(spool.with_name("elsewhere")) == 0


def test_a_flush_rerun_after_a_crash_dead_letters_a_record_once(
    spool: Path, table: Path, tmp_path: Path
) -> None:
    """The dead letters are written before the commit: a flush killed there and run again
    rewrites the same file instead of adding the record a second time."""
    spool_records(spool, [record(), record(role="candidate"), record()])
    kill_flush_at("prediction_log.flush.before-commit", spool, table, tmp_path / "marker")
    assert dead_letter_count(spool) == 1
    assert flush_spool(spool, str(table)) == 2
    assert dead_letter_count(spool) == 1 and len(dead_letters(spool)) == 1
    assert len(list(dead_letter_dir(spool).iterdir())) == 1  # one file, no temporary left


def test_the_roles_the_log_accepts_are_the_ones_traffic_writes() -> None:
    from goldenpath.serving import traffic

    assert {traffic.PRIMARY, traffic.CANARY, traffic.SHADOW} == ROLES


def test_time_may_be_epoch_microseconds(spool: Path, table: Path) -> None:
    rid = new_id()
    spool_records(spool, [record(rid, time=1_796_000_000_123_456)])
    got = PredictionLogReader(str(table), spool).get(rid)
    assert got is not None
    assert got["time"] == datetime(2026, 11, 30, 0, 53, 20, 123456, tzinfo=UTC)


# -- the supervisor's flush -------------------------------------------------------------------


def test_flush_appends_every_spool_file_in_one_commit_and_deletes_them(
    spool: Path, table: Path
) -> None:
    # Two servers (a version swap) spooling into the same directory, across two hours.
    spool_records(spool, [record(i) for i in ids_at(HOUR - timedelta(minutes=1), 5)])
    spool_records(spool, [record(i) for i in ids_at(HOUR, 7)])
    assert len(spool_files(spool)) == 2
    assert flush_spool(spool, str(table)) == 12
    assert spool_files(spool) == [] and not (spool / INTENT).exists()
    delta = DeltaTable(str(table))
    assert table_rows(table) == 12 and delta.version() == 0
    assert delta.transaction_version(APP_ID) == 1
    assert sorted(p["partition"] for p in delta.partitions()) == ["2026-11-30T09", "2026-11-30T10"]
    assert flush_spool(spool, str(table)) == 0
    spool_records(spool, [record()])
    assert flush_spool(spool, str(table)) == 1
    assert DeltaTable(str(table)).transaction_version(APP_ID) == 2
    assert table_rows(table) == 13


def test_an_unreadable_spool_file_is_a_dead_letter_and_the_rest_flushed(
    spool: Path, table: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A spool file the flush cannot read is moved into the dead letters as it was (one
    atomic rename), counted as one, and logged; the other files are flushed."""
    spool_records(spool, [record() for _ in range(3)])
    bad = spool / f"{new_id()}.ndjson"
    bad.mkdir()  # cannot be read as a file
    (bad / "inside").write_bytes(b"kept as it was")
    dangling = spool / f"{new_id()}.ndjson"
    dangling.symlink_to(spool / "gone")  # cannot be opened
    garbage = spool / f"{new_id()}.ndjson"
    garbage.write_bytes(b"not json at all\n[1, 2]\n")  # read, but holds no valid record
    with caplog.at_level(logging.ERROR, logger="goldenpath.serving"):
        assert flush_spool(spool, str(table)) == 3
    assert spool_files(spool) == [] and not list(spool.glob("*.bad"))
    folder = dead_letter_dir(spool)
    moved = folder / f"{bad.name}.unreadable"
    assert (moved / "inside").read_bytes() == b"kept as it was"
    assert (folder / f"{dangling.name}.unreadable").is_symlink()
    assert dead_letter_count(spool) == 2 + 2  # two unreadable files, two invalid lines
    letters = {d["batch"]: d for d in dead_letters(spool)}
    assert letters[bad.name]["record"] is None
    assert letters[bad.name]["reason"].startswith("the spool file could not be read")
    assert letters[bad.name]["file"] == str(moved)
    assert [d["reason"] for d in dead_letters(spool) if d["batch"] == garbage.name] == [
        "a line is not JSON",
        "a line is not a JSON object",
    ]
    assert any(bad.name in m and "unreadable" in m for m in caplog.messages)
    assert flush_spool(spool, str(table)) == 0 and dead_letter_count(spool) == 4


def test_flush_removes_only_stale_temporary_files(spool: Path, table: Path) -> None:
    spool.mkdir()
    stale = spool / f".{new_id()}.ndjson.abc123.tmp"
    fresh = spool / f".{new_id()}.ndjson.def456.tmp"
    other = spool / "notes.tmp"
    for path in (stale, fresh, other):
        path.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert flush_spool(spool, str(table)) == 0
    assert not stale.exists() and fresh.exists() and other.exists()


def test_flush_refuses_remote_tables_and_ignores_a_missing_spool(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"s3://bucket/p.*local"):
        flush_spool(tmp_path, "s3://bucket/p")
    assert flush_spool(tmp_path / "nothing", str(tmp_path / "t")) == 0


CHILD = """
from pathlib import Path
from goldenpath.serving.prediction_log import flush_spool
flush_spool(Path({spool!r}), {table!r})
"""


def kill_flush_at(point: str, spool: Path, table: Path, marker: Path) -> None:
    """Run a flush in a real process and SIGKILL it at the named crash point."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    # ROOT first, then whatever the caller had (make mutants points it at the mutated copy).
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(GP_FAULT_POINT=point, GP_FAULT_MARKER=str(marker), PYTHONPATH=path)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(spool=str(spool), table=str(table))],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text() == point):
            assert proc.poll() is None, "the flush ended before the crash point"
            assert time.monotonic() < deadline, "the crash point was never reached"
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def test_a_kill_between_the_commit_and_the_deletes_appends_nothing_twice(
    spool: Path, table: Path, tmp_path: Path
) -> None:
    batches = [[record() for _ in range(n)] for n in (4, 5, 2)]
    submitted = [r["request_id"] for batch in batches for r in batch]
    spool_records(spool, batches[0])
    assert flush_spool(spool, str(table)) == 4
    spool_records(spool, batches[1])
    kill_flush_at("prediction_log.flush.after-commit", spool, table, tmp_path / "marker")
    # Committed, not deleted: the rows are in the table and their file still in the spool.
    assert table_rows(table) == 9 and len(spool_files(spool)) == 1
    assert (spool / INTENT).exists()
    spool_records(spool, batches[2])  # a server spooled on meanwhile
    assert flush_spool(spool, str(table)) == 2
    assert table_rows(table) == 11 and spool_files(spool) == []
    assert not (spool / INTENT).exists()
    # The table's raw rows (the reader would hide duplicates): each id once, in 3 commits.
    assert raw_ids(table) == sorted(submitted)
    assert DeltaTable(str(table)).transaction_version(APP_ID) == 3
    assert commits(table) == 3


def test_a_kill_inside_the_finish_step_appends_nothing_again(
    spool: Path, table: Path, tmp_path: Path
) -> None:
    """Killed after the committed batches were deleted and before their intent was: the next
    flush finds the intent, sees the commit, and appends nothing (an intent deleted first
    would leave the batches behind, and they would be appended a second time)."""
    first = [record() for _ in range(3)]
    spool_records(spool, first)
    kill_flush_at("prediction_log.finish.after-batches", spool, table, tmp_path / "marker")
    left, intent = spool_files(spool), (spool / INTENT).exists()
    assert flush_spool(spool, str(table)) == 0
    assert raw_ids(table) == sorted(r["request_id"] for r in first) and commits(table) == 1
    assert DeltaTable(str(table)).transaction_version(APP_ID) == 1
    assert left == [] and intent  # the kill came between the two deletes
    assert not (spool / INTENT).exists()


def test_a_kill_before_the_commit_flushes_the_batches_on_the_next_run(
    spool: Path, table: Path, tmp_path: Path
) -> None:
    spool_records(spool, [record() for _ in range(3)])
    kill_flush_at("prediction_log.flush.before-commit", spool, table, tmp_path / "marker")
    assert not DeltaTable.is_deltatable(str(table)) and (spool / INTENT).exists()
    assert flush_spool(spool, str(table)) == 3
    assert table_rows(table) == 3 and spool_files(spool) == []
    assert DeltaTable(str(table)).transaction_version(APP_ID) == 1


# -- reading ----------------------------------------------------------------------------------


def test_get_finds_a_prediction_in_the_spool_and_in_the_table(spool: Path, table: Path) -> None:
    first, second = new_id(), new_id()
    spool_records(spool, [record(first)])
    reader = PredictionLogReader(str(table), spool)
    got = reader.get(first)
    assert got is not None and got["request_id"] == first
    assert got["entities"] == {"user": 7} and got["output"] == {"score": 0.25}
    assert got["features"]["user_stats:avg"]["source"] == "tx@5"
    assert got["contract"] == [] and got["status"] == 200 and "partition" not in got
    flush_spool(spool, str(table))
    spool_records(spool, [record(second, role="shadow", returned=False)])
    assert reader.get(first) == got  # now from the table
    assert reader.get(first.lower()) == got
    shadow = reader.get(second)
    assert shadow is not None and shadow["role"] == "shadow" and shadow["returned"] is False
    assert reader.get(new_id()) is None
    assert PredictionLogReader(str(table)).get(second) is None  # no spool given


@pytest.mark.parametrize("folder", ["gp home", "100% sure"])
def test_get_reads_a_table_whose_path_needs_quoting_in_a_uri(tmp_path: Path, folder: str) -> None:
    # Delta names files by percent-encoded URI: a space read as "gp%20home" was not found.
    spool, table = tmp_path / folder / "spool", tmp_path / folder / "table"
    wanted = new_id()
    spool_records(spool, [record(wanted)])
    flush_spool(spool, str(table))
    got = PredictionLogReader(str(table)).get(wanted)
    assert got is not None and got["request_id"] == wanted


@pytest.mark.parametrize("stats", [True, False], ids=["file-stats", "no-file-stats"])
def test_get_reads_only_the_partition_its_id_names(spool: Path, table: Path, stats: bool) -> None:
    """Without per-file statistics (which Arrow would prune by too) only the partition
    predicate keeps the read away from the other hour's files."""
    if not stats:
        DeltaTable.create(
            str(table),
            schema=SCHEMA,
            partition_by=["partition"],
            configuration={"delta.dataSkippingNumIndexedCols": "0"},
        )
    early, late = ids_at(HOUR, 6), ids_at(HOUR + timedelta(hours=1), 6)
    spool_records(spool, [record(i) for i in early + late])
    flush_spool(spool, str(table))
    # Corrupt every data file of the early hour: a read that touches it fails.
    early_files = list((table / f"partition={partition_of(early[0])}").glob("*.parquet"))
    assert early_files
    for path in early_files:
        path.write_bytes(b"PAR1 garbage")
    reader = PredictionLogReader(str(table))
    got = reader.get(late[3])
    assert got is not None and got["request_id"] == late[3]
    assert [r["request_id"] for r in reader.tail(5)] == late[::-1][:5]  # the newest file only
    with pytest.raises(pa.ArrowException):  # the corruption is real: reading that hour fails
        reader.get(early[0])
    with pytest.raises(pa.ArrowException):
        reader.tail(8)


def test_tail_is_newest_first_across_spool_and_table(spool: Path, table: Path) -> None:
    hours = [ids_at(HOUR + timedelta(hours=h), 4) for h in range(3)]
    spool_records(spool, [record(i) for i in hours[0]])
    spool_records(spool, [record(i) for i in hours[1]])
    flush_spool(spool, str(table))
    spool_records(spool, [record(i) for i in hours[2]])  # not flushed yet
    everything = [i for ids in hours for i in ids][::-1]
    reader = PredictionLogReader(str(table), spool)
    assert [r["request_id"] for r in reader.tail(3)] == everything[:3]
    assert [r["request_id"] for r in reader.tail(6)] == everything[:6]
    assert [r["request_id"] for r in reader.tail(100)] == everything
    since = HOUR + timedelta(hours=1, milliseconds=2)
    assert [r["request_id"] for r in reader.tail(100, since=since)] == everything[:6]
    assert [r["request_id"] for r in PredictionLogReader(str(table)).tail(5)] == everything[4:9]


def test_tail_reads_several_files_of_one_partition_in_order(spool: Path, table: Path) -> None:
    ids = ids_at(HOUR, 12)
    for start in range(0, 12, 3):  # four commits, one file each, in one partition
        spool_records(spool, [record(i) for i in ids[start : start + 3]])
        flush_spool(spool, str(table))
    reader = PredictionLogReader(str(table))
    assert [r["request_id"] for r in reader.tail(4)] == ids[::-1][:4]
    assert [r["request_id"] for r in reader.tail(12)] == ids[::-1]


def test_tail_reads_an_older_file_that_overlaps_the_newest(spool: Path, table: Path) -> None:
    """A slow server's batch is flushed after a newer one: its ids interleave with the first
    commit's, so the tail must read both files."""
    ids = ids_at(HOUR, 12)
    spool_records(spool, [record(i) for i in ids[1::2]])
    flush_spool(spool, str(table))
    spool_records(spool, [record(i) for i in ids[0::2]])
    flush_spool(spool, str(table))
    reader = PredictionLogReader(str(table))
    assert [r["request_id"] for r in reader.tail(3)] == ids[::-1][:3]
    assert [r["request_id"] for r in reader.tail(7)] == ids[::-1][:7]


@pytest.mark.parametrize(
    "bad",
    [
        "nope",
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        "81ARZ3NDEKTSV4RRFFQ69G5FAV",
        "",
    ],
)
def test_a_bad_request_id_is_refused_by_name(table: Path, bad: str) -> None:
    with pytest.raises(InvalidInput, match="is not a request id") as info:
        PredictionLogReader(str(table)).get(bad)
    assert repr(bad) in info.value.message


def test_tail_refuses_a_bad_limit_or_a_naive_since(table: Path) -> None:
    reader = PredictionLogReader(str(table))
    with pytest.raises(InvalidInput, match="limit 0"):
        reader.tail(0)
    with pytest.raises(InvalidInput, match="no time zone"):
        reader.tail(5, since=datetime(2026, 11, 30))


def test_a_missing_table_reads_as_empty(tmp_path: Path) -> None:
    reader = PredictionLogReader(str(tmp_path / "none"), tmp_path / "no-spool")
    assert reader.get(new_id()) is None and reader.tail() == []


def test_the_record_keys_are_the_schema_without_the_partition() -> None:
    assert set(RECORD_KEYS) == set(SCHEMA.names) - {"partition"}
    assert set(record()) == set(RECORD_KEYS)
