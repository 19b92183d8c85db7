"""Contract validation and ingest throughput (issue 3).

Times three engines counting the same 16 row-rule violations on the same in-memory data:

* goldenpath: ``validate_batch`` (the validator ``gp data ingest`` runs);
* raw DuckDB: one hand-written query, the practical limit for this machine;
* pandera 0.35 (pandas backend), in its own virtualenv so it never becomes a project dependency.

Then it times ``ws.datasets.ingest`` end to end for a Parquet and a CSV file against a raw
``deltalake.write_deltalake`` of the already-read table.

Run from the repository root::

    .venv/bin/python benchmarks/validation.py                          # 5,000,000 rows, best of 3
    .venv/bin/python benchmarks/validation.py --rows 200000 --runs 1   # a quick check

The data is generated deterministically and cached as Parquet under ``benchmarks/.data/``.
Budgets: goldenpath >= 2x pandera's rows/s, and at most 2x the time of the raw DuckDB query,
each judged twice: for ``split=False`` (``gp data validate``, reject contracts) and for
``split=True`` (what ingest with a quarantine contract runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from _report import markdown_table
from _timing import best_of
from deltalake import write_deltalake
from pyarrow import csv

import goldenpath
from goldenpath.data.contracts import Contract, parse_contract
from goldenpath.data.validation import validate_batch

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / ".data"
PANDERA_VENV = HERE / ".venv-pandera"
PANDERA_RUNNER = HERE / "_pandera_runner.py"
PANDERA_REQUIREMENTS = ("pandera==0.35.*", "pandas", "pyarrow", "numpy")

SEED = 20261124
# Part of the cache file name: bump it whenever generate() changes what it produces.
DATA_VERSION = 1
DEFAULT_ROWS = 5_000_000
DEFAULT_CSV_ROWS = 1_000_000
# validate_batch needs "now" only for freshness rules; a fixed value keeps runs comparable.
NOW = datetime(2026, 11, 24, tzinfo=UTC)

# on_violation: quarantine lets the ingest benchmark keep the valid rows instead of refusing the
# batch; validate_batch itself ignores it unless split=True.
CONTRACT_YAML = """\
on_violation: quarantine
columns:
  tx_id:    {unique: true}
  user_id:  {nullable: false, min: 1, max: 1000000}
  amount:   {nullable: false, min: 0, max: 50000}
  currency: {allowed: [EUR, USD, GBP, CHF]}
  country:  {allowed: [DE, FR, US, GB, ES, IT, NL, PL, SE, CH, AT, BE]}
  channel:  {allowed: [web, app, pos]}
  score:    {min: 0, max: 1}
  ts:       {nullable: false, min: "2024-01-01"}
  is_fraud: {nullable: false}
  merchant: {regex: "^m_[a-z]{3}_[0-9]{4}$"}
