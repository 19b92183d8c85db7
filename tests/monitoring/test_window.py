"""Reading a window of the prediction log: its hour partitions only, bounded, spool included."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from goldenpath.monitoring.window import hours, read_window
from goldenpath.serving.prediction_log import flush_spool, ulid_floor

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def request_id(moment: datetime, rng: random.Random) -> str:
    return ulid_floor(moment)[:10] + "".join(rng.choice(CROCKFORD) for _ in range(16))


def record(moment: datetime, rng: random.Random, amount: float = 1.0) -> dict[str, Any]:
    return {
        "request_id": request_id(moment, rng),
        "time": int(moment.timestamp() * 1_000_000),
        "deployment": "d",
        "model": "fraud",
        "model_version": 1,
        "role": "primary",
        "returned": True,
        "entities": {},
        "request": {"amount": amount},
        "features": {},
        "contract_passed": True,
        "contract": [],
        "output": {"probability": 0.5, "label": 0},
        "latency_ms": 1.0,
        "status": 200,
    }


def spool(
    folder: Path, name_time: datetime, records: list[dict[str, Any]], rng: random.Random
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)
    (folder / f"{request_id(name_time, rng)}.ndjson").write_bytes(lines)


def make_log(tmp_path: Path) -> tuple[str, Path]:
    """100 predictions in each of the hours 10, 11 and 12 (one Delta commit per hour)."""
    rng = random.Random(7)
    table, folder = str(tmp_path / "table"), tmp_path / "spool"
    for hour in range(3):
        start = BASE + timedelta(hours=hour)
        rows = [record(start + timedelta(seconds=30 * i), rng) for i in range(100)]
        spool(folder, start, rows, rng)
        assert flush_spool(folder, table) == 100
    return table, folder


def test_a_window_reads_only_the_hours_it_covers(tmp_path: Path) -> None:
    table, folder = make_log(tmp_path)
    start = BASE + timedelta(hours=1, minutes=15)
    window = read_window(table, folder, start, start + timedelta(minutes=30), 10_000)
    assert window.partitions == ("2026-12-07T11",)
    assert window.files_read == 1  # the hour's file alone: the other two are never opened
    assert window.rows.num_rows == 60  # one prediction every 30 s
    assert not window.capped
    ids = window.rows["request_id"].to_pylist()
    assert min(ids) >= ulid_floor(start) and max(ids) < ulid_floor(start + timedelta(minutes=30))
    spanning = read_window(
        table, folder, BASE + timedelta(minutes=30), BASE + timedelta(hours=1, minutes=30), 10_000
    )
    assert spanning.partitions == ("2026-12-07T10", "2026-12-07T11")
    assert (
        spanning.files_read == 2 and spanning.rows.num_rows == 40 + 60
    )  # 10:30-10:49:30, 11:00-11:29:30


def test_the_rows_read_are_bounded(tmp_path: Path) -> None:
    table, folder = make_log(tmp_path)
    window = read_window(table, folder, BASE, BASE + timedelta(hours=3), 150)
    assert window.rows.num_rows == 150 and window.capped
    assert window.files_read == 2  # the read stopped in the second file: the third was never opened
    whole = read_window(table, folder, BASE, BASE + timedelta(hours=3), 10_000)
    assert whole.rows.num_rows == 300 and not whole.capped
    rng = random.Random(9)
    spool(folder, BASE, [record(BASE + timedelta(seconds=1), rng) for _ in range(20)], rng)
    spooled = read_window(table, folder, BASE, BASE + timedelta(hours=3), 10)
    assert spooled.rows.num_rows == 10 and spooled.capped and spooled.files_read == 0


def test_spool_records_not_flushed_yet_are_read_once(tmp_path: Path) -> None:
    table, folder = make_log(tmp_path)
    rng = random.Random(8)
    moment = BASE + timedelta(hours=2, minutes=59)
    fresh = [record(moment, rng, amount=2.0) for _ in range(5)]
    spool(folder, moment, fresh, rng)
    window = read_window(
        table, folder, BASE + timedelta(hours=2), BASE + timedelta(hours=3), 10_000
    )
    assert window.rows.num_rows == 105
    # A batch both in the spool and in the table (flushed while the window was read) counts once.
    table_only = read_window(
        table, None, BASE + timedelta(hours=2), BASE + timedelta(hours=3), 10_000
    )
    assert table_only.rows.num_rows == 100
    flush_spool(folder, table)
    spool(folder, moment, fresh, rng)  # the same records again, as if not deleted yet
    again = read_window(table, folder, BASE + timedelta(hours=2), BASE + timedelta(hours=3), 10_000)
    assert again.rows.num_rows == 105


def test_hours_of_a_window() -> None:
    assert hours(BASE, BASE + timedelta(minutes=1)) == ["2026-12-07T10"]
    assert hours(BASE - timedelta(minutes=1), BASE + timedelta(hours=1)) == [
        "2026-12-07T09",
        "2026-12-07T10",
    ]
