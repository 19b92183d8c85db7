"""Access control, the audit trail and the control-plane server (issue 6).

Three budgets, each measured next to a floor on the same machine:

1. Authorization and the audit write together add under 0.2 ms to a service call.
   ``AccessControl.require`` for the embedded admin and for scoped principals; a metadata
   transaction inserting one small row with and without ``audit.record`` (SQLite, on a fresh
   trail and on the benchmark's big trail; PostgreSQL on 127.0.0.1:5432 if it answers); and
   read service calls end to end against a baseline that skips authorization.
2. ``gp audit verify`` checks 1,000,000 events in under 10 s. A trail with a valid chain and a
   signed checkpoint is built once and cached under ``benchmarks/.data/``; it is verified in
   process and by the CLI, next to plain loops that only read the rows, or read and hash them.
   A tampered copy must be reported.
3. The control-plane server answers an authorized read at p99 under 5 ms. Sequential requests
   over one keep-alive connection to ``gp server`` in its own process, next to bare Starlette
   and FastAPI apps that return the same JSON document; ``wrk`` adds a concurrent figure when
   it is installed. Then, in process, the same apps called directly (no socket) and the
   route's work step by step, to show where a request's time goes.

Correctness failures (a trail that does not verify, a tampered copy not reported, a non-200
answer) stop the run with exit status 1; a missed budget is printed as MISS and does not.

Run from the repository root::

    .venv/bin/python benchmarks/governance.py            # the full run: 1,000,000 events
    .venv/bin/python benchmarks/governance.py --quick    # 100,000 events, fewer iterations
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from importlib.metadata import version
from itertools import islice
from pathlib import Path
from random import Random
from typing import Any, TypeVar, cast

import httpx
import uvicorn
from _report import markdown_table
from _timing import best_of
from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import goldenpath
from goldenpath.core.actor import Actor
from goldenpath.core.audit_chain import GENESIS, chain_hash
from goldenpath.core.clock import utcnow
from goldenpath.core.ids import new_id
from goldenpath.data.service import DatasetService
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl, AccessService
from goldenpath.governance.principals import authenticate
from goldenpath.server.app import create_app
from goldenpath.store.engine import MetadataStore, open_store
from goldenpath.store.tables import audit_events
from goldenpath.workspace import Workspace

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / ".data"
GP = Path(sys.executable).parent / "gp"
POSTGRES_URL = os.environ.get(
    "GP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

SEED = 20261124
# Part of the cached trail's directory name: bump it whenever synthetic_events() changes.
DATA_VERSION = 1
PROJECT = "p1"
DATASET = "tx"

OVERHEAD_BUDGET_MS = 0.2
VERIFY_BUDGET_S = 10.0
VERIFY_BUDGET_EVENTS = 1_000_000
SERVER_P99_BUDGET_MS = 5.0


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    events: int  # audit events in the verified trail
    checks: int  # individually timed require() calls per principal
    transactions: int  # timed metadata transactions per variant
    calls: int  # timed service calls per principal
    requests: int  # timed HTTP requests per server
    runs: int  # verify runs and floor runs (best kept)
    wrk_seconds: int  # duration of each wrk run


FULL = Sizes(1_000_000, 200_000, 3_000, 3_000, 2_000, 3, 10)
QUICK = Sizes(100_000, 50_000, 500, 500, 500, 1, 3)


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """A latency sample's summary, in seconds."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float
    total: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        ordered = sorted(samples)

        def rank(q: float) -> float:  # nearest rank: an observed value, never interpolated
            return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

        total = math.fsum(ordered)
        return cls(
            len(ordered), total / len(ordered), rank(0.5), rank(0.9), rank(0.99), ordered[-1], total
        )


def time_interleaved(
    calls: Mapping[str, Callable[[], object]], n: int, warmup: int
) -> dict[str, list[float]]:
    """Time each call ``n`` times, taking turns, so drift on a busy machine hits all alike."""
    items = list(calls.items())
    for _ in range(warmup):
        for _, call in items:
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    clock = time.perf_counter
    for _ in range(n):
        for name, call in items:
            started = clock()
            call()
            samples[name].append(clock() - started)
    return samples


def tight_loop_mean(call: Callable[[], object], n: int) -> float:
    """Seconds per call over ``n`` back-to-back calls (no per-call timer)."""
    started = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - started) / n


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# -- reporting -----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass(frozen=True)
class Budget:
    """One line of the closing summary."""

    name: str
    measured: str
    ok: bool


def load_text() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


# -- the governed workspace ----------------------------------------------------------------------


def local(ws: object) -> Workspace:
    """``goldenpath.connect`` on a directory always gives an embedded workspace."""
    assert isinstance(ws, Workspace)
    return ws


@dataclass
class Governed:
    """A workspace with a dataset in project p1 and principals holding each kind of grant."""

    home: Path
    admin: Workspace
    secret: str  # bob's scoped token
    principals: dict[str, Workspace] = field(default_factory=dict)

    def close(self) -> None:
        for ws in self.principals.values():
            ws.close()