"""

RULES = (
    "tx_id.unique",
    "user_id.not_null",
    "user_id.min",
    "user_id.max",
    "amount.not_null",
    "amount.min",
    "amount.max",
    "currency.allowed",
    "country.allowed",
    "channel.allowed",
    "score.min",
    "score.max",
    "ts.not_null",
    "ts.min",
    "is_fraud.not_null",
    "merchant.regex",
)

# The same 16 rules written by hand, as someone who knows DuckDB would: one scan for the 15
# row predicates, one GROUP BY for uniqueness, nothing else (no examples, no failing-row count).
DUCKDB_SQL = """
WITH counts AS (
    SELECT
        count(*) FILTER (WHERE user_id IS NULL) AS "user_id.not_null",
        count(*) FILTER (WHERE user_id < 1) AS "user_id.min",
        count(*) FILTER (WHERE user_id > 1000000) AS "user_id.max",
        count(*) FILTER (WHERE amount IS NULL) AS "amount.not_null",
        count(*) FILTER (WHERE amount < 0) AS "amount.min",
        count(*) FILTER (WHERE amount > 50000) AS "amount.max",
        count(*) FILTER (WHERE currency NOT IN ('EUR', 'USD', 'GBP', 'CHF')) AS "currency.allowed",
        count(*) FILTER (
            WHERE country NOT IN ('DE', 'FR', 'US', 'GB', 'ES', 'IT', 'NL', 'PL', 'SE', 'CH',
                                  'AT', 'BE')
        ) AS "country.allowed",
        count(*) FILTER (WHERE channel NOT IN ('web', 'app', 'pos')) AS "channel.allowed",
        count(*) FILTER (WHERE score < 0) AS "score.min",
        count(*) FILTER (WHERE score > 1) AS "score.max",
        count(*) FILTER (WHERE ts IS NULL) AS "ts.not_null",
        count(*) FILTER (WHERE ts < TIMESTAMP '2024-01-01') AS "ts.min",
        count(*) FILTER (WHERE is_fraud IS NULL) AS "is_fraud.not_null",
        count(*) FILTER (
            WHERE NOT regexp_full_match(merchant, '^m_[a-z]{3}_[0-9]{4}$')
        ) AS "merchant.regex"
    FROM batch
), dups AS (
    SELECT coalesce(sum(n), 0) AS "tx_id.unique"
    FROM (SELECT count(*) AS n FROM batch WHERE tx_id IS NOT NULL GROUP BY tx_id HAVING n > 1)
)
SELECT * FROM counts, dups
"""


# -- data ----------------------------------------------------------------------------------------


def _planted(rng: np.random.Generator, rows: int, rate: float) -> np.ndarray:
    """A boolean mask marking about ``rate`` of the rows, for planting bad values."""
    return rng.random(rows) < rate


def _pick(rng: np.random.Generator, rows: int, good: Sequence[str], bad: Sequence[str]) -> pa.Array:
    """Strings drawn from ``good``, with about 0.05% replaced by one of ``bad``."""
    index = rng.integers(0, len(good), rows)
    wrong = _planted(rng, rows, 0.0005)
    index[wrong] = len(good) + rng.integers(0, len(bad), int(wrong.sum()))
    return pa.array([*good, *bad], pa.string()).take(pa.array(index))


def _tx_ids(rng: np.random.Generator, rows: int) -> pa.Array:
    """``tx_<n>`` ids, unique except for about 0.02% of rows copied from another row."""
    ids = np.arange(rows, dtype=np.int64)
    copies = np.flatnonzero(_planted(rng, rows, 0.0002))
    ids[copies] = rng.integers(0, rows, copies.size)
    return pc.binary_join_element_wise("tx_", pc.cast(pa.array(ids), pa.string()), "")


def _merchants(rng: np.random.Generator, rows: int) -> pa.Array:
    """``m_abc_0042`` names, with about 0.05% that break the contract's regex."""
    letters = rng.integers(0, 26, (500, 3))
    pool = pa.array(["".join(chr(97 + c) for c in word) for word in letters], pa.string())
    prefix = pool.take(pa.array(rng.integers(0, len(pool), rows)))
    number = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10_000, rows)), pa.string()), 4, "0")
    good = pc.binary_join_element_wise("m_", prefix, "_", number, "")
    bad = pa.array(["M_ABC_0001", "m_ab_1234", "m_abc_12345", "merchant 7"], pa.string())
    wrong = _planted(rng, rows, 0.0005)
    return pc.if_else(pa.array(wrong), bad.take(pa.array(rng.integers(0, len(bad), rows))), good)


def _user_ids(rng: np.random.Generator, rows: int) -> pa.Array:
    """Ids in 1..1,000,000, with some 0s, some above the range and some nulls."""
    values = rng.integers(1, 1_000_001, rows)
    values[_planted(rng, rows, 0.0003)] = 0
    values[_planted(rng, rows, 0.0003)] = 1_000_001 + rng.integers(0, 1000)
    return pa.array(values, mask=_planted(rng, rows, 0.0002))


def _amounts(rng: np.random.Generator, rows: int) -> pa.Array:
    """Log-normal amounts, with some negatives, some far too large and some nulls."""
    values = np.round(rng.lognormal(3.5, 1.2, rows), 2)
    negative = _planted(rng, rows, 0.0005)
    values[negative] = -values[negative]
    values[_planted(rng, rows, 0.0002)] = 1e7
    return pa.array(values, mask=_planted(rng, rows, 0.001))


