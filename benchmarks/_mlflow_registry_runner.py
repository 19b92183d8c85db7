"""MLflow's side of benchmarks/registry.py, run in its own virtualenv (``.venv-mlflow``).

    .venv-mlflow/bin/python benchmarks/_mlflow_registry_runner.py --dir DIR --rows 2000 \
        --features 10 --repeats 20

Fits the same distinct models on the same rows as ours (same generator, same seeds), then times, per
registration, what an MLflow user does: ``mlflow.sklearn.log_model`` with a signature
(``infer_signature``) inside a run, then ``mlflow.register_model``, on a SQLite tracking and
registry backend with a local artifact root. Prints one JSON line: seconds per registration.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np


def data(rows: int, features: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    y = (x[:, 0] + x[:, 1] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    args.dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{args.dir / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{args.dir / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(args.dir / "art").as_uri())
    fitted = []  # distinct models, as in registry.py: seeds 7 (the warm-up), 8, 9, ...
    for index in range(args.repeats + 1):
        x, y = data(args.rows, args.features, seed=7 + index)
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(args.features)])
        fitted.append((LogisticRegression().fit(frame, y), frame))
    seconds = []
    for model, frame in fitted:  # the first is a warm-up
        started = time.perf_counter()
        with mlflow.start_run(experiment_id=experiment) as run:
            signature = infer_signature(frame, model.predict_proba(frame))
            mlflow.sklearn.log_model(model, name="model", signature=signature)
        mlflow.register_model(f"runs:/{run.info.run_id}/model", "fraud")
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"mlflow": mlflow.__version__, "seconds": seconds[1:]}))


if __name__ == "__main__":
    main()