def make_governed(home: Path) -> Governed:
    """Create the workspace as the OS user (its admin, so ``gp server`` may serve it)."""
    admin = local(goldenpath.connect(home, create=True, project=PROJECT))
    admin.access.create_project(PROJECT)  # in team "default"
    source = home.parent / "tx.csv"
    source.write_text(
        "tx_id,amount,country\n" + "".join(f"{i},{i * 1.5:.2f},DE\n" for i in range(1000)),
        encoding="utf-8",
    )
    admin.datasets.ingest(DATASET, source)
    admin.principals.add("bob")
    admin.access.grant("contributor", "bob", project=PROJECT)
    admin.principals.add("carol")
    admin.access.grant("viewer", "carol", team="default")
    secret = admin.principals.create_token(
        "bob", expires_in="1d", scopes=["dataset.read", "project.read"]
    ).secret
    governed = Governed(home, admin, secret)
    governed.principals = {
        "admin (OS user, workspace grant)": admin,
        "contributor on p1 (project grant)": local(
            goldenpath.connect(home, actor="bob", project=PROJECT)
        ),
        "viewer via team grant": local(goldenpath.connect(home, actor="carol", project=PROJECT)),
        "bob's token, 2 scopes": local(goldenpath.connect(home, token=secret)),
    }
    return governed


# -- budget 1: authorization and the audit write -------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """``require`` timed for one principal: a tight-loop mean and per-call percentiles."""

    label: str
    mean: float
    stats: Stats


def measure_require(principals: Mapping[str, Workspace], checks: int) -> list[CheckResult]:
    """``require("dataset.read", "p1")`` per principal, next to a no-op timed the same way."""
    calls: dict[str, Callable[[], object]] = {"no-op call (the timer's floor)": lambda: None}
    for label, ws in principals.items():
        calls[label] = partial(ws.access_control.require, "dataset.read", PROJECT)
    samples = time_interleaved(calls, checks, warmup=1_000)
    return [
        CheckResult(label, tight_loop_mean(call, checks), Stats.of(samples[label]))
        for label, call in calls.items()
    ]