def _scores(rng: np.random.Generator, rows: int) -> pa.Array:
    """Scores in [0, 1), with some below and some above."""
    values = rng.random(rows)
    values[_planted(rng, rows, 0.0002)] = -0.25
    values[_planted(rng, rows, 0.0002)] = 1.5
    return pa.array(values)


def _timestamps(rng: np.random.Generator, rows: int) -> pa.Array:
    """Times in 2024-2025, with some in 2023 (before the bound) and some nulls."""
    # Whole seconds, so a CSV round trip gives back exactly the same values.
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    seconds = start + rng.integers(0, 2 * 365 * 86_400, rows)
    early = _planted(rng, rows, 0.0004)
    seconds[early] = start - rng.integers(1, 365 * 86_400, int(early.sum()))
    micros = seconds.astype(np.int64) * 1_000_000
    return pa.array(micros, pa.timestamp("us"), mask=_planted(rng, rows, 0.0001))


def generate(rows: int, seed: int = SEED) -> pa.Table:
    """A deterministic 10-column transactions table with a few bad values planted per rule."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {
        "tx_id": _tx_ids(rng, rows),
        "user_id": _user_ids(rng, rows),
        "amount": _amounts(rng, rows),
        "currency": _pick(rng, rows, ["EUR", "USD", "GBP", "CHF"], ["XXX", "eur"]),
        "country": _pick(
            rng,
            rows,
            ["DE", "FR", "US", "GB", "ES", "IT", "NL", "PL", "SE", "CH", "AT", "BE"],
            ["ZZ", "de"],
        ),
        "channel": _pick(rng, rows, ["web", "app", "pos"], ["fax", "WEB"]),
        "score": _scores(rng, rows),
        "ts": _timestamps(rng, rows),
        "is_fraud": pa.array(rng.random(rows) < 0.01, mask=_planted(rng, rows, 0.0001)),
        "merchant": _merchants(rng, rows),
    }
    return pa.table(columns)


def parquet_path(rows: int) -> Path:
    """Where the generated table of ``rows`` rows is cached."""
    return DATA_DIR / f"tx-{rows}-seed{SEED}-v{DATA_VERSION}.parquet"


def load_data(rows: int) -> tuple[pa.Table, Path]:
    """The benchmark table, generated once and then read back from the Parquet cache."""
    path = parquet_path(rows)
    if not path.exists():
        print(f"generating {rows:,} rows into {path.relative_to(HERE.parent)} ...", flush=True)
        started = time.perf_counter()
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        pq.write_table(generate(rows), partial)
        partial.replace(path)
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    return pq.read_table(path), path


def csv_path(table: pa.Table, rows: int, source: Path) -> Path:
    """The first ``rows`` rows as a cached CSV file."""
    path = source.with_name(f"{source.stem}-first{rows}.csv")
    if not path.exists():
        partial = path.with_suffix(".tmp")
        csv.write_csv(table.slice(0, rows), partial)
        partial.replace(path)
    return path


# -- timing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineResult:
    """One engine's best time and the violation count it found per rule."""

    engine: str
    seconds: float
    counts: dict[str, int]
    rows_failed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _goldenpath(table: pa.Table, contract: Contract, split: bool) -> Callable[[], EngineResult]:
    """One timed goldenpath run: ``validate_batch`` as ingest calls it."""

    def run() -> EngineResult:
        report = validate_batch(table, contract, now=NOW, split=split).report
        counts = {r.rule: r.failed for r in report.results}
        label = "goldenpath (split=True)" if split else "goldenpath"
        return EngineResult(label, 0.0, counts, report.rows_failed)

    return run


