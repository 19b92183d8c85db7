"""A model version as the inference server holds it: its ONNX session and signature.

Only ONNX is loaded here (the registry keeps the native artifact for retraining; no pickle
or skops file reaches a serving process). The bytes come from the artifact store, whose read
re-checks their sha256 against the version's ``onnx_digest``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from goldenpath.registry import scoring

# V2 datatypes of the outputs a packaged graph has (registry/onnx_graph.py).
_V2_TYPES = {
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
    np.dtype(np.int64): "INT64",
    np.dtype(np.int32): "INT32",
    np.dtype(np.bool_): "BOOL",
}
_SIGNATURE_V2 = {"float": "FP32", "string": "BYTES", "int64": "INT64", "double": "FP64"}


@dataclass
class ServedModel:
    """One loaded version: ``inputs`` is ``[(name, kind)]`` in signature order."""

    name: str
    version: int
    task: str
    signature: dict[str, Any]
    onnx_digest: str
    session: Any
    inputs: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @classmethod
    def load(
        cls,
        name: str,
        version: int,
        task: str,
        signature: Mapping[str, Any],
        onnx: bytes,
        digest: str,
    ) -> ServedModel:
        session = scoring.new_session(onnx)
        inputs = [
            (i["name"], "string" if i["type"] == "string" else "float") for i in signature["inputs"]
        ]
        outputs = [o["name"] for o in signature["outputs"]]
        return cls(name, version, task, dict(signature), digest, session, inputs, outputs)

    @property
    def input_names(self) -> list[str]:
        return [name for name, _ in self.inputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(self.outputs, feeds)
        return dict(zip(self.outputs, values, strict=True))

    def results(self, outputs: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
        """One plain answer per row: ``label`` and ``probability`` (of the positive class),
        or ``prediction``."""
        if self.task == "classification":
            labels = outputs["label"].reshape(-1).tolist()
            probability = scoring.scores(outputs, self.signature).tolist()
            return [
                {"label": lab, "probability": p} for lab, p in zip(labels, probability, strict=True)
            ]
        values = scoring.scores(outputs, self.signature).tolist()
        return [{"prediction": v} for v in values]

    def metadata(self, versions: list[str]) -> dict[str, Any]:
        """The V2 model metadata answer."""
        return {
            "name": self.name,
            "versions": versions,
            "platform": "onnxruntime_onnx",
            "inputs": [
                {
                    "name": name,
                    "datatype": "BYTES" if kind == "string" else "FP32",
                    "shape": [-1, 1],
                }
                for name, kind in self.inputs
            ],
            "outputs": [
                {
                    "name": o["name"],
                    "datatype": _SIGNATURE_V2.get(str(o.get("type")), "FP32"),
                    "shape": [-1 if d is None else d for d in o.get("shape", [None])],
                }
                for o in self.signature["outputs"]
            ],
        }


def v2_datatype(array: np.ndarray) -> str:
    return _V2_TYPES.get(array.dtype, "BYTES" if array.dtype == object else "FP64")