# A table of the benchmark's own, so "one small row" means the same thing on every backend.
BENCH_METADATA = MetaData()
bench_rows = Table(
    "gp_bench_rows",
    BENCH_METADATA,
    Column("id", String(26), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("note", String(64), nullable=False),
)


@dataclass(frozen=True)
class AuditWrite:
    """One-row transactions without and with ``audit.record``, and record() timed alone; and,
    as the engine's floor for any one more statement, the same transaction with a second
    plain insert (the second insert timed alone too)."""

    backend: str
    trail: int  # events in the trail before the measurement
    plain: Stats
    audited: Stats
    record: Stats
    doubled: Stats
    second: Stats

    def cost(self, pick: Callable[[Stats], float]) -> float:
        """The audit write's cost at one percentile: the larger of the two ways to see it."""
        return max(pick(self.record), pick(self.audited) - pick(self.plain))


def trail_length(store: MetadataStore) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def measure_audit_write(store: MetadataStore, backend: str, n: int) -> AuditWrite:
    """Time ``n`` transactions of each kind, interleaved, on ``store``."""
    BENCH_METADATA.create_all(store.engine)
    trail = trail_length(store)
    actor = Actor("bench")
    statement = insert(bench_rows)
    record_seconds: list[float] = []
    second_seconds: list[float] = []

    def plain() -> None:
        with store.begin() as conn:
            conn.execute(statement, {"id": new_id(), "value": 1, "note": "plain"})

    def audited() -> None:
        with store.begin() as conn:
            row_id = new_id()
            conn.execute(statement, {"id": row_id, "value": 1, "note": "audited"})
            started = time.perf_counter()
            audit.record(conn, actor, "bench.write", "bench_row", row_id, {"value": 1})
            record_seconds.append(time.perf_counter() - started)

    def doubled() -> None:
        with store.begin() as conn:
            conn.execute(statement, {"id": new_id(), "value": 1, "note": "plain"})
            started = time.perf_counter()
            conn.execute(statement, {"id": new_id(), "value": 2, "note": "second"})
            second_seconds.append(time.perf_counter() - started)

    samples = time_interleaved(
        {"plain": plain, "audited": audited, "doubled": doubled}, n, warmup=100
    )
    return AuditWrite(
        backend,
        trail,
        Stats.of(samples["plain"]),
        Stats.of(samples["audited"]),
        Stats.of(record_seconds[-n:]),  # without the warm-up
        Stats.of(samples["doubled"]),
        Stats.of(second_seconds[-n:]),
    )


def postgres_version() -> str | None:
    """The server's version if PostgreSQL answers at ``POSTGRES_URL``, else ``None``."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except Exception:
        return None
    return str(row[0]).split()[0] if row else "unknown"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A metadata URL whose search_path is a new, empty schema, dropped afterwards."""
    import psycopg

    schema = f"gp_bench_{new_id().lower()}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def audit_write_on_copy(home: Path, n: int) -> AuditWrite:
    """The audit write on a copy of the big cached trail: does the head look-up stay cheap?"""
    with tempfile.TemporaryDirectory(prefix="gp-bench-trail-") as tmp:
        copy = Path(tmp) / "home"
        shutil.copytree(home, copy)
        store = open_store(f"sqlite:///{copy / 'gp.db'}")
        try:
            return measure_audit_write(store, "SQLite, big trail (a copy)", n)
        finally:
            store.dispose()


def audit_write_on_postgres(n: int) -> AuditWrite:
    with postgres_schema() as url:
        store = open_store(url)
        try:
            return measure_audit_write(store, "PostgreSQL, fresh schema", n)
        finally:
            store.dispose()


class AllowAll:
    """Access control that allows everything without looking: the no-authorization baseline."""

    def __init__(self, principal: Any) -> None:
        self.principal = principal

    def require(self, permission: str, project: str | None = None) -> None:
        return None

    def allowed(self, permission: str, project: str | None = None) -> bool:
        return True

    def projects_with(self, permission: str) -> set[str] | None:
        return None

    def team_of(self, project: str) -> str | None:
        return "default"


def measure_service_calls(gov: Governed, n: int) -> dict[str, dict[str, Stats]]:
    """Two read calls per principal, and through services built with :class:`AllowAll`."""
    admin = gov.admin
    allow_all = cast(AccessControl, AllowAll(admin.access_control.principal))
    services: dict[str, tuple[DatasetService, AccessService]] = {
        "no authorization (baseline)": (
            DatasetService(admin.store, admin.storage_root, admin.actor, allow_all, PROJECT),
            AccessService(admin.store, admin.actor, allow_all),
        )
    }
    for label, ws in gov.principals.items():
        services[label] = (ws.datasets, ws.access)
    results: dict[str, dict[str, Stats]] = {}
    for call, pick in (
        (f"ws.datasets.get('{DATASET}@1')", lambda d, a: partial(d.get, f"{DATASET}@1")),
        ("ws.access.projects()", lambda d, a: a.projects),
    ):
        calls = {label: pick(*pair) for label, pair in services.items()}
        samples = time_interleaved(calls, n, warmup=100)
        results[call] = {label: Stats.of(s) for label, s in samples.items()}
    return results


def report_require(results: Sequence[CheckResult]) -> None:
    rows = [
        [r.label, us(r.mean), us(r.stats.p50), us(r.stats.p99), us(r.stats.max)] for r in results
    ]
    headers = ["principal", "mean us (tight loop)", "p50 us", "p99 us", "max us"]
    print(markdown_table(headers, rows))


def report_audit_writes(writes: Sequence[AuditWrite]) -> None:
    rows = []
    for w in writes:
        rows.append(
            [
                w.backend,
                f"{w.trail:,}",
                f"{ms(w.plain.p50)} / {ms(w.plain.p99)}",
                f"{ms(w.audited.p50)} / {ms(w.audited.p99)}",
                f"{ms(w.audited.p50 - w.plain.p50)} / {ms(w.audited.p99 - w.plain.p99)}",
                f"{ms(w.record.p50)} / {ms(w.record.p99)}",
                f"{ms(w.doubled.p50 - w.plain.p50)} / {ms(w.doubled.p99 - w.plain.p99)}",
                f"{ms(w.second.p50)} / {ms(w.second.p99)}",
            ]
        )
    headers = [
        "backend",
        "events before",
        "insert 1 row: p50 / p99 ms",
        "insert + record(): p50 / p99 ms",
        "difference p50 / p99 ms",
        "record() alone p50 / p99 ms",
        "floor, 1 more plain insert: difference p50 / p99 ms",
        "that insert alone p50 / p99 ms",
    ]
    print(markdown_table(headers, rows))


def report_service_calls(results: Mapping[str, Mapping[str, Stats]]) -> None:
    rows = []
    for call, by_principal in results.items():
        base = by_principal["no authorization (baseline)"]
        for label, s in by_principal.items():
            rows.append(
                [
                    call,
                    label,
                    ms(s.p50),
                    ms(s.p99),
                    f"{(s.p50 - base.p50) * 1e3:+.3f}",
                    f"{(s.p99 - base.p99) * 1e3:+.3f}",
                ]
            )
    headers = ["call", "principal", "p50 ms", "p99 ms", "p50 vs baseline", "p99 vs baseline"]
    print(markdown_table(headers, rows))


def overhead_budgets(checks: Sequence[CheckResult], writes: Sequence[AuditWrite]) -> list[Budget]:
    """Authz (the slowest principal) plus each backend's audit write, against 0.2 ms."""
    principals = checks[1:]  # without the no-op
    authz_p50 = max(c.stats.p50 for c in principals)
    authz_p99 = max(c.stats.p99 for c in principals)
    rows, budgets = [], []
    for w in writes:
        total_p50 = authz_p50 + w.cost(lambda s: s.p50)
        total_p99 = authz_p99 + w.cost(lambda s: s.p99)
        ok50, ok99 = total_p50 * 1e3 < OVERHEAD_BUDGET_MS, total_p99 * 1e3 < OVERHEAD_BUDGET_MS
        rows.append(
            [
                w.backend,
                f"{ms(authz_p50)} / {ms(authz_p99)}",
                f"{ms(w.cost(lambda s: s.p50))} / {ms(w.cost(lambda s: s.p99))}",
                f"{ms(total_p50)} / {ms(total_p99)}",
                f"{verdict(ok50)} / {verdict(ok99)}",
            ]
        )
        budgets.append(
            Budget(
                f"authz + audit write < {OVERHEAD_BUDGET_MS} ms ({w.backend})",
                f"p50 {ms(total_p50)} ms, p99 {ms(total_p99)} ms",
                ok50 and ok99,
            )
        )
    headers = [
        "backend",
        "authz p50 / p99 ms",
        "audit write p50 / p99 ms",
        "added p50 / p99 ms",
        f"< {OVERHEAD_BUDGET_MS} ms: p50 / p99",
    ]
    print(markdown_table(headers, rows))
    return budgets


def run_overhead(gov: Governed, trail_home: Path, sizes: Sizes, pg: str | None) -> list[Budget]:
    """Budget 1: print its tables; return its verdicts."""
    print(f"\n## 1. Authorization and the audit write (load average {load_text()})\n")
    print(f"### AccessControl.require('dataset.read', '{PROJECT}'), {sizes.checks:,} calls each\n")
    checks = measure_require(gov.principals, sizes.checks)
    report_require(checks)
    print(f"\n### One-row metadata transaction, {sizes.transactions:,} of each, interleaved\n")
    writes = [measure_audit_write(gov.admin.store, "SQLite, fresh workspace", sizes.transactions)]
    writes.append(audit_write_on_copy(trail_home, sizes.transactions))
    if pg is not None:
        writes.append(audit_write_on_postgres(sizes.transactions))
    report_audit_writes(writes)
    if pg is None:
        print("\n(PostgreSQL skipped: not reachable, or --skip-postgres)")
    print(f"\n### Read service calls end to end, {sizes.calls:,} each, interleaved\n")
    report_service_calls(measure_service_calls(gov, sizes.calls))
    print("\n### Added by authorization + the audit write\n")
    return overhead_budgets(checks, writes)


# -- budget 2: verifying the audit trail ---------------------------------------------------------

ACTORS = ("alice", "bob", "carol", "svc-etl", "svc-train", "triage-bot")
ROLES = ("viewer", "contributor", "maintainer")
SELECT_ROWS = (
    "SELECT seq, id, at, actor, action, object_type, object_ref, details, prev_hash, hash "
    "FROM audit_events ORDER BY seq"
)


def _event_body(rng: Random, i: int) -> tuple[str, str, str, dict[str, Any]]:
    """What a busy workspace records: mostly ingests, some creations, tokens and grants."""
    kind = rng.random()
    project = f"p{rng.randrange(1, 40)}"
    if kind < 0.6:
        name = f"ds_{rng.randrange(1, 500)}"
        details = {
            "mode": "append",
            "rows": rng.randrange(1, 5_000_000),
            "quarantined": rng.randrange(0, 200),
            "source": f"/data/landing/{name}/part-{i:07d}.parquet",
            "schema_changes": [],
        }
        return "dataset.ingest", "dataset_version", f"{name}@{i}", details
    if kind < 0.75:
        return "dataset.create", "dataset", f"ds_{i}", {"project": project}
    if kind < 0.9:
        details = {
            "principal": rng.choice(ACTORS),
            "scopes": ["dataset.read"],
            "expires_at": "2026-12-24T10:00:00+00:00",
        }
        return "token.create", "token", new_id(), details
    details = {"role": rng.choice(ROLES), "scope": f"project:{project}"}
    return "access.grant", "principal", rng.choice(ACTORS), details


def synthetic_events(prev_hash: str, count: int) -> Iterator[dict[str, Any]]:
    """``count`` audit rows chained onto ``prev_hash``, exactly as ``audit.record`` makes them."""
    rng = Random(SEED)
    start = utcnow()
    for i in range(count):
        at = start + timedelta(milliseconds=30 * i)
        action, object_type, object_ref, details = _event_body(rng, i)
        event_id, actor = new_id(), rng.choice(ACTORS)
        digest = chain_hash(
            prev_hash, event_id, at, actor, action, object_type, object_ref, details
        )
        yield {
            "id": event_id,
            "at": at,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_ref": object_ref,
            "details": details,
            "prev_hash": prev_hash,
            "hash": digest,
        }
        prev_hash = digest


def trail_home(events: int) -> Path:
    return DATA_DIR / f"audit-{events}-v{DATA_VERSION}"


def build_trail(home: Path, events: int) -> str:
    """A workspace whose trail holds ``events`` events and a checkpoint; its admin's name.

    The admin is the OS user (or ``GP_ACTOR``), so that ``gp audit verify`` may read it.
    """
    ws = local(goldenpath.connect(home, create=True))
    try:
        with ws.store.connect() as conn:
            existing = int(
                conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
            )
            head = conn.execute(
                select(audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
            ).scalar()
        rows = synthetic_events(head or GENESIS, events - existing - 1)  # + the checkpoint
        # A transaction per 100,000 events keeps SQLite's WAL file from growing to the full size.
        for transaction in chunked(rows, 100_000):
            with ws.store.begin() as conn:
                for part in chunked(transaction, 20_000):
                    conn.execute(insert(audit_events), part)
        ws.audit.checkpoint()
    finally:
        ws.close()
    with closing(sqlite3.connect(home / "gp.db")) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file to copy
    return ws.actor.name


def ensure_trail(events: int) -> tuple[Path, float | None]:
    """The cached trail of ``events`` events (built now if missing); the build's seconds."""
    home = trail_home(events)
    marker = home / "complete.json"
    if marker.exists():
        return home, None
    shutil.rmtree(home, ignore_errors=True)  # a build that was interrupted
    print(f"building an audit trail of {events:,} events in {home} (cached for later runs)")
    started = time.perf_counter()
    admin = build_trail(home, events)
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"events": events, "admin": admin, "seconds": seconds}) + "\n")
    return home, seconds


