"""A SIGKILL mid-ingest leaves the previous version intact (design principle 5).

Every test drives a REAL ``gp`` process and kills it with SIGKILL: at a named crash point
(``goldenpath.core.faults``: the process writes a marker file and blocks there), or at a random
moment. Afterwards the workspace must hold exactly what it held before, or exactly the finished
new version, and the next ingest must work without the killed writer's data leaking into it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sqlalchemy import func, select

import goldenpath
from goldenpath.store.tables import audit_events, dataset_versions, datasets, validations
from tests.conftest import write

GP = Path(sys.executable).parent / "gp"
POINTS = ["ingest.after-data-commit", "ingest.before-metadata-commit"]
MARKER_TIMEOUT = 60.0
ACTOR = "alice"  # creates the workspace (so is its admin) and runs every gp child
Rows = list[dict[str, Any]]

V1 = [(1, 1.5, "a"), (2, 2.5, "b"), (3, 3.5, "c")]
KILLED = [(100, 10.0, "k"), (101, 11.0, "k"), (102, 12.0, "k"), (103, 13.0, "k")]
NEXT = [(900, 90.0, "n"), (901, 91.0, "n")]


# -- helpers ------------------------------------------------------------------------------------


def csv_file(path: Path, rows: Sequence[tuple[object, ...]], header: str = "id,amount,tag") -> Path:
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    return write(path, "\n".join(lines) + "\n")


def as_dicts(rows: Sequence[tuple[object, ...]], header: str = "id,amount,tag") -> Rows:
    return [dict(zip(header.split(","), row, strict=True)) for row in rows]


def ordered(rows: Rows | pa.Table) -> Rows:
    data = rows.to_pylist() if isinstance(rows, pa.Table) else rows
    return sorted(data, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def gp_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``gp`` child: no inherited GP_* settings, this workspace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env.update({"GP_HOME": str(home), "GP_ACTOR": ACTOR, "COLUMNS": "200"}, **extra)
    return env


def run_gps(home: Path, *commands: Sequence[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run ``gp`` commands concurrently to completion; results in the order given."""
    procs = [
        subprocess.Popen(
            [str(GP), *args],
            env=gp_env(home),
            cwd=home.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess([str(GP), *args], proc.returncode, out, err))
    return results


def run_gp(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_gps(home, args)[0]


def start_gp(home: Path, args: Sequence[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    """Start ``gp`` in the background, its output going to ``log`` (no pipe to fill up)."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(GP), *args],
            env=gp_env(home, **env),
            cwd=home.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def sigkill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc`` (unless it already exited) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def kill_at(home: Path, point: str, args: Sequence[str]) -> None:
    """Run ``gp ARGS`` until it blocks at crash point ``point``, then SIGKILL it there."""
    marker = home.parent / f"fault-{time.monotonic_ns()}.marker"
    log = marker.with_suffix(".log")
    proc = start_gp(home, args, log, GP_FAULT_POINT=point, GP_FAULT_MARKER=str(marker))
    deadline = time.monotonic() + MARKER_TIMEOUT
    try:
        while not (marker.exists() and marker.read_text() == point):
            if proc.poll() is not None:
                pytest.fail(
                    f"gp {' '.join(args)} exited ({proc.returncode}) before reaching {point}:\n"
                    + log.read_text(errors="replace")
                )
            if time.monotonic() > deadline:
                pytest.fail(f"gp {' '.join(args)} did not reach {point} in {MARKER_TIMEOUT}s")
            time.sleep(0.02)
    finally:
        sigkill(proc)
    assert proc.returncode == -signal.SIGKILL


def counts(ws: goldenpath.Workspace) -> dict[str, int]:
    """How many rows each metadata table holds."""
    with ws.store.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (datasets, dataset_versions, validations, audit_events)
        }


def ingest_events(ws: goldenpath.Workspace, ref: str) -> list[str]:
    return [e.action for e in ws.audit.list(limit=10_000, object_ref=ref)]


def held_back(ws: goldenpath.Workspace, name: str) -> list[tuple[str, int]]:
    """The quarantined rows as (id as text, version) pairs."""
    held = ws.datasets.quarantine(name).to_pydict()
    return sorted(zip(held["id"], held["_gp_version"], strict=True))


def assert_only_v1(ws: goldenpath.Workspace, name: str, v1: Rows, before: dict[str, int]) -> None:
    """The dataset is exactly as its first version left it; no metadata row was added."""
    history = ws.datasets.history(name)
    assert [v.version for v in history] == [1]
    assert ordered(ws.datasets.read(name)) == ordered(v1)
    assert ordered(ws.datasets.read(f"{name}@1")) == ordered(v1)
    assert ws.datasets.get(name).row_count == len(v1)
    assert counts(ws) == before
    assert ingest_events(ws, f"{name}@2") == []


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def sdk(home: Path) -> Iterator[goldenpath.Workspace]:
    """The workspace the ``gp`` children act on, opened in this process too (SQLite)."""
    workspace = goldenpath.connect(home, actor=ACTOR, create=True)
    yield workspace
    workspace.close()


# -- a kill at a named crash point ---------------------------------------------------------------


def check_a_kill_at_a_crash_point(
    ws: goldenpath.Workspace, home: Path, tmp_path: Path, point: str, mode: str
) -> None:
    v1 = ws.datasets.ingest("tx", csv_file(tmp_path / "v1.csv", V1)).version
    bigger = csv_file(tmp_path / "bigger.csv", KILLED)
    before = counts(ws)

    kill_at(home, point, ["data", "ingest", "tx", str(bigger), "--mode", mode])

    assert_only_v1(ws, "tx", as_dicts(V1), before)
    listed = run_gp(home, "data", "history", "tx", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(v["ref"], v["id"], v["row_count"]) for v in json.loads(listed.stdout)] == [
        ("tx@1", v1.id, len(V1))
    ]

    # The next writer starts from v1: the killed writer's Delta commit must not leak into it.
    result = ws.datasets.ingest("tx", csv_file(tmp_path / "next.csv", NEXT))
    assert result.version.ref == "tx@2"
    assert ordered(ws.datasets.read("tx")) == ordered(as_dicts(V1 + NEXT))
    assert ordered(ws.datasets.read("tx@2")) == ordered(as_dicts(V1 + NEXT))
    assert ordered(ws.datasets.read("tx@1")) == ordered(as_dicts(V1))
    assert result.version.row_count == len(V1) + len(NEXT)
    assert ingest_events(ws, "tx@2") == ["dataset.ingest"]


@pytest.mark.parametrize("mode", ["append", "overwrite"])
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_a_crash_point_leaves_the_previous_version_intact(
    sdk: goldenpath.Workspace, home: Path, tmp_path: Path, point: str, mode: str
) -> None:
    check_a_kill_at_a_crash_point(sdk, home, tmp_path, point, mode)


@pytest.mark.postgres
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_a_crash_point_with_postgres_metadata(
    postgres_url: str, home: Path, tmp_path: Path, point: str
) -> None:
    # The workspace's config.yaml records the URL, so the gp child uses PostgreSQL too.
    with goldenpath.connect(home, metadata=postgres_url, actor=ACTOR, create=True) as ws:
        assert ws.status().stack["metadata"].startswith("postgresql")
        check_a_kill_at_a_crash_point(ws, home, tmp_path, point, "append")


def test_a_killed_batch_is_not_counted_as_ingested(
    sdk: goldenpath.Workspace, home: Path, tmp_path: Path
) -> None:
    # Killed between the Delta write and the metadata commit, the batch must not count as
    # ingested (issue 12, point 4): retried, it is a new version, not "unchanged" with
    # nothing stored. The retry comes first, before any other write could mask a leak.
    sdk.datasets.ingest("tx", csv_file(tmp_path / "v1.csv", V1))
    bigger = csv_file(tmp_path / "bigger.csv", KILLED)
    kill_at(home, "ingest.before-metadata-commit", ["data", "ingest", "tx", str(bigger)])

    retried = sdk.datasets.ingest("tx", bigger)
    assert (retried.outcome, retried.version.ref) == ("accepted", "tx@2")
    assert ordered(sdk.datasets.read("tx")) == ordered(as_dicts(V1 + KILLED))
    assert sdk.datasets.ingest("tx", bigger).outcome == "unchanged"


QUARANTINE_CONTRACT = """\
on_violation: quarantine
columns:
  id: {type: int, nullable: false}
  amount: {type: float, min: 0}
"""


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_batch_leaves_no_quarantined_rows_or_validations(
    sdk: goldenpath.Workspace, home: Path, tmp_path: Path, point: str
) -> None:
    contract = write(tmp_path / "tx.contract.yaml", QUARANTINE_CONTRACT)
    v1_rows = [*V1, (4, -1.0, "bad-v1")]
    v1 = sdk.datasets.ingest("tx", csv_file(tmp_path / "v1.csv", v1_rows), contract=contract)
    assert v1.version.quarantined_rows == 1
    killed = [*KILLED, (104, -5.0, "bad-killed"), (105, -6.0, "bad-killed")]
    bigger = csv_file(tmp_path / "bigger.csv", killed)
    before = counts(sdk)

    kill_at(home, point, ["data", "ingest", "tx", str(bigger)])

    assert_only_v1(sdk, "tx", as_dicts(V1), before)
    assert held_back(sdk, "tx") == [("4", 1)]

    next_rows = [*NEXT, (902, -9.0, "bad-next")]
    result = sdk.datasets.ingest("tx", csv_file(tmp_path / "next.csv", next_rows))
    assert (result.version.ref, result.version.quarantined_rows) == ("tx@2", 1)
    assert ordered(sdk.datasets.read("tx")) == ordered(as_dicts(V1 + NEXT))
    assert held_back(sdk, "tx") == [("4", 1), ("902", 2)]
    assert counts(sdk)["validations"] == before["validations"] + 1


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_first_ingest_leaves_no_dataset(
    sdk: goldenpath.Workspace, home: Path, tmp_path: Path, point: str
) -> None:
    before = counts(sdk)
    kill_at(home, point, ["data", "ingest", "fresh", str(csv_file(tmp_path / "a.csv", KILLED))])

    assert counts(sdk) == before
    assert sdk.datasets.list() == []
    listed, shown = run_gps(home, ["data", "list", "--json"], ["data", "show", "fresh"])
    assert (listed.returncode, json.loads(listed.stdout)) == (0, [])
    assert shown.returncode == 4, shown.stderr
    assert shown.stderr.startswith("error: no dataset named 'fresh'")

    result = sdk.datasets.ingest("fresh", csv_file(tmp_path / "b.csv", V1))
    assert result.version.ref == "fresh@1"
    assert [v.version for v in sdk.datasets.history("fresh")] == [1]
    assert ordered(sdk.datasets.read("fresh")) == ordered(as_dicts(V1))
    assert [s.name for s in sdk.datasets.list()] == ["fresh"]


# -- a kill at a random moment -------------------------------------------------------------------

BIG_ROWS = 300_000
ITERATIONS = 10
RANDOM_BUDGET = 20.0  # seconds for the kill loop
PROGRESS_LINE = re.compile(r"^  ([a-z]+) +(\d+\.\d+)s$")  # "  write        0.13s" on stderr


def work_window(home: Path, args: Sequence[str]) -> tuple[float, float, tuple[float, float], float]:
    """Run ``gp ARGS`` to success; return when its work began, when it exited, when it wrote
    to storage (the start of its ``write`` step to the end of ``record``), in seconds, and how
    long the data commit (the end of ``write``) came before the metadata commit.

    Most of a run is interpreter start-up. The ingest's steps print a progress line to stderr
    as each ends, with its duration: a line's arrival minus its duration is when it began.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(GP), *args],
        env=gp_env(home),
        cwd=home.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    steps: dict[str, tuple[float, float]] = {}
    lines = []
    for line in proc.stderr:
        lines.append(line)
        step = PROGRESS_LINE.match(line.rstrip("\n"))
        if step:
            ended = time.monotonic() - started
            steps[step.group(1)] = (ended - float(step.group(2)), ended)
    assert proc.wait(timeout=120) == 0, "".join(lines)
    assert {"read", "write", "record"} <= steps.keys(), f"progress lines: {lines}"
    writing = (steps["write"][0], steps["record"][1])
    uncommitted = steps["record"][1] - steps["write"][1]
    return min(s for s, _ in steps.values()), time.monotonic() - started, writing, uncommitted


def wait_for_step(log: Path, step: str, timeout: float = 60.0) -> None:
    """Wait until ``gp``'s output in ``log`` shows that ``step`` ended."""
    line = re.compile(rf"^  {step} +\d+\.\d+s$", re.MULTILINE)
    deadline = time.monotonic() + timeout
    while not line.search(log.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"no {step!r} step in {timeout}s: {log.read_text()}"
        time.sleep(0.005)


def interrupted_write(home: Path, name: str) -> bool:
    """Whether a killed writer left data behind in ``name``'s table that no version records.

    Checked before the next writer cleans up: Parquet files or a Delta commit beyond the one
    version-1 ingest wrote are the proof that the kill landed mid-write.
    """
    table = home / "storage" / "datasets" / name / "table"
    return len(list(table.glob("*.parquet"))) > 1 or len(list(table.glob("_delta_log/*.json"))) > 1


def big_batch(path: Path) -> pa.Table:
    """A ~300k-row batch (ids from 1000) written as CSV; returned as read back, sorted."""
    ids = np.arange(1000, 1000 + BIG_ROWS, dtype=np.int64)
    tags = pa.array([f"tag-{i % 5000}" for i in range(BIG_ROWS)])
    pacsv.write_csv(pa.table({"id": ids, "amount": ids * 0.25, "tag": tags}), path)
    return pacsv.read_csv(path).sort_by("id")


def same_rows(actual: pa.Table, expected: pa.Table) -> bool:
    """Whether two tables hold the same rows (order and physical string type aside)."""
    if actual.num_rows != expected.num_rows or actual.column_names != expected.column_names:
        return False
    return bool(actual.cast(expected.schema).sort_by("id").equals(expected))


def test_a_kill_at_a_random_moment_is_all_or_nothing(
    sdk: goldenpath.Workspace, home: Path, tmp_path: Path
) -> None:
    batch = big_batch(tmp_path / "big.csv")
    v1 = pacsv.read_csv(csv_file(tmp_path / "v1.csv", V1))
    nxt = pacsv.read_csv(csv_file(tmp_path / "next.csv", NEXT))
    v1_and_batch = pa.concat_tables([v1, batch]).sort_by("id")

    # Calibrate: when the work of an ingest of the batch happens on this machine.
    sdk.datasets.ingest("calibration", tmp_path / "v1.csv")
    began, ended, writing, uncommitted = work_window(
        home, ["data", "ingest", "calibration", str(tmp_path / "big.csv")]
    )
    assert same_rows(sdk.datasets.read("calibration"), v1_and_batch)

    seed = int(os.environ.get("GP_TEST_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    # One kill during start-up, two aimed at the writing (the kills that test the most, so a run
    # cannot pass without one), then one in each equal slice of the work (and just after it).
    # The aimed kills wait for the data commit (the end of the write step), then kill within
    # the first 80% of the calibrated time to the metadata commit: a loaded machine shifts when
    # the writing happens more than how long it takes.
    aimed = {1, 2}
    windows = [(0.05, began), (0.0, 0.8 * uncommitted), (0.0, 0.8 * uncommitted)]
    windows += list(itertools.pairwise(np.linspace(began, ended + 0.1, ITERATIONS - 2)))
    outcomes: list[tuple[float, str]] = []
    deadline = time.monotonic() + RANDOM_BUDGET
    for i in range(ITERATIONS):
        if time.monotonic() > deadline:
            break
        name, delay = f"r{i}", rng.uniform(float(windows[i][0]), float(windows[i][1]))
        sdk.datasets.ingest(name, tmp_path / "v1.csv")
        before = counts(sdk)
        log = tmp_path / f"{name}.log"
        started = time.monotonic()
        proc = start_gp(home, ["data", "ingest", name, str(tmp_path / "big.csv")], log)
        if i in aimed:
            wait_for_step(log, "write")
        time.sleep(delay)
        sigkill(proc)
        delay = time.monotonic() - started
        where = (
            f"seed {seed}, iteration {i}: killed at {delay:.3f}s (work {began:.2f}-{ended:.2f}s)"
        )

        versions = sdk.datasets.history(name)
        if len(versions) == 1:
            outcome = "interrupted" if interrupted_write(home, name) else "unchanged"
            assert same_rows(sdk.datasets.read(name), v1), where
            assert counts(sdk) == before, where
            assert ingest_events(sdk, f"{name}@2") == [], where
            expected_after = v1
        else:
            outcome = "committed"
            assert [v.version for v in versions] == [1, 2], where
            assert versions[1].row_count == len(V1) + BIG_ROWS, where
            assert same_rows(sdk.datasets.read(name), v1_and_batch), where
            assert same_rows(sdk.datasets.read(f"{name}@2"), v1_and_batch), where
            assert ingest_events(sdk, f"{name}@2") == ["dataset.ingest"], where
            added = {k: counts(sdk)[k] - before[k] for k in before}
            assert (added["datasets"], added["dataset_versions"], added["validations"]) == (
                0,
                1,
                0,
            ), where
            expected_after = v1_and_batch
        assert same_rows(sdk.datasets.read(f"{name}@1"), v1), where

        # A subsequent ingest works and holds exactly the surviving rows plus its own.
        result = sdk.datasets.ingest(name, tmp_path / "next.csv")
        assert result.version.version == len(versions) + 1, where
        expected = pa.concat_tables([expected_after, nxt]).sort_by("id")
        assert same_rows(sdk.datasets.read(name), expected), where
        outcomes.append((round(delay, 3), outcome))

    assert len(outcomes) >= 4, f"only {len(outcomes)} kills fit in {RANDOM_BUDGET}s: {outcomes}"
    # A run whose kills all landed before or after the writing proved nothing about it.
    assert any(o == "interrupted" for _, o in outcomes), (
        f"seed {seed}: no kill landed mid-write (writing {writing[0]:.2f}-{writing[1]:.2f}s): "
        f"{outcomes}"
    )
    print(f"seed {seed}, work {began:.2f}-{ended:.2f}s, kills: {outcomes}")
