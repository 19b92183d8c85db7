"""Small, deterministic data and fitted models of every supported flavor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

ROWS = 600


def frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Features a, b (floats), n (integers), city (text) and a 0/1 label and a target."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows),
            "n": rng.integers(0, 5, rows),
            "city": rng.choice(["paris", "lyon", "nice"], rows),
        }
    )
    noise = rng.normal(scale=0.7, size=rows)
    data["label"] = ((data.a + data.b + (data.city == "paris") + noise) > 0.5).astype(int)
    data["target"] = 2 * data.a - data.b + 0.1 * data.n + noise
    return data


NUMERIC = ["a", "b", "n"]


def _sklearn(name: str, seed: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return {
        "logistic_regression": lambda: LogisticRegression(),
        "linear_regression": lambda: LinearRegression(),
        "random_forest": lambda: RandomForestClassifier(n_estimators=8, random_state=seed),
        "random_forest_regressor": lambda: RandomForestRegressor(n_estimators=8, random_state=seed),
        "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=8, random_state=seed),
        "gradient_boosting_regressor": lambda: GradientBoostingRegressor(
            n_estimators=8, random_state=seed
        ),
        "pipeline_one_hot": lambda: Pipeline(
            [
                (
                    "columns",
                    ColumnTransformer(
                        [
                            ("text", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                            ("numbers", StandardScaler(), NUMERIC),
                        ]
                    ),
                ),
                ("model", LogisticRegression()),
            ]
        ),
    }[name]()


def _lightgbm(name: str, seed: int) -> Any:
    import lightgbm

    options = {"n_estimators": 8, "random_state": seed, "verbose": -1, "deterministic": True}
    if name == "lightgbm":
        return lightgbm.LGBMClassifier(**options)
    return lightgbm.LGBMRegressor(**options)


def _xgboost(name: str, seed: int) -> Any:
    import xgboost

    if name == "xgboost":
        return xgboost.XGBClassifier(n_estimators=8, random_state=seed, n_jobs=1)
    return xgboost.XGBRegressor(n_estimators=8, random_state=seed, n_jobs=1)


# name -> (task, feature columns)
FLAVORS: dict[str, tuple[str, list[str]]] = {
    "logistic_regression": ("classification", NUMERIC),
    "linear_regression": ("regression", NUMERIC),
    "random_forest": ("classification", NUMERIC),
    "random_forest_regressor": ("regression", NUMERIC),
    "gradient_boosting": ("classification", NUMERIC),
    "gradient_boosting_regressor": ("regression", NUMERIC),
    "pipeline_one_hot": ("classification", [*NUMERIC, "city"]),
    "lightgbm": ("classification", NUMERIC),
    "lightgbm_regressor": ("regression", NUMERIC),
    "xgboost": ("classification", NUMERIC),
    "xgboost_regressor": ("regression", NUMERIC),
}


def fitted(name: str, data: pd.DataFrame | None = None, seed: int = 1) -> tuple[Any, pd.DataFrame]:
    """A model of kind ``name`` fitted on ``data`` (default: :func:`frame`), and the
    validation frame (features + ``label``, the label being the target for regressions)."""
    data = frame() if data is None else data
    task, columns = FLAVORS[name]
    make: Callable[[str, int], Any]
    if name.startswith("lightgbm"):
        make = _lightgbm
    elif name.startswith("xgboost"):
        make = _xgboost
    else:
        make = _sklearn
    y = data["label"] if task == "classification" else data["target"]
    model = make(name, seed).fit(data[columns], y)
    validation = data[columns].assign(label=y.to_numpy())
    return model, validation


@pytest.fixture
def data() -> pd.DataFrame:
    return frame()
