"""Packaging a fitted model for the registry: pure, no database (stage 1 of registration).

``gp train`` trains in a child process; that process calls :func:`package` and
:meth:`Package.write`, and the parent reads the package back (:meth:`Package.read`) and
registers it (``ws.models.register_package``). Nothing crosses the process boundary as a
pickle: a package is a directory of the native artifact (skops, LightGBM text, XGBoost JSON:
``native.py``), ``model.onnx``, ``scores.npy`` (read with ``allow_pickle=False``) and
``package.json``, each file's sha256 recorded in ``package.json`` and checked on reading.

What :func:`package` does: detects the flavor (scikit-learn estimator or Pipeline, including
a ColumnTransformer with OneHotEncoder over text columns; LightGBM sklearn API or Booster;
XGBoost sklearn API or Booster) and refuses anything else naming what is supported; writes
the native artifact; converts to ONNX (naming the estimator and operator that failed); builds
the signature (one input per feature, named and typed as in ``validation``, in its column
order; outputs ``label`` + ``probabilities``, or ``prediction``); and scores ``validation``
with the native model (the positive class's probability, or the prediction), which the
registry later compares with the ONNX graph's outputs (the parity check).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits
from goldenpath.registry import native, onnx_graph
from goldenpath.registry.metrics import TASKS

if TYPE_CHECKING:
    import onnx
    import pandas as pd

FORMAT = "goldenpath.model-package/1"
SUPPORTED = (
    "scikit-learn LogisticRegression, LinearRegression, Ridge, RandomForest*, "
    "GradientBoosting* and DecisionTree* estimators, or a Pipeline of them (StandardScaler, "
    "SimpleImputer, ColumnTransformer with OneHotEncoder over text columns); LightGBM "
    "LGBMClassifier/LGBMRegressor or Booster; XGBoost XGBClassifier/XGBRegressor or Booster"
)
OUTPUT_NAMES = ("label", "probabilities", "prediction")
_SCORES = "scores.npy"
_ONNX = "model.onnx"
_META = "package.json"


@dataclass(frozen=True)
class Package:
    """A packaged model: its artifacts, signature and native scores on the validation rows."""

    flavor: str
    task: str
    estimator: str
    native_format: str
    native: bytes = field(repr=False)
    onnx: bytes = field(repr=False)
    signature: dict[str, Any]
    scores: np.ndarray = field(repr=False)
    validation_rows: int
    validation_hash: str
    versions: dict[str, str]

    @property
    def features(self) -> list[str]:
        return [i["name"] for i in self.signature["inputs"]]

    def as_dict(self) -> dict[str, Any]:
        """What ``package.json`` holds (the bytes' hashes, not the bytes)."""
        return {
            "format": FORMAT,
            "flavor": self.flavor,
            "task": self.task,
            "estimator": self.estimator,
            "native_format": self.native_format,
            "signature": self.signature,
            "validation_rows": self.validation_rows,
            "validation_hash": self.validation_hash,
            "versions": self.versions,
            "files": {
                native.FILE_NAMES[self.native_format]: _sha256(self.native),
                _ONNX: _sha256(self.onnx),
                _SCORES: _sha256(_npy(self.scores)),
            },
        }

    def write(self, directory: Path) -> Path:
        """Write the package's files into ``directory`` (created if missing)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / native.FILE_NAMES[self.native_format]).write_bytes(self.native)
        (directory / _ONNX).write_bytes(self.onnx)
        (directory / _SCORES).write_bytes(_npy(self.scores))
        (directory / _META).write_text(json.dumps(self.as_dict(), indent=2), encoding="utf-8")
        return directory

    @classmethod
    def read(cls, directory: Path) -> Package:
        """A package written by :meth:`write`; each file must match its recorded sha256."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / _META).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"not a model package: {directory} ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InvalidInput(f"not a model package: {directory} (unknown format)")
        files: dict[str, bytes] = {}
        for name, digest in meta["files"].items():
            if name not in (*native.FILE_NAMES.values(), _ONNX, _SCORES):
                raise InvalidInput(f"model package {directory} names an unknown file {name!r}")
            data = (directory / name).read_bytes()
            if _sha256(data) != digest:
                raise InvalidInput(
                    f"model package file {directory / name} does not match its sha256",
                    hint="the package was changed after it was written: package the model again",
                )
            files[name] = data
        import io

        scores = np.load(io.BytesIO(files[_SCORES]), allow_pickle=False)
        return cls(
            flavor=meta["flavor"],
            task=meta["task"],
            estimator=meta["estimator"],
            native_format=meta["native_format"],
            native=files[native.FILE_NAMES[meta["native_format"]]],
            onnx=files[_ONNX],
            signature=meta["signature"],
            scores=scores,
            validation_rows=int(meta["validation_rows"]),
            validation_hash=meta["validation_hash"],
            versions=dict(meta["versions"]),
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npy(values: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(values, dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()


def frame_hash(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """A fingerprint of ``frame``'s values in ``columns`` (row order matters): how the
    registry knows it was given the rows the package was scored on."""
    import pandas as pd

    digest = hashlib.sha256()
    for name in columns:
        digest.update(name.encode("utf-8") + b"\0")
        hashed = pd.util.hash_pandas_object(frame[name], index=False).to_numpy()
        digest.update(hashed.tobytes())
    return digest.hexdigest()


# -- detection ---------------------------------------------------------------------------------


def flavor_of(model: Any) -> str:
    """``sklearn``, ``lightgbm`` or ``xgboost``; anything else is refused naming the types
    supported."""
    module = type(model).__module__.split(".")[0]
    if module in ("lightgbm", "xgboost"):
        return module
    if module == "sklearn":
        from sklearn.base import BaseEstimator

        if isinstance(model, BaseEstimator) and hasattr(model, "predict"):
            return "sklearn"
    shown = f"{type(model).__module__}.{type(model).__qualname__}"
    raise InvalidInput(
        f"cannot register a {shown}: not a supported model type",
        hint=f"supported: {SUPPORTED}",
    )


def describe(model: Any) -> str:
    """The estimator's class, and for a Pipeline its steps: ``Pipeline(ColumnTransformer,
    LogisticRegression)``."""
    name = type(model).__name__
    steps = getattr(model, "steps", None)
    if steps:
        return f"{name}({', '.join(type(s).__name__ for _, s in steps)})"
    return name


def _final(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _model_features(flavor: str, model: Any) -> list[str] | None:
    """The feature names the model was fitted with, in its order, if it kept them."""
    names: Any = None
    if flavor == "sklearn":
        names = getattr(model, "feature_names_in_", None)
    elif flavor == "lightgbm":
        booster = getattr(model, "booster_", model)
        names = booster.feature_name()
        if names and all(re.fullmatch(r"Column_\d+", str(n)) for n in names):
            names = None
    else:
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        names = booster.feature_names
    return None if names is None else [str(n) for n in names]


def _classes(flavor: str, model: Any, task: str) -> list[Any] | None:
    if task != "classification":
        return None
    classes = getattr(_final(model), "classes_", None)
    if classes is None:
        if flavor == "sklearn":
            raise InvalidInput(
                f"{describe(model)} is not a classifier, but the task is classification",
                hint="use task='regression', or a classifier",
            )
        classes = [0, 1]  # a LightGBM / XGBoost Booster with a binary objective
    values = [v.item() if hasattr(v, "item") else v for v in classes]
    if len(values) != 2:
        raise InvalidInput(
            f"the classifier has {len(values)} classes; only binary classification is supported",
            hint="train on a label with two values (0/1 or False/True)",
        )
    return values


# -- packaging ---------------------------------------------------------------------------------


def package(
    model: Any,
    validation: pd.DataFrame,
    task: str,
    *,
    label: str | None = None,
    limits: Limits | None = None,
) -> Package:
    """Package a fitted ``model``: native artifact, ONNX graph, signature, and the native
    model's scores on ``validation`` (its feature columns; ``label``, if it is there, is left
    out), within ``limits`` (``model_validation_rows_max``, ``model_features_max``). Pure:
    nothing is written anywhere."""
    import pandas as pd

    limits = limits or Limits()

    if task not in TASKS:
        raise InvalidInput(f"unknown task {task!r}", hint=f"use one of: {', '.join(TASKS)}")
    if not isinstance(validation, pd.DataFrame):
        raise InvalidInput("validation must be a pandas DataFrame of the feature columns")
    rows_max = limits.model_validation_rows_max
    if not 0 < len(validation) <= rows_max:
        raise InvalidInput(
            f"validation has {len(validation):,} rows; it needs 1 to {rows_max:,} "
            "(limits.model_validation_rows_max)"
        )
    flavor = flavor_of(model)
    features = _features(flavor, model, validation, label, limits.model_features_max)
    signature_inputs = [c for c in validation.columns if c in set(features)]
    kinds = {name: _kind(validation[name], name) for name in features}
    classes = _classes(flavor, model, task)
    if task == "regression" and flavor == "sklearn" and hasattr(_final(model), "classes_"):
        raise InvalidInput(
            f"{describe(model)} is a classifier, but the task is regression",
            hint="use task='classification', or a regressor",
        )
    per_column = flavor == "sklearn" and _per_column(model)
    text = [n for n in features if kinds[n] == "string"]
    if text and not per_column:
        raise InvalidInput(
            f"text feature(s) {', '.join(text[:5])} need an encoder inside the model",
            hint="fit a Pipeline that starts with a ColumnTransformer (OneHotEncoder over the "
            "text columns)",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scores = _native_scores(flavor, model, validation[features], task)
        except Exception as exc:
            raise InvalidInput(
                f"{describe(model)} cannot score the validation rows: "
                f"{str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}",
                hint="pass the validation rows with the columns and types the model was fitted on",
            ) from None
        graph = _convert(flavor, model, features, kinds, task, per_column)
    outputs: list[dict[str, Any]]
    if classes is not None:
        label_type = "string" if isinstance(classes[0], str) else "int64"
        outputs = [
            {"name": "label", "type": label_type, "shape": [None]},
            {"name": "probabilities", "type": "float", "shape": [None, 2]},
        ]
    else:
        outputs = [{"name": "prediction", "type": "float", "shape": [None]}]
    signature: dict[str, Any] = {
        "inputs": [{"name": n, "type": kinds[n], "shape": [None, 1]} for n in signature_inputs],
        "outputs": outputs,
    }
    if classes is not None:
        signature["classes"] = classes
        signature["positive_class"] = classes[1]
        signature["positive_index"] = 1
    native_bytes = native.dump(flavor, model)
    if flavor == "sklearn":
        native.check_skops_types(native_bytes)
    return Package(
        flavor=flavor,
        task=task,
        estimator=describe(model),
        native_format=native.FORMATS[flavor],
        native=native_bytes,
        onnx=onnx_graph.serialise(graph),
        signature=signature,
        scores=np.asarray(scores, dtype=np.float64),
        validation_rows=len(validation),
        validation_hash=frame_hash(validation, signature_inputs),
        versions=_versions(flavor),
    )


def _features(
    flavor: str, model: Any, validation: pd.DataFrame, label: str | None, features_max: int
) -> list[str]:
    """The feature columns, in the order the model was fitted on."""
    if not all(isinstance(c, str) for c in validation.columns):
        raise InvalidInput("validation's column names must be text")
    if validation.columns.duplicated().any():
        raise InvalidInput("validation has duplicate column names")
    known = _model_features(flavor, model)
    if known is not None:
        missing = [n for n in known if n not in validation.columns]
        if missing:
            raise InvalidInput(
                f"validation lacks feature column(s) the model was fitted on: "
                f"{', '.join(missing[:10])}"
            )
        features = known
    else:
        features = [c for c in validation.columns if c != label]
        expected = getattr(_final(model), "n_features_in_", None)
        expected = getattr(model, "n_features_in_", expected)
        if expected is not None and int(expected) != len(features):
            raise InvalidInput(
                f"the model takes {expected} features but validation has {len(features)} "
                "feature column(s)",
                hint="pass only the feature columns (and the label as label=...)",
            )
    if not features:
        raise InvalidInput("validation has no feature columns")
    if len(features) > features_max:
        raise InvalidInput(
            f"{len(features):,} features; at most {features_max:,} are supported "
            "(limits.model_features_max)"
        )
    clash = [n for n in features if n in OUTPUT_NAMES or n.startswith(onnx_graph.RESERVED_PREFIX)]
    if clash:
        raise InvalidInput(
            f"feature name(s) {', '.join(clash)} are reserved (output names, or the "
            f"{onnx_graph.RESERVED_PREFIX} prefix)",
            hint="rename the column(s) before training",
        )
    return features


def _kind(column: pd.Series, name: str) -> str:
    import pandas as pd

    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "float"
    if (
        pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
    ):
        return "string"
    raise InvalidInput(
        f"feature {name!r} has type {dtype}: only numbers and text are supported",
        hint="encode it as a number (a timestamp as seconds, for example) before training",
    )


def _native_scores(flavor: str, model: Any, frame: pd.DataFrame, task: str) -> np.ndarray:
    classification = task == "classification"
    if flavor == "xgboost" and not hasattr(model, "get_booster"):
        import xgboost

        return np.asarray(model.predict(xgboost.DMatrix(frame)), dtype=np.float64)
    if flavor == "lightgbm" and not hasattr(model, "booster_"):
        return np.asarray(model.predict(frame), dtype=np.float64)
    if classification:
        return np.asarray(model.predict_proba(frame), dtype=np.float64)[:, 1]
    return np.asarray(model.predict(frame), dtype=np.float64).reshape(-1)


def _per_column(model: Any) -> bool:
    """Whether the model starts with a ColumnTransformer (then it takes named columns, and
    the ONNX graph gets one typed input per column directly)."""
    from sklearn.compose import ColumnTransformer

    steps: Any = getattr(model, "steps", None)
    return bool(steps) and isinstance(steps[0][1], ColumnTransformer)


def _convert(
    flavor: str,
    model: Any,
    features: list[str],
    kinds: dict[str, str],
    task: str,
    per_column: bool,
) -> onnx.ModelProto:
    try:
        graph = _converted(flavor, model, features, kinds, per_column, task)
    except InvalidInput:
        raise
    except Exception as exc:  # a converter's own error: say which estimator and operator
        raise InvalidInput(
            f"cannot convert {describe(model)} to ONNX: {_reason(exc)}",
            hint=f"supported: {SUPPORTED}",
        ) from None
    if not per_column:
        graph = onnx_graph.per_feature_inputs(graph, features)
    names = [o.name for o in graph.graph.output]
    if task == "classification":
        wanted = {"label", "probabilities"}
        if set(names) != wanted:
            raise InvalidInput(
                f"the ONNX graph of {describe(model)} has outputs {names}, not label and "
                "probabilities"
            )
    else:
        if len(names) != 1:
            raise InvalidInput(f"the ONNX graph of {describe(model)} has outputs {names}")
        graph = onnx_graph.rename_outputs(graph, {names[0]: "prediction"})
    return graph


def _converted(
    flavor: str,
    model: Any,
    features: list[str],
    kinds: dict[str, str],
    per_column: bool,
    task: str,
) -> onnx.ModelProto:
    if flavor == "sklearn":
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType

        if per_column:
            types: list[Any] = [
                (
                    n,
                    StringTensorType([None, 1])
                    if kinds[n] == "string"
                    else FloatTensorType([None, 1]),
                )
                for n in features
            ]
        else:
            types = [("X", FloatTensorType([None, len(features)]))]
        options = {id(_final(model)): {"zipmap": False}} if task == "classification" else None
        converted: onnx.ModelProto = convert_sklearn(model, initial_types=types, options=options)
        return converted
    from onnxmltools.convert.common.data_types import FloatTensorType as Float

    types = [("X", Float([None, len(features)]))]
    if flavor == "lightgbm":
        from onnxmltools import convert_lightgbm

        from_lightgbm: onnx.ModelProto = convert_lightgbm(model, initial_types=types, zipmap=False)
        return from_lightgbm
    from onnxmltools import convert_xgboost

    # onnxmltools reads feature indices from names of the form f0, f1, ...: convert a copy
    # without the column names (the inputs are named per feature afterwards).
    if hasattr(model, "get_booster"):
        model = copy.deepcopy(model)
        model.get_booster().feature_names = None
    else:
        model = model.copy()
        model.feature_names = None
    from_xgboost: onnx.ModelProto = convert_xgboost(model, initial_types=types)
    return from_xgboost


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    node = re.search(r"Unable to create node '([^']+)'", text)
    if node:
        cause = exc.__cause__ or exc.__context__
        why = f" ({str(cause).splitlines()[0][:200]})" if cause else ""
        return f"the converter failed creating the ONNX operator {node.group(1)}{why}"
    shape = re.search(r"shape calculator for (?:alias|type) '([^']+)'", text)
    if shape:
        return f"no ONNX converter for {shape.group(1)}"
    return text[:300]


def _versions(flavor: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    wanted = {
        "sklearn": ("scikit-learn", "skl2onnx", "skops"),
        "lightgbm": ("lightgbm", "onnxmltools"),
        "xgboost": ("xgboost-cpu", "xgboost", "onnxmltools"),
    }[flavor]
    found: dict[str, str] = {}
    for name in ("onnx", *wanted):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
