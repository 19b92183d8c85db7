"""MLflow's side of benchmarks/serving.py, run in its own virtualenv (``.venv-mlflow``).

    .venv-mlflow/bin/python benchmarks/_mlflow_serving_runner.py --dir DIR --train ROWS.parquet \
        --spec SPEC.json

Trains the quickstart's fraud pipeline (the quickstart's train.py: imputed and scaled numbers
and a one-hot encoded currency into a logistic regression, with the run's C, max_iter and
seed) on the training rows ``gp train`` trained on (written by serving.py as Parquet: nothing
is pickled across the two virtualenvs), logs it with ``mlflow.sklearn.log_model`` (a
signature, and ``predict_proba`` as the served function, so that MLflow answers the same
probability ours does) to a SQLite tracking store under DIR, and prints one JSON line: the
model URI for ``mlflow models serve`` and the tracking URI it needs.
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    rows = pd.read_parquet(args.train)
    x, y = rows[spec["numeric"] + spec["categorical"]], rows[spec["label"]]
    x = x[spec["inputs"]]  # the signature's order
    prepare = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), spec["numeric"]),
            ("text", OneHotEncoder(handle_unknown="ignore"), spec["categorical"]),
        ]
    )
    model = Pipeline(
        [
            ("prepare", prepare),
            (
                "classify",
                LogisticRegression(
                    C=spec["params"]["C"],
                    max_iter=spec["params"]["max_iter"],
                    random_state=spec["seed"],
                ),
            ),
        ]
    )
    model.fit(x, y)
    args.dir.mkdir(parents=True, exist_ok=True)
    tracking = f"sqlite:///{args.dir / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking)
    experiment = mlflow.create_experiment("serving", artifact_location=(args.dir / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, model.predict_proba(x)),
            pyfunc_predict_fn="predict_proba",
            # MLflow 3 saves with skops and refuses, when it checks the saved file, a type
            # it does not trust; the one-hot encoder keeps its dtype.
            skops_trusted_types=["numpy.dtype"],
        )
    print(
        json.dumps(
            {
                "mlflow": mlflow.__version__,
                "model_uri": info.model_uri,
                "tracking_uri": tracking,
                "rows": len(x),
            }
        )
    )


if __name__ == "__main__":
    main()