def _raw_duckdb(table: pa.Table) -> Callable[[], EngineResult]:
    """One timed run of the hand-written DuckDB query."""

    def run() -> EngineResult:
        # A fresh connection per run, as validate_batch does, so both pay the same setup.
        con = duckdb.connect()
        try:
            con.register("batch", table)
            cursor = con.execute(DUCKDB_SQL)
            names = [d[0] for d in cursor.description]
            (row,) = cursor.fetchall()
            counts = {name: int(value) for name, value in zip(names, row, strict=True)}
            return EngineResult("raw DuckDB", 0.0, counts)
        finally:
            con.close()

    return run


def time_in_process(table: pa.Table, contract: Contract, runs: int) -> list[EngineResult]:
    """Best-of-``runs`` times of the in-process engines.

    The engines take turns within each round rather than running back to back, so a burst of
    load from elsewhere on a small machine hurts them alike instead of skewing one ratio.
    """
    engines = [
        _goldenpath(table, contract, split=False),
        _raw_duckdb(table),
        _goldenpath(table, contract, split=True),
    ]
    best: list[EngineResult | None] = [None] * len(engines)
    for _ in range(runs):
        for index, engine in enumerate(engines):
            seconds, result = best_of(1, engine)
            known = best[index]
            if known is None or seconds < known.seconds:
                best[index] = replace(result, seconds=seconds)
    return [r for r in best if r is not None]


# -- pandera (in its own virtualenv) -------------------------------------------------------------


