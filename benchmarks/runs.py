"""Runs: logging and search next to MLflow on SQLite (issue 14, "Performance").

Measured in one run, on the same values (``values(i)``, seeded per run):

1. Runs logged per second: N runs (default 10,000) of 5 parameters and 5 metrics, each logged
   with its own call (``run.log_param`` / ``run.log_metric`` inside ``with ws.runs.start()``),
   as MLflow's ``mlflow.log_param`` / ``mlflow.log_metric`` in ``mlflow.start_run()``, like
   with like, both pairs measured:

   - ours buffered (the default: written in one transaction when the run ends) beside MLflow's
     own asynchronous logging (``synchronous=False``, flushed inside the timing);
   - ours unbuffered (``run.flush()`` after every call: one transaction per call) beside MLflow
     synchronous (``synchronous=True``: every call written before it returns).

   Ours also with the batch calls (``start(params=...)`` and one ``log_metrics``). Each
   configuration logs into its own store; the five are interleaved in ``--rounds`` chunks of
   N/rounds runs (ours buffered, ours unbuffered, ours batched, MLflow sync, MLflow async, then
   again), so they are measured under the same load; each figure is the sum of its chunks,
   after one warm-up run per configuration (not counted; it is one more run in each store).
   Budget: at least 10x MLflow's runs/s, judged for both pairs.
2. Search: ``metrics.roc_auc > 0.8`` ordered by ``metrics.roc_auc desc``, first 100 runs, over
   the N runs: ``ws.runs.list`` in process (p50/p99 of ``--searches`` calls) and ``gp runs
   list`` as a subprocess (``--cli-searches`` calls, whole command), next to MLflow's
   ``mlflow.search_runs`` (same filter, order and ``max_results=100``), in process and as a
   whole ``python -c`` process. Budget: at least 10x faster than MLflow.
3. Ours at ``--big`` runs (default 100,000; built once with the batch calls and cached in
   ``benchmarks/.data/runs-<N>-v1/``): the same searches, showing that the indexes keep them
   fast. MLflow at 100,000 runs would take about 30 minutes to log at its rate, so it is not
   measured there.

MLflow runs in its own virtualenv (``make bench-mlflow-env``: ``.venv-mlflow``) through
``_mlflow_runs_runner.py``; it is never a project dependency.

Run from the repository root::

    .venv/bin/python benchmarks/runs.py                      # the full run (~10 min)
    .venv/bin/python benchmarks/runs.py --runs 100 --big 0 --rounds 2  # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from random import Random

from _report import markdown_table

import goldenpath
from goldenpath.workspace import Workspace

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"
FILTER = "metrics.roc_auc > 0.8"
ORDER = "metrics.roc_auc desc"


def values(i: int) -> tuple[dict[str, object], dict[str, float]]:
    """Run i's params and metrics (``_mlflow_runs_runner.py`` has the same function)."""
    rng = Random(i)
    params = {
        "model": rng.choice(["lgbm", "rf", "lr"]),
        "max_depth": rng.randint(2, 12),
        "learning_rate": round(rng.uniform(0.01, 0.3), 4),
        "n_estimators": rng.choice([100, 200, 500]),
        "seed": i,
    }
    metrics = {
        "roc_auc": rng.uniform(0.5, 1.0),
        "pr_auc": rng.uniform(0.1, 0.9),
        "f1": rng.uniform(0.1, 0.9),
        "log_loss": rng.uniform(0.1, 1.0),
        "accuracy": rng.uniform(0.5, 1.0),
    }
    return params, metrics


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def connect(home: Path) -> Workspace:
    ws = goldenpath.connect(home, actor="bench", create=True)
    assert isinstance(ws, Workspace)
    return ws


def log_one_call_each(ws: Workspace, start: int, count: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + count):
        params, metrics = values(i)
        with ws.runs.start(experiment="bench") as run:
            for key, value in params.items():
                run.log_param(key, value)
            for key, value in metrics.items():
                run.log_metric(key, value)
    return time.perf_counter() - began


def log_unbuffered(ws: Workspace, start: int, count: int) -> float:
    """One transaction per call: what MLflow's synchronous logging does per call."""
    began = time.perf_counter()
    for i in range(start, start + count):
        params, metrics = values(i)
        with ws.runs.start(experiment="bench") as run:
            for key, value in params.items():
                run.log_param(key, value)
                run.flush()
            for key, value in metrics.items():
                run.log_metric(key, value)
                run.flush()
    return time.perf_counter() - began


