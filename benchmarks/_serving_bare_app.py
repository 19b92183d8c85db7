"""The limit for benchmarks/serving.py: a bare Starlette + onnxruntime app, nothing else.

    .venv/bin/python benchmarks/_serving_bare_app.py MODEL.onnx SIGNATURE.json PORT

One route, ``POST /predict``, taking ``{"inputs": {"currency": "EUR", "amount": 12.5, ...}}``
(one value per signature input) and answering ``{"label": 0, "probability": 0.03}``: the
fraud model's ONNX graph, run the way the product runs it (one ``[1, 1]`` array per input,
numbers as float32, text as strings; the session options of
``goldenpath.registry.scoring.new_session``). No feature lookup, no validation beyond what
the graph needs, no logging: whatever ours spends above this is the price of its features.
Served by uvicorn with uvloop and httptools, one worker, as ours is. ``GET /healthz`` says
when it is up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def new_session(data: bytes) -> onnxruntime.InferenceSession:
    """The same options as ``goldenpath.registry.scoring.new_session`` (copied, so that the
    limit does not import the product it bounds)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def build_app(model: bytes, signature: dict[str, Any]) -> Starlette:
    session = new_session(model)
    inputs = [(i["name"], i["type"] == "string") for i in signature["inputs"]]
    outputs = [o["name"] for o in signature["outputs"]]
    positive = int(signature.get("positive_index", 1))

    async def predict(request: Request) -> JSONResponse:
        try:
            values = (await request.json())["inputs"]
            feeds = {
                name: (
                    np.array([[str(values[name])]], dtype=object)
                    if text
                    else np.array([[values[name]]], dtype=np.float32)
                )
                for name, text in inputs
            }
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse(
                {"detail": f"bad body ({type(exc).__name__}: {exc}); send {{'inputs': {{...}}}}"},
                status_code=400,
            )
        label, probabilities = session.run(outputs, feeds)
        return JSONResponse(
            {"label": int(label[0]), "probability": float(probabilities[0][positive])}
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/predict", predict, methods=["POST"]), Route("/healthz", health)]
    )


def main() -> None:
    if len(sys.argv) != 4:
        raise SystemExit("usage: _serving_bare_app.py MODEL.onnx SIGNATURE.json PORT")
    model = Path(sys.argv[1]).read_bytes()
    signature = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    uvicorn.run(
        build_app(model, signature),
        host="127.0.0.1",
        port=int(sys.argv[3]),
        loop="uvloop",
        http="httptools",
        workers=1,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