def pandera_python() -> Path:
    """The pandera virtualenv's interpreter, creating the virtualenv first if it is missing."""
    python = PANDERA_VENV / "bin" / "python"
    marker = PANDERA_VENV / ".installed"
    wanted = " ".join(PANDERA_REQUIREMENTS)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    print(f"creating {PANDERA_VENV.relative_to(HERE.parent)} with {wanted} ...", flush=True)
    if PANDERA_VENV.exists():
        shutil.rmtree(PANDERA_VENV)
    subprocess.run([sys.executable, "-m", "venv", str(PANDERA_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *PANDERA_REQUIREMENTS], check=True
    )
    # Written last, so an interrupted install is redone next time instead of half-used.
    marker.write_text(wanted)
    return python


def time_pandera(path: Path, contract: Contract, runs: int) -> EngineResult:
    """Run _pandera_runner.py in the pandera virtualenv on the cached Parquet file."""
    spec = {
        name: rules.model_dump(exclude_none=True, exclude_defaults=True)
        for name, rules in contract.columns.items()
    }
    command = [str(pandera_python()), str(PANDERA_RUNNER), str(path), "--runs", str(runs)]
    done = subprocess.run(command, input=json.dumps(spec), capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the pandera runner failed (exit {done.returncode})")
    out = json.loads(done.stdout)
    extra = {k: out[k] for k in ("read_seconds", "convert_seconds", "versions", "dtypes")}
    return EngineResult("pandera", out["seconds"], out["counts"], out["rows_failed"], extra)


# -- ingest --------------------------------------------------------------------------------------


class StepTimer:
    """A goldenpath Progress that records how long each ingest step took."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started


@dataclass(frozen=True)
class IngestResult:
    """End-to-end ingest of one file against the raw read and Delta write of the same data."""

    fmt: str
    rows: int
    seconds: float
    steps: dict[str, float]
    kept: int
    quarantined: int
    raw_read: float
    raw_write: float


def _ingest_once(source: Path, contract_file: Path) -> tuple[dict[str, float], int, int]:
    """One ingest into a new workspace; the steps' seconds, rows kept and rows quarantined."""
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
        home = Path(tmp) / "ws"
        # Explicit stack settings, so GP_* variables in the environment cannot redirect it.
        with goldenpath.connect(
            home, create=True, metadata=f"sqlite:///{home / 'gp.db'}", storage=str(home / "s")
        ) as ws:
            timer = StepTimer()
            result = ws.datasets.ingest("tx", source, contract=contract_file, progress=timer)
            return timer.seconds, result.version.batch_rows, result.version.quarantined_rows


def _raw_write_seconds(table: pa.Table, runs: int) -> float:
    """Best time of a bare ``write_deltalake`` of ``table`` into a new table."""

    def write() -> None:
        with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
            write_deltalake(str(Path(tmp) / "table"), table)

    return best_of(runs, write)[0]


def time_ingest(source: Path, fmt: str, contract_file: Path, runs: int) -> IngestResult:
    """Best-of-``runs`` ingest of ``source``, each into a fresh workspace."""

    def read() -> pa.Table:
        return pq.read_table(source) if fmt == "parquet" else csv.read_csv(source)

    raw_read, table = best_of(runs, read)
    raw_write = _raw_write_seconds(table, runs)
    seconds, (steps, kept, quarantined) = best_of(runs, lambda: _ingest_once(source, contract_file))
    return IngestResult(fmt, table.num_rows, seconds, steps, kept, quarantined, raw_read, raw_write)


# -- reporting -----------------------------------------------------------------------------------


def check_counts(results: Sequence[EngineResult]) -> list[str]:
    """Print every engine's count per rule; return the rules where the engines disagree."""
    headers = ["rule", *(r.engine for r in results)]
    rows, disagree = [], []
    for rule in RULES:
        values = [r.counts.get(rule) for r in results]
        if len(set(values)) != 1 or None in values:
            disagree.append(rule)
        rows.append([rule, *(f"{v:,}" if v is not None else "-" for v in values)])
    failed = [r.rows_failed for r in results]
    rows.append(["(rows failing any rule)", *(f"{v:,}" if v is not None else "-" for v in failed)])
    print(markdown_table(headers, rows))
    known = {v for v in failed if v is not None}
    if len(known) > 1:
        disagree.append("rows failing any rule")
    return disagree


def report_engines(rows: int, results: Sequence[EngineResult]) -> None:
    """Print seconds and rows/s per engine, and PASS or MISS for each budget."""
    by_name = {r.engine: r for r in results}
    gp, raw = by_name["goldenpath"], by_name["raw DuckDB"]
    table = []
    for r in results:
        vs_gp = f"{r.seconds / gp.seconds:.2f}x" if r is not gp else "1.00x"
        table.append([r.engine, f"{r.seconds:.3f}", f"{rows / r.seconds:,.0f}", vs_gp])
    print(markdown_table(["engine", "seconds (best)", "rows/s", "time vs goldenpath"], table))
    print()
    # Two modes, two verdicts: split=False is what `gp data validate` and a reject contract
    # run; split=True (also returning the valid and quarantined rows) is what ingest runs
    # with a quarantine contract. Judging only the cheaper mode would flatter the budget.
    modes = [
        (gp, "split=False: gp data validate, reject contracts"),
        (by_name["goldenpath (split=True)"], "split=True: ingest with a quarantine contract"),
    ]
    for engine, mode in modes:
        if "pandera" in by_name:
            speedup = by_name["pandera"].seconds / engine.seconds
            verdict = "PASS" if speedup >= 2 else "MISS"
            print(f"{verdict}  {mode}: rows/s = {speedup:.2f}x pandera's (budget >= 2x)")
        else:
            print(f"SKIP  {mode}: pandera budget (--skip-pandera)")
        ratio = engine.seconds / raw.seconds
        verdict = "PASS" if ratio <= 2 else "MISS"
        print(f"{verdict}  {mode}: time = {ratio:.2f}x raw DuckDB's (budget <= 2x)")
    if "pandera" in by_name:
        extra = by_name["pandera"].extra
        print(
            f"      pandera outside the timing: read Parquet {extra['read_seconds']:.2f} s, "
            f"Arrow -> pandas {extra['convert_seconds']:.2f} s"
        )


def report_ingest(results: Sequence[IngestResult]) -> None:
    """Print the ingest table: end to end, per step, and the raw read and write."""
    headers = [
        "format",
        "rows",
        "ingest s",
        "ingest rows/s",
        "read",
        "validate",
        "write",
        "profile",
        "record",
        "other",
        "raw read s",
        "raw write_deltalake s",
        "raw write rows/s",
        "ingest / raw write",
    ]
    rows = []
    for r in results:
        step = [f"{r.steps.get(s, 0.0):.2f}" for s in ("read", "validate", "write", "profile")]
        rows.append(
            [
                r.fmt,
                f"{r.rows:,}",
                f"{r.seconds:.2f}",
                f"{r.rows / r.seconds:,.0f}",
                *step,
                f"{r.steps.get('record', 0.0):.3f}",
                # Outside the steps: opening the dataset lock, loading the contract, metadata
                # look-ups, the schema diff.
                f"{r.seconds - sum(r.steps.values()):.2f}",
                f"{r.raw_read:.2f}",
                f"{r.raw_write:.2f}",
                f"{r.rows / r.raw_write:,.0f}",
                f"{r.seconds / r.raw_write:.1f}x",
            ]
        )
    print(markdown_table(headers, rows))
    for r in results:
        print(f"  {r.fmt}: {r.kept:,} rows kept, {r.quarantined:,} quarantined")


def print_environment(pandera: EngineResult | None, load: tuple[float, float, float]) -> None:
    """Print what RESULTS.md records about the machine and the versions."""
    packages = {p: version(p) for p in ("duckdb", "pyarrow", "deltalake", "numpy")}
    if pandera is not None:
        packages.update({f"{k} (pandera venv)": v for k, v in pandera.extra["versions"].items()})
    print(f"machine: {os.cpu_count()} cores (nproc), {platform.machine()}, {platform.system()}")
    print(f"python: {platform.python_version()}")
    # Other work on a 2-core machine moves these figures a lot; this says how quiet it was.
    print("load average (1, 5, 15 min) before the run: " + ", ".join(f"{v:.2f}" for v in load))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in packages.items()))


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows to validate")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument(
        "--csv-rows",
        type=int,
        default=DEFAULT_CSV_ROWS,
        help="rows in the CSV ingest file (the first of the table; capped at --rows)",
    )
    parser.add_argument("--skip-pandera", action="store_true", help="no pandera comparison")
    parser.add_argument("--skip-ingest", action="store_true", help="no ingest measurement")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.runs < 1 or args.csv_rows < 1:
        parser.error("--rows, --runs and --csv-rows must be at least 1")
    return args