def log_batched(ws: Workspace, start: int, count: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + count):
        params, metrics = values(i)
        with ws.runs.start(experiment="bench", params=params) as run:
            run.log_metrics(metrics)
    return time.perf_counter() - began


def search_in_process(ws: Workspace, searches: int) -> tuple[list[float], int]:
    found = len(ws.runs.list(FILTER, order_by=ORDER))  # warm: statement caches, pages
    samples = []
    for _ in range(searches):
        began = time.perf_counter()
        ws.runs.list(FILTER, order_by=ORDER)
        samples.append(time.perf_counter() - began)
    return samples, found


def search_cli(home: Path, searches: int) -> list[float]:
    gp = Path(sys.executable).parent / "gp"
    command = [str(gp), "runs", "list", "--filter", FILTER, "--order-by", ORDER]
    env = {**os.environ, "GP_HOME": str(home), "GP_ACTOR": "bench", "COLUMNS": "200"}
    subprocess.run(command, env=env, check=True, capture_output=True)  # warm the file cache
    samples = []
    for _ in range(searches):
        began = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - began)
    return samples


def big_workspace(count: int) -> Path:
    """A workspace of ``count`` runs, built once with the batch calls and cached."""
    home = DATA / f"runs-{count}-v1" / "home"
    done = home.parent / "complete"
    if done.exists():
        return home
    shutil.rmtree(home.parent, ignore_errors=True)
    home.parent.mkdir(parents=True)
    print(f"building a workspace of {count:,} runs (once; cached in {home.parent}) ...")
    with connect(home) as ws:
        seconds = log_batched(ws, 0, count)
    print(f"  logged in {seconds:.0f} s ({count / seconds:,.0f} runs/s)")
    done.write_text("ok\n")
    return home


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def verdict(factor: float | None) -> str:
    if factor is None:
        return "n/a (MLflow not measured)"
    return f"{'PASS' if factor >= 10 else 'MISS'} ({factor:,.1f}x MLflow; budget 10x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs to log (each side)")
    parser.add_argument("--big", type=int, default=100_000, help="ours only; 0 skips it")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved logging chunks")
    parser.add_argument("--searches", type=int, default=50, help="in-process searches")
    parser.add_argument("--cli-searches", type=int, default=5, help="gp runs list calls")
    parser.add_argument("--mlflow-python", type=Path, default=Path(".venv-mlflow/bin/python"))
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores (nproc), {platform.machine()}, {platform.system()}")
    print(f"python: {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print("load average at start: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")

    mlflow: dict[str, float] | None = None
    chunks = [
        (first, min(args.runs, first + -(-args.runs // args.rounds)) - first)
        for first in range(0, args.runs, -(-args.runs // args.rounds))
    ]
    seconds = {"buffered": 0.0, "unbuffered": 0.0, "batched": 0.0, "sync": 0.0, "async": 0.0}
    with tempfile.TemporaryDirectory(prefix="gp-bench-runs-") as tmp:
        base = Path(tmp)
        worker: subprocess.Popen[str] | None = None
        if not args.skip_mlflow:
            if not args.mlflow_python.exists():
                sys.exit(
                    f"{args.mlflow_python} is missing: make bench-mlflow-env (or --skip-mlflow)"
                )
            worker = subprocess.Popen(
                [str(args.mlflow_python), str(ROOT / "_mlflow_runs_runner.py"), str(base / "mlf")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )

        def ask(command: dict[str, object]) -> dict[str, float]:
            assert worker is not None and worker.stdin and worker.stdout
            worker.stdin.write(json.dumps(command) + "\n")
            worker.stdin.flush()
            line = worker.stdout.readline()
            if not line:
                sys.exit(f"the MLflow worker stopped (exit {worker.wait()})")
            return dict(json.loads(line))

        print(
            f"logging {args.runs:,} runs per configuration, interleaved in {len(chunks)} chunks"
            + ("" if worker else " (MLflow skipped)")
        )
        home = base / "ours"
        with (
            connect(home) as buffered_ws,
            connect(base / "unbuffered") as unbuffered_ws,
            connect(base / "batched") as batched_ws,
        ):
            # One warm-up run per configuration (imports, schema, caches; not counted).
            log_one_call_each(buffered_ws, args.runs, 1)
            log_unbuffered(unbuffered_ws, args.runs, 1)
            log_batched(batched_ws, args.runs, 1)
            if worker:
                for mode in ("sync", "async"):
                    ask({"op": "log", "mode": mode, "start": args.runs, "count": 1})
            for first, count in chunks:
                seconds["buffered"] += log_one_call_each(buffered_ws, first, count)
                seconds["unbuffered"] += log_unbuffered(unbuffered_ws, first, count)
                seconds["batched"] += log_batched(batched_ws, first, count)
                if worker:
                    for mode in ("sync", "async"):
                        reply = ask({"op": "log", "mode": mode, "start": first, "count": count})
                        seconds[mode] += reply["seconds"]
            in_process, found = search_in_process(buffered_ws, args.searches)
        if worker:
            print(f"MLflow: searching {args.runs:,} runs ...")
            mlflow = ask(
                {
                    "op": "search",
                    "searches": max(5, args.searches // 5),
                    "process_searches": args.cli_searches,
                }
            )
            worker.wait(timeout=60)
        cli = search_cli(home, args.cli_searches)

        big: tuple[list[float], list[float], int] | None = None
        if args.big:
            big_home = big_workspace(args.big)
            with connect(big_home) as ws:
                samples, big_found = search_in_process(ws, args.searches)
            big = (samples, search_cli(big_home, args.cli_searches), big_found)

    rate = {name: args.runs / value for name, value in seconds.items()}
    print()
    print(
        f"### Logging: {args.runs:,} runs x (5 params + 5 metrics), SQLite, "
        f"interleaved in {len(chunks)} chunks"
    )
    print()
    labels = {
        "buffered": "goldenpath, one call per param and metric, buffered (default)",
        "async": "MLflow, log_param/log_metric, asynchronous (synchronous=False)",
        "unbuffered": "goldenpath, one call per param and metric, run.flush() after each",
        "sync": "MLflow, log_param/log_metric, synchronous",
        "batched": "goldenpath, batch calls (start(params=...), one log_metrics)",
    }
    rows = [
        [labels[name], f"{seconds[name]:,.1f}", f"{rate[name]:,.0f}"]
        for name in ("buffered", "async", "unbuffered", "sync", "batched")
        if worker or name not in ("sync", "async")
    ]
    print(markdown_table(["", "seconds", "runs/s"], rows))
    print()
    buffered_factor = rate["buffered"] / rate["async"] if worker else None
    unbuffered_factor = rate["unbuffered"] / rate["sync"] if worker else None
    print(f"logging, buffered vs MLflow async: {verdict(buffered_factor)}")
    print(f"logging, unbuffered vs MLflow sync: {verdict(unbuffered_factor)}")

    print()
    print(f"### Search: `{FILTER}` ordered by `{ORDER}`, first {found:,} matches")
    print()
    p50, p99 = statistics.median(in_process), percentile(in_process, 0.99)
    header = ["", "runs", "p50 ms", "p99 ms", "calls"]
    table: list[list[str]] = [
        ["ws.runs.list, in process", f"{args.runs:,}", ms(p50), ms(p99), str(len(in_process))],
        [
            "gp runs list, whole command",
            f"{args.runs:,}",
            ms(statistics.median(cli)),
            ms(max(cli)),
            str(len(cli)),
        ],
    ]
    if mlflow:
        table.append(
            [
                f"MLflow {mlflow['version']} search_runs",
                f"{args.runs:,}",
                ms(mlflow["search_p50_s"]),
                ms(mlflow["search_p99_s"]),
                str(int(mlflow["searches"])),
            ]
        )
        table.append(
            [
                "MLflow search_runs, whole python -c process",
                f"{args.runs:,}",
                ms(mlflow["process_p50_s"]),
                ms(mlflow["process_max_s"]),
                str(int(mlflow["process_searches"])),
            ]
        )
    if big:
        samples, cli_big, _ = big
        table.append(
            [
                "ws.runs.list, in process",
                f"{args.big:,}",
                ms(statistics.median(samples)),
                ms(percentile(samples, 0.99)),
                str(len(samples)),
            ]
        )
        table.append(
            [
                "gp runs list, whole command",
                f"{args.big:,}",
                ms(statistics.median(cli_big)),
                ms(max(cli_big)),
                str(len(cli_big)),
            ]
        )
    print(markdown_table(header, table))
    print("(p99 of the whole-process calls is their maximum)")
    print()
    factor = mlflow["search_p50_s"] / p50 if mlflow else None
    print(f"search in process, p50: {verdict(factor)}")
    cli_factor = mlflow["search_p50_s"] / statistics.median(cli) if mlflow else None
    print(f"gp runs list (process start included) vs search_runs in process: {verdict(cli_factor)}")
    whole = mlflow["process_p50_s"] / statistics.median(cli) if mlflow else None
    print(f"gp runs list vs a python -c process running search_runs: {verdict(whole)}")


if __name__ == "__main__":
    main()