def trail_admin(home: Path) -> str | None:
    """Who built the cached trail (and may read it); ``None``: the OS user, as by default."""
    return json.loads((home / "complete.json").read_text()).get("admin")


def verify_in_process(home: Path, events: int, runs: int) -> tuple[float, float]:
    """Best wall time of ``ws.audit.verify()`` and the seconds it reported itself."""
    ws = local(goldenpath.connect(home, actor=trail_admin(home)))
    try:
        wall, result = best_of(runs, ws.audit.verify)
    finally:
        ws.close()
    if not result.ok or result.events != events or result.checkpoint is None:
        raise SystemExit(
            f"verify of the cached trail: ok={result.ok}, {result.events:,} events, "
            f"checkpoint={result.checkpoint is not None}; delete {home} and run again"
        )
    return wall, result.seconds


def verify_cli(home: Path, events: int) -> tuple[float, float]:
    """Wall time of ``gp audit verify --json`` in a new process, and the seconds it reported."""
    admin = trail_admin(home)
    env = {**os.environ, "GP_HOME": str(home), **({"GP_ACTOR": admin} if admin else {})}
    started = time.perf_counter()
    done = subprocess.run(
        [str(GP), "audit", "verify", "--json"], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"gp audit verify exited {done.returncode}: {done.stderr or done.stdout}")
    result = json.loads(done.stdout)
    if not result["ok"] or result["events"] != events:
        raise SystemExit(f"gp audit verify: ok={result['ok']}, {result['events']} events")
    return wall, float(result["seconds"])


