"""The MLflow side of benchmarks/runs.py; runs inside MLflow's own virtualenv (never
goldenpath's).

Input: a directory and a run count. It logs that many runs to a SQLite tracking store in the
directory (``mlflow.db``), each with 5 parameters and 5 metrics through ``mlflow.log_param``
and ``mlflow.log_metric`` (one call each, what a notebook does), the same values as ours
(``values(i)``, the same seeded generator), then times ``mlflow.search_runs`` with the
benchmark's filter and order, in process and as a whole ``python -c`` process (start, import,
search). Output: one JSON object on stdout.
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
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=10)
    parser.add_argument("--process-searches", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
    import mlflow

    base: Path = args.directory.resolve()
    base.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{base / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=str(base / "artifacts"))

    start = time.perf_counter()
    for i in range(args.runs):
        params, metrics = values(i)
        with mlflow.start_run(experiment_id=experiment):
            for key, value in params.items():
                mlflow.log_param(key, value)
            for key, value in metrics.items():
                mlflow.log_metric(key, value)
    logging_s = time.perf_counter() - start

    def search() -> int:
        found = mlflow.search_runs(
            experiment_ids=[experiment], filter_string=FILTER, order_by=[ORDER], max_results=100
        )
        return len(found)

    rows = search()  # warm
    samples = []
    for _ in range(args.searches):
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
    for _ in range(args.process_searches):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
        whole.append(time.perf_counter() - began)
    print(
        json.dumps(
            {
                "process_p50_s": statistics.median(whole) if whole else None,
                "process_max_s": max(whole) if whole else None,
                "process_searches": len(whole),
                "version": version("mlflow"),
                "runs": args.runs,
                "logging_s": logging_s,
                "runs_per_s": args.runs / logging_s,
                "search_rows": rows,
                "search_p50_s": statistics.median(samples),
                "search_p99_s": percentile(samples, 0.99),
                "searches": len(samples),
            }
        )
    )


if __name__ == "__main__":
    main()
