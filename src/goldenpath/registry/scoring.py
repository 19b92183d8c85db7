"""Scoring a table with a model's ONNX graph in onnxruntime: parity checks, gates, predict.

A graph takes one ``[N, 1]`` input per feature (``onnx_graph``): numbers are fed as float32,
text as strings (a missing value as the empty string). Sessions are cached per ONNX digest (an
artifact's content address names exactly one graph), so a batch scorer pays the session's
construction once per process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from goldenpath.core.errors import InvalidInput

if TYPE_CHECKING:
    import onnxruntime
    import pandas as pd

    from goldenpath.registry.packaging import Package

SESSIONS_MAX = 16
_SESSIONS: OrderedDict[str, onnxruntime.InferenceSession] = OrderedDict()
_LOCK = threading.Lock()


def session(digest: str, data: bytes | None = None, *, load: Any = None) -> Any:
    """The cached onnxruntime session of the graph ``digest``; built from ``data`` (or the
    bytes ``load()`` returns) the first time."""
    with _LOCK:
        found = _SESSIONS.get(digest)
        if found is not None:
            _SESSIONS.move_to_end(digest)
            return found
    built = new_session(data if data is not None else load())
    with _LOCK:
        _SESSIONS[digest] = built
        while len(_SESSIONS) > SESSIONS_MAX:
            _SESSIONS.popitem(last=False)
    return built


def new_session(data: bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def feeds(frame: pd.DataFrame, inputs: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """One ``[N, 1]`` array per signature input, from the frame's columns of those names."""
    missing = [i["name"] for i in inputs if i["name"] not in frame.columns]
    if missing:
        shown = ", ".join(missing[:10])
        raise InvalidInput(
            f"the frame lacks {len(missing)} feature column(s) the model takes: {shown}",
            hint="pass every feature named in the model's signature (gp models show REF)",
        )
    out: dict[str, np.ndarray] = {}
    for spec in inputs:
        column = frame[spec["name"]]
        if spec["type"] == "string":
            values = column.astype(object).where(column.notna(), "").astype(str).to_numpy()
            out[spec["name"]] = values.astype(object).reshape(-1, 1)
        else:
            try:
                numbers = column.to_numpy(dtype=np.float32, na_value=np.nan)
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"feature {spec['name']!r} must be numeric, got {column.dtype}",
                    hint="give it as numbers (the model's signature says float)",
                ) from None
            out[spec["name"]] = numbers.reshape(-1, 1)
    return out


def run(sess: Any, frame: pd.DataFrame, signature: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The graph's outputs on ``frame``: ``label`` and ``probabilities`` (classification) or
    ``prediction`` (regression), one row per frame row."""
    names = [o["name"] for o in signature["outputs"]]
    values = sess.run(names, feeds(frame, signature["inputs"]))
    return dict(zip(names, values, strict=True))


def scores(outputs: Mapping[str, np.ndarray], signature: Mapping[str, Any]) -> np.ndarray:
    """What metrics compare: the positive class's probability, or the prediction."""
    if "probabilities" in outputs:
        index = int(signature.get("positive_index", 1))
        return np.asarray(outputs["probabilities"], dtype=np.float64)[:, index]
    return np.asarray(outputs["prediction"], dtype=np.float64).reshape(-1)


def package_scores(package: Package, frame: pd.DataFrame) -> np.ndarray:
    """A package's ONNX graph's scores on ``frame``, computed here in onnxruntime (what the
    registry measures and profiles: never the native scores the package carries, which
    whoever packaged it wrote); a graph that cannot run is one clear error."""
    try:
        sess = new_session(package.onnx)
        outputs = run(sess, frame, package.signature)
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(
            f"onnxruntime cannot run the ONNX graph: {str(exc).splitlines()[0][:300]}",
            hint="package the model again",
        ) from None
    return scores(outputs, package.signature)