def _floor_read(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return sum(1 for _ in conn.execute(SELECT_ROWS))


def _floor_sha256(db: Path) -> int:
    sha256 = hashlib.sha256
    with closing(sqlite3.connect(db)) as conn:
        for row in conn.execute(SELECT_ROWS):
            sha256("\x1f".join(row[1:9]).encode()).hexdigest()
    return 0


def _floor_chain_hash(db: Path) -> int:
    mismatches = 0
    with closing(sqlite3.connect(db)) as conn:
        for _, event_id, at, actor, action, otype, oref, details, prev, digest in conn.execute(
            SELECT_ROWS
        ):
            mismatches += chain_hash(prev, event_id, at, actor, action, otype, oref, details) != (
                digest
            )
    if mismatches:
        raise SystemExit(f"{mismatches} events of the cached trail do not match their hash")
    return 0


FLOORS: dict[str, Callable[[Path], int]] = {
    "floor: read the rows (sqlite3, same query)": _floor_read,
    "floor: read + sha256 of each row's text": _floor_sha256,
    "floor: read + chain_hash() per row (canonical JSON)": _floor_chain_hash,
}


def tamper_check(home: Path, events: int) -> str:
    """Edit one event in a copy, as a careful attacker would (the trigger dropped, then put
    back as it was); verify must name exactly that event."""
    target = events // 2
    with tempfile.TemporaryDirectory(prefix="gp-bench-tamper-") as tmp:
        copy = Path(tmp) / "home"
        shutil.copytree(home, copy)
        with closing(sqlite3.connect(copy / "gp.db")) as db:
            (trigger,) = db.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'audit_events_no_update'"
            ).fetchone()
            db.execute("DROP TRIGGER audit_events_no_update")
            db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = ?", (target,))
            db.execute(trigger)
            db.commit()
        ws = local(goldenpath.connect(copy, actor=trail_admin(home)))
        try:
            result = ws.audit.verify()
        finally:
            ws.close()
    found = [(p.kind, p.seq) for p in result.problems]
    if found != [("edited", target)]:
        raise SystemExit(f"tampered copy: expected [('edited', {target})], verify found {found}")
    return f"event #{target:,} edited in a copy: verify reports exactly that ({found[0][0]})"


