"""Registering a small model: goldenpath vs MLflow, in the same run (issue 14, performance).

    .venv/bin/python benchmarks/registry.py [--repeats 20] [--rows 2000] [--features 10]

Ours: ``ws.models.register`` in an embedded (SQLite) workspace: packaging (skops artifact,
ONNX conversion with skl2onnx), the parity check in onnxruntime over every validation row,
the fingerprint, the reference profile, the model card, four content-addressed artifacts
written durably (fsync) and one metadata transaction. Each registration is of a distinct
model: a LogisticRegression fitted (before timing) on its own ``--rows`` x ``--features``
(seed 7 for the warm-up, 8, 9, ... after), so no artifact is ever deduplicated by the content
store; the script prints how many artifact files the store holds at the end. MLflow:
``log_model`` with a signature and ``register_model`` on a SQLite backend, in its own
virtualenv (``--mlflow-python``; default ``.venv-mlflow/bin/python``, made by ``make
bench-mlflow-env``; skipped with a note when missing), by ``_mlflow_registry_runner.py``, on
the same rows and models. The first registration of each is a warm-up (imports) and is not
counted. Budget: p50 < 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import goldenpath

HERE = Path(__file__).resolve().parent
BUDGET_SECONDS = 1.0


def data(rows: int, features: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """The same generator as ``_mlflow_registry_runner.py``: one seed per distinct model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    y = (x[:, 0] + x[:, 1] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    return x, y


def quantile(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values), q))


def models(rows: int, features: int, count: int) -> list[tuple[object, pd.DataFrame]]:
    """``count`` distinct fitted models, each with its own validation rows (seeds 7, 8, ...).

    Fitted before any timing. Distinct data means distinct coefficients, so every registration
    writes new artifacts: the content store deduplicates nothing (the same model re-registered
    would store each artifact once and time only the metadata).
    """
    from sklearn.linear_model import LogisticRegression

    fitted = []
    for index in range(count):
        x, y = data(rows, features, seed=7 + index)
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(features)])
        fitted.append((LogisticRegression().fit(frame, y), frame.assign(label=y)))
    return fitted


def ours(tmp: Path, rows: int, features: int, repeats: int) -> list[float]:
    fitted = models(rows, features, repeats + 1)
    seconds = []
    root = tmp / "home"
    with goldenpath.connect(root, actor="bench", create=True) as ws:
        for model, validation in fitted:
            started = time.perf_counter()
            ws.models.register(
                "fraud", model, validation=validation, label="label", task="classification"
            )
            seconds.append(time.perf_counter() - started)
    blobs = [path for path in root.rglob("*") if path.is_file() and "artifacts" in path.parts]
    print(f"goldenpath artifact files after {len(fitted)} registrations: {len(blobs)}")
    return seconds[1:]


def mlflow(python: Path, tmp: Path, rows: int, features: int, repeats: int) -> dict[str, object]:
    command = [
        str(python),
        str(HERE / "_mlflow_registry_runner.py"),
        "--dir",
        str(tmp / "mlflow"),
        "--rows",
        str(rows),
        "--features",
        str(features),
        "--repeats",
        str(repeats),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=1800)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument(
        "--mlflow-python", type=Path, default=HERE.parent / ".venv-mlflow" / "bin" / "python"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        mine = ours(tmp, args.rows, args.features, args.repeats)
        print(
            f"model: LogisticRegression, {args.rows:,} validation rows x {args.features} features"
        )
        print(f"registrations timed: {args.repeats} distinct models each (after one warm-up)")
        p50 = statistics.median(mine)
        verdict = "PASS" if p50 < BUDGET_SECONDS else "MISS"
        print(
            f"goldenpath ws.models.register   p50 {p50:.3f} s  p99 {quantile(mine, 0.99):.3f} s"
            f"   budget p50 < {BUDGET_SECONDS:g} s: {verdict}"
        )
        if not args.mlflow_python.exists():
            print(f"MLflow skipped: no {args.mlflow_python} (make bench-mlflow-env)")
            return
        theirs = mlflow(args.mlflow_python, tmp, args.rows, args.features, args.repeats)
        seconds = list(theirs["seconds"])  # type: ignore[call-overload]
        their_p50 = statistics.median(seconds)
        print(
            f"MLflow {theirs['mlflow']} log_model + register_model   p50 {their_p50:.3f} s  "
            f"p99 {quantile(seconds, 0.99):.3f} s"
        )
        print(f"ours is {their_p50 / p50:.1f}x faster at the median")


if __name__ == "__main__":
    main()
