"""What a project's ``train(ctx)`` receives."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd
import pyarrow as pa


@dataclass
class TrainContext:
    """The data, parameters, seed and logger of one training run.

    ``train`` and ``validation`` hold the model's inputs (``features``, in signature order),
    the ``label`` and the entity columns (keys, timestamp, segments), as pandas DataFrames;
    ``X_*``/``y_*`` are the inputs and label alone; ``*_arrow`` the same rows as Arrow tables.
    Return a fitted scikit-learn estimator or Pipeline, a LightGBM or an XGBoost model that
    reads the columns of ``X_train`` (docs/training.md lists what can be registered).
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    features: list[str]
    label: str
    task: str
    params: dict[str, Any]
    seed: int
    log: logging.Logger
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def X_train(self) -> pd.DataFrame:
        return self.train[self.features]

    @property
    def y_train(self) -> pd.Series:
        return self.train[self.label]

    @property
    def X_validation(self) -> pd.DataFrame:
        return self.validation[self.features]

    @property
    def y_validation(self) -> pd.Series:
        return self.validation[self.label]

    @cached_property
    def train_arrow(self) -> pa.Table:
        return pa.Table.from_pandas(self.train, preserve_index=False)

    @cached_property
    def validation_arrow(self) -> pa.Table:
        return pa.Table.from_pandas(self.validation, preserve_index=False)

    @property
    def categorical(self) -> list[str]:
        """The inputs that hold text: one-hot encode these (docs/training.md shows how)."""
        return [
            c
            for c in self.features
            if pd.api.types.is_string_dtype(self.train[c])
            or pd.api.types.is_object_dtype(self.train[c])
        ]

    @property
    def numeric(self) -> list[str]:
        """The inputs that hold numbers (and booleans)."""
        categorical = set(self.categorical)
        return [c for c in self.features if c not in categorical]