def run_verify(home: Path, sizes: Sizes, build_seconds: float | None) -> list[Budget]:
    """Budget 2: print its table; return its verdict."""
    events = sizes.events
    print(f"\n## 2. Verifying {events:,} audit events (load average {load_text()})\n")
    if build_seconds is not None:
        print(f"trail built in {build_seconds:.1f} s\n")
    wall, reported = verify_in_process(home, events, sizes.runs)
    cli_wall, cli_reported = verify_cli(home, events)
    floors = {
        name: best_of(sizes.runs, partial(f, home / "gp.db"))[0] for name, f in FLOORS.items()
    }
    timed: list[tuple[str, float, str]] = [
        (f"ws.audit.verify() (best of {sizes.runs})", wall, f"{reported:.2f}"),
        ("gp audit verify --json (new process, once)", cli_wall, f"{cli_reported:.2f}"),
        *((name, seconds, "-") for name, seconds in floors.items()),
    ]
    rows = [[name, f"{s:.2f}", f"{events / s:,.0f}", own] for name, s, own in timed]
    print(markdown_table(["what", "seconds", "events/s", "verify's own figure, s"], rows))
    print(f"\nsanity: {tamper_check(home, events)}")
    # The budget is for the command: its wall time, start-up included. A smaller trail scales
    # the checking linearly; the start-up (imports, opening the workspace) stays as it is.
    scale = VERIFY_BUDGET_EVENTS / events
    seconds = cli_reported * scale + (cli_wall - cli_reported)
    estimate = "" if scale == 1 else f", extrapolated from {events:,} events"
    return [
        Budget(
            f"gp audit verify 1M events < {VERIFY_BUDGET_S:g} s",
            f"{seconds:.2f} s (CLI wall time{estimate}); in process {wall * scale:.2f} s",
            seconds < VERIFY_BUDGET_S,
        )
    ]


# -- budget 3: the control-plane server ----------------------------------------------------------


def floor_app(kind: str, body: Any) -> Any:
    """A bare app answering the routes we time with ``body``: the floor for our server.

    ``starlette``: an async route, nothing between uvicorn and the JSON response. ``fastapi``:
    a sync ``def`` route, run in the threadpool like ours, with the same return annotation.
    """
    if kind == "starlette":

        async def constant(request: Request) -> JSONResponse:
            return JSONResponse(body)

        return Starlette(
            routes=[Route("/healthz", constant), Route("/api/v1/datasets/{name}", constant)]
        )
    app = FastAPI()

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/datasets/{name}")
    def show(name: str) -> dict[str, Any]:
        return cast(dict[str, Any], body)

    return app


def serve_floor(kind: str, port: int) -> None:
    """Serve :func:`floor_app` with uvicorn as ``gp server`` does (run in its own process)."""
    body = json.loads(os.environ["GP_BENCH_BODY"])
    uvicorn.run(floor_app(kind, body), host="127.0.0.1", port=port, log_level="warning")


# Runs serve_floor(KIND, PORT) in a new process; serving() appends the port.
SERVE_FLOOR = (
    f"import sys; sys.path.insert(0, {str(HERE)!r}); import governance; "
    "governance.serve_floor(sys.argv[1], int(sys.argv[2]))"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode}): {log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"the server at {url} did not start in 60 s: {log.read_text()}")


@contextmanager
def serving(command: Sequence[str], env: Mapping[str, str]) -> Iterator[str]:
    """Run a server (its command gets a free port appended) until the block ends; its URL."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="gp-bench-server-", suffix=".log") as log:
        process = subprocess.Popen(
            [*command, str(port)], env={**os.environ, **env}, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, process, Path(log.name))
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Target:
    """One HTTP endpoint to time."""

    label: str
    url: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


def measure_http(targets: Sequence[Target], n: int) -> dict[str, Stats]:
    """Sequential GETs, one keep-alive client per target, the targets in turn."""
    clients = [httpx.Client(base_url=t.url, headers=t.headers, timeout=10) for t in targets]
    try:

        def get(client: httpx.Client, path: str) -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code} {response.text[:200]}")

        calls = {t.label: partial(get, c, t.path) for t, c in zip(targets, clients, strict=True)}
        samples = time_interleaved(calls, n, warmup=200)
    finally:
        for client in clients:
            client.close()
    return {label: Stats.of(s) for label, s in samples.items()}


def _wrk_seconds(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def run_wrk(target: Target, seconds: int, connections: int = 4) -> tuple[float, float, float]:
    """req/s, p50 and p99 latency (s) from ``wrk`` with ``connections`` keep-alive connections."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in target.headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, target.url + target.path], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors against {target.label}:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not (rps and p50 and p99):
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(rps.group(1)), _wrk_seconds(*p50.groups()), _wrk_seconds(*p99.groups())