def run_validation(
    table: pa.Table, path: Path, contract: Contract, args: argparse.Namespace
) -> EngineResult | None:
    """Time the engines, insist they agree, and print the comparison; the pandera result."""
    print(f"\n## Validation: {table.num_rows:,} rows, {len(RULES)} rules, best of {args.runs}\n")
    gp, raw, gp_split = time_in_process(table, contract, args.runs)
    pandera = None if args.skip_pandera else time_pandera(path, contract, args.runs)
    results = [gp, raw, *([pandera] if pandera is not None else []), gp_split]
    disagree = check_counts(results)
    if disagree:
        raise SystemExit(f"the engines disagree on: {', '.join(disagree)}")
    print("\nall engines agree on every rule's count\n")
    report_engines(table.num_rows, results)
    return pandera


def run_ingest(table: pa.Table, path: Path, args: argparse.Namespace) -> None:
    """Time ingest of the Parquet file and of a CSV of its first rows, and print the table."""
    csv_rows = min(args.csv_rows, table.num_rows)
    sources = [(path, "parquet"), (csv_path(table, csv_rows, path), "csv")]
    print(f"\n## Ingest (ws.datasets.ingest, quarantine contract), best of {args.runs}\n")
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
        contract_file = Path(tmp) / "contract.yaml"
        contract_file.write_text(CONTRACT_YAML, encoding="utf-8")
        results = [time_ingest(src, fmt, contract_file, args.runs) for src, fmt in sources]
    report_ingest(results)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if the engines disagree on any count."""
    args = parse_args(argv)
    load = os.getloadavg()
    contract = parse_contract(CONTRACT_YAML).contract
    if contract.rule_count() != len(RULES):
        raise SystemExit(f"the contract states {contract.rule_count()} rules, not {len(RULES)}")
    table, path = load_data(args.rows)
    pandera = run_validation(table, path, contract, args)
    if not args.skip_ingest:
        run_ingest(table, path, args)
    print()
    print_environment(pandera, load)
    print(f"command: {' '.join([os.path.relpath(sys.executable), *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
