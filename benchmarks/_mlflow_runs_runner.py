"""The MLflow side of benchmarks/runs.py; runs inside MLflow's own virtualenv (never
goldenpath's).

A worker driven by benchmarks/runs.py one JSON line at a time on stdin, so that its logging is
interleaved with ours chunk by chunk (the same load on both sides), each answered by one JSON
line on stdout:

- ``{"op": "log", "mode": "sync"|"async", "start": i, "count": n}``: logs runs i..i+n-1 to that
  mode's own SQLite tracking store in the directory (``sync.db``, ``async.db``), each with 5
  parameters and 5 metrics through ``mlflow.log_param`` / ``mlflow.log_metric`` (one call each,
  what a notebook does), the same values as ours (``values(i)``). ``sync``: every call is
  written before it returns (``synchronous=True``), like goldenpath with ``run.flush()`` after
  every call. ``async``: MLflow's own asynchronous logging (``synchronous=False``), then
  ``mlflow.flush_async_logging()`` inside the timing, so what is timed is written, like
  goldenpath's buffered logging, written when each run ends. Answers ``{"seconds": s}``.
- ``{"op": "search", "searches": k, "process_searches": m}``: times ``mlflow.search_runs``
  with the benchmark's filter and order over the ``sync`` store, in process and as a whole
  ``python -c`` process (start, import, search); answers the figures and exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from random import Random

FILTER = "metrics.roc_auc > 0.8"
ORDER = "metrics.roc_auc DESC"


def values(i: int) -> tuple[dict[str, object], dict[str, float]]:
    """Run i's params and metrics (benchmarks/runs.py has the same function)."""
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
    import mlflow

    base: Path = args.directory.resolve()
    base.mkdir(parents=True, exist_ok=True)
    experiments: dict[str, str] = {}

    def use(mode: str) -> str:
        mlflow.set_tracking_uri(f"sqlite:///{base / (mode + '.db')}")
        if mode not in experiments:
            experiments[mode] = mlflow.create_experiment(
                "bench", artifact_location=str(base / f"artifacts-{mode}")
            )
        return experiments[mode]

    def log(mode: str, first: int, count: int) -> float:
        experiment = use(mode)
        synchronous = mode == "sync"
        began = time.perf_counter()
        for i in range(first, first + count):
            params, metrics = values(i)
            with mlflow.start_run(experiment_id=experiment):
                for key, value in params.items():
                    mlflow.log_param(key, value, synchronous=synchronous)
                for key, value in metrics.items():
                    mlflow.log_metric(key, value, synchronous=synchronous)
        if not synchronous:
            mlflow.flush_async_logging()
        return time.perf_counter() - began

    def answer(payload: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "log":
            seconds = log(str(command["mode"]), int(command["start"]), int(command["count"]))
            answer({"seconds": seconds})
            continue
        experiment = use("sync")

        def search(experiment: str = experiment) -> int:
            found = mlflow.search_runs(
                experiment_ids=[experiment], filter_string=FILTER, order_by=[ORDER], max_results=100
            )
            return len(found)

        rows = search()  # warm
        samples = []
        for _ in range(int(command["searches"])):
            began = time.perf_counter()
            search()
            samples.append(time.perf_counter() - began)
        # The same search as a whole process (interpreter start, import mlflow, the search), as
        # `gp runs list` is measured: what a script or a shell command pays.
        script = (
            "import mlflow; "
            f"mlflow.set_tracking_uri({mlflow.get_tracking_uri()!r}); "
            f"mlflow.search_runs(experiment_ids=[{experiment!r}], filter_string={FILTER!r}, "
            f"order_by=[{ORDER!r}], max_results=100)"
        )
        whole = []
        for _ in range(int(command["process_searches"])):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
            whole.append(time.perf_counter() - began)
        answer(
            {
                "process_p50_s": statistics.median(whole) if whole else None,
                "process_max_s": max(whole) if whole else None,
                "process_searches": len(whole),
                "version": version("mlflow"),
                "search_rows": rows,
                "search_p50_s": statistics.median(samples),
                "search_p99_s": percentile(samples, 0.99),
                "searches": len(samples),
            }
        )
        return


if __name__ == "__main__":
    main()