async def asgi_get(app: Any, path: str, headers: Mapping[str, str]) -> int:
    """GET ``path`` from an ASGI app directly, without a socket or uvicorn; the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


def measure_asgi(
    targets: Mapping[str, tuple[Any, str, dict[str, str]]], n: int
) -> dict[str, Stats]:
    """Each (app, path, headers) called ``n`` times in turn on one event loop, after a warm-up."""

    async def run() -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {label: [] for label in targets}
        for round_ in range(n + 100):
            for label, (app, path, headers) in targets.items():
                started = time.perf_counter()
                status = await asgi_get(app, path, headers)
                if round_ >= 100:  # the first 100 rounds warm up
                    samples[label].append(time.perf_counter() - started)
                if status != 200:
                    raise SystemExit(f"{label}: GET {path} answered {status}")
        return samples

    return {label: Stats.of(s) for label, s in asyncio.run(run()).items()}


def measure_handler(gov: Governed, n: int) -> dict[str, Stats]:
    """The server's per-request work, in process and without HTTP, step by step."""
    ws = gov.admin
    context = create_app(ws.stack, ws.store).state.context
    header = f"Bearer {gov.secret}"
    identity = authenticate(ws.store, gov.secret)
    access = AccessControl.of(ws.store, identity)
    scoped = Workspace(ws.stack, ws.store, access)
    calls: dict[str, Callable[[], object]] = {
        "authenticate(token): 1 query (token, principal, grants)": partial(
            authenticate, ws.store, gov.secret
        ),
        "AccessControl.of(identity): no query": partial(AccessControl.of, ws.store, identity),
        "Workspace(...)": partial(Workspace, ws.stack, ws.store, access),
        f"ws.datasets.get('{DATASET}'): 1 query": partial(scoped.datasets.get, DATASET),
        "all of it, as the route does (+ as_dict)": lambda: (
            context.workspace(header, None).datasets.get(DATASET).as_dict()
        ),
    }
    return {label: Stats.of(s) for label, s in time_interleaved(calls, n, warmup=100).items()}


def _stats_row(label: str, s: Stats) -> list[str]:
    return [label, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), f"{s.n / s.total:,.0f}"]


def http_section(gov: Governed, sizes: Sizes, use_wrk: bool) -> tuple[Stats, str]:
    """Time the servers over HTTP and print the tables; our authorized read's stats and body."""
    auth = {"Authorization": f"Bearer {gov.secret}"}
    path = f"/api/v1/datasets/{DATASET}"
    gp_command = [str(GP), "server", "--checkpoint-every", "0", "--port"]
    floor_command = [sys.executable, "-c", SERVE_FLOOR]
    with serving(gp_command, {"GP_HOME": str(gov.home)}) as gp_url:
        body = httpx.get(gp_url + path, headers=auth).text
        floor_env = {"GP_BENCH_BODY": body}
        with (
            serving([*floor_command, "starlette"], floor_env) as starlette_url,
            serving([*floor_command, "fastapi"], floor_env) as fastapi_url,
        ):
            targets = [
                Target("floor: Starlette, async route, constant JSON", starlette_url, path),
                Target("floor: FastAPI, sync def route, constant JSON", fastapi_url, path),
                Target("gp server: GET /healthz (no auth)", gp_url, "/healthz"),
                Target(f"gp server: GET {path} (bob's token)", gp_url, path, auth),
            ]
            stats = measure_http(targets, sizes.requests)
            concurrent = {}
            if use_wrk:
                for target in (targets[1], targets[3]):
                    concurrent[target.label] = run_wrk(target, sizes.wrk_seconds)
    if use_wrk:
        workers = [*gp_command[:-1], "--workers", "2", "--port"]
        with serving(workers, {"GP_HOME": str(gov.home)}) as two_url:
            label = f"gp server --workers 2: GET {path} (bob's token)"
            two = Target(label, two_url, path, auth)
            run_wrk(two, 2)  # warm both workers up, as the sequential run warmed the others
            concurrent[label] = run_wrk(two, sizes.wrk_seconds)
    print(
        f"Sequential GETs over one keep-alive httpx.Client each, {sizes.requests:,} per "
        f"target after 200 warm-up, targets in turn; response: {len(body):,} bytes of JSON\n"
    )
    headers = ["target", "p50 ms", "p90 ms", "p99 ms", "max ms", "req/s (sequential)"]
    print(markdown_table(headers, [_stats_row(label, s) for label, s in stats.items()]))
    if concurrent:
        print(f"\nwrk -t1 -c4 -d{sizes.wrk_seconds}s (4 keep-alive connections, 1 client thread)\n")
        rows = [
            [label, f"{rps:,.0f}", ms(p50), ms(p99)]
            for label, (rps, p50, p99) in concurrent.items()
        ]
        print(markdown_table(["target", "req/s", "p50 ms", "p99 ms"], rows))
    return stats[targets[3].label], body


def in_process_section(gov: Governed, body: str, n: int) -> None:
    """Print where a request's time goes without the network: the apps, then the route's steps."""
    ws = gov.admin
    path = f"/api/v1/datasets/{DATASET}"
    auth = {"Authorization": f"Bearer {gov.secret}"}
    ours = create_app(ws.stack, ws.store)
    document = json.loads(body)
    apps = {
        "floor: Starlette, async route": (floor_app("starlette", document), path, {}),
        "floor: FastAPI, sync def route": (floor_app("fastapi", document), path, {}),
        "our app: GET /healthz": (ours, "/healthz", {}),
        f"our app: GET {path} (bob's token)": (ours, path, auth),
    }
    print(f"\nIn process, no socket: the ASGI apps called directly, {n:,} each, in turn\n")
    rows = [[k, ms(s.p50), ms(s.p99)] for k, s in measure_asgi(apps, n).items()]
    print(markdown_table(["app", "p50 ms", "p99 ms"], rows))
    print(f"\nIn process, no HTTP: the route's work step by step, {n:,} each, in turn\n")
    rows = [[k, ms(s.p50), ms(s.p99)] for k, s in measure_handler(gov, n).items()]
    print(markdown_table(["step", "p50 ms", "p99 ms"], rows))


def run_server(gov: Governed, sizes: Sizes, use_wrk: bool) -> list[Budget]:
    """Budget 3: print its tables; return its verdict."""
    print(f"\n## 3. The control-plane server (load average {load_text()})\n")
    ours, body = http_section(gov, sizes, use_wrk)
    in_process_section(gov, body, sizes.calls)
    return [
        Budget(
            f"server authorized read p99 < {SERVER_P99_BUDGET_MS:g} ms",
            f"p99 {ms(ours.p99)} ms (p50 {ms(ours.p50)} ms)",
            ours.p99 * 1e3 < SERVER_P99_BUDGET_MS,
        )
    ]


# -- main ----------------------------------------------------------------------------------------


def print_environment(start_load: str, pg: str | None) -> None:
    """Print what RESULTS.md records about the machine and the versions."""
    packages = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "httpx", "psycopg")
    print(f"machine: {os.cpu_count()} cores (nproc), {platform.machine()}, {platform.system()}")
    print(f"python: {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print(f"PostgreSQL: {pg or 'not measured'}")
    # Other work on a 2-core machine moves these figures a lot; this says how quiet it was.
    print(f"load average (1, 5, 15 min): {start_load} before, {load_text()} after")
    print("versions: " + ", ".join(f"{p} {version(p)}" for p in packages))
    print("wrk: " + ("installed" if shutil.which("wrk") else "not installed"))
    print(f"goldenpath: {source_revision()}")


def source_revision() -> str:
    """The commit measured, and whether src/ had uncommitted changes (they are measured too)."""
    git = ["git", "-C", str(HERE.parent)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "src"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"commit {commit}" + (", with uncommitted changes in src/" if dirty else "")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events, fewer iterations")
    parser.add_argument("--events", type=int, help="audit events to verify (default 1,000,000)")
    parser.add_argument("--runs", type=int, help="verify runs, best kept (default 3)")
    parser.add_argument("--requests", type=int, help="timed HTTP requests per target")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--skip-wrk", action="store_true", help="no concurrent wrk figure")
    parser.add_argument(
        "--only",
        choices=("overhead", "verify", "server"),
        action="append",
        help="run only this budget's section (repeatable; default: all three)",
    )
    args = parser.parse_args(argv)
    for name in ("events", "runs", "requests"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    if args.events is not None and args.events < 100:
        parser.error("--events must be at least 100")
    return args


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else FULL
    overrides = {k: getattr(args, k) for k in ("events", "runs", "requests")}
    return replace(sizes, **{k: v for k, v in overrides.items() if v is not None})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three budgets and print PASS or MISS for each; exit 1 only if a check fails."""
    args = parse_args(argv)
    sizes = sizes_from(args)
    start_load = load_text()
    pg = None if args.skip_postgres else postgres_version()
    use_wrk = not args.skip_wrk and shutil.which("wrk") is not None
    sections = set(args.only or ("overhead", "verify", "server"))
    trail, build_seconds = ensure_trail(sizes.events)
    budgets: list[Budget] = []
    with tempfile.TemporaryDirectory(prefix="gp-bench-gov-") as tmp:
        gov = make_governed(Path(tmp) / "home")
        try:
            if "overhead" in sections:
                budgets += run_overhead(gov, trail, sizes, pg)
            if "verify" in sections:
                budgets += run_verify(trail, sizes, build_seconds)
            if "server" in sections:
                budgets += run_server(gov, sizes, use_wrk)
        finally:
            gov.close()
    print("\n## Budgets\n")
    rows = [[b.name, b.measured, verdict(b.ok)] for b in budgets]
    print(markdown_table(["budget", "measured", "verdict"], rows))
    print()
    print_environment(start_load, pg)
    print(f"command: {' '.join([os.path.relpath(sys.executable), *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
