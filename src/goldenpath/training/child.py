"""The training process: ``run(WORKDIR)``, started by the keeper of
``training/containment.py`` (``python -m goldenpath.training.child WORKDIR [PARENT_PID]`` runs
the same keeper).

It runs the project's ``train(ctx)`` away from the caller (``gp train``, the server), so a
crash, a runaway loop or a memory blow-up in user code cannot take the caller down; the parent
kills it at the time limit. Nothing crosses the process boundary as a pickle: the parent writes
the training and validation rows as Parquet and a JSON request; this process answers with a
JSON result and, on success, the packaged model (registry/packaging.py: the native artifact
in a safe format, the ONNX model and the native model's validation scores as ``.npy``).

Every failure is written to ``result.json`` as the step that failed, a one-line message and
the traceback, so the parent can mark the run failed and say why in one line; a limit of
``training.limits`` that was hit is named with the figure reached. The process starts as the
keeper (it dies with its parent; its training process and everything that starts end with
the run).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import random
import sys
import traceback
from pathlib import Path
from typing import Any

from goldenpath.training.containment import CpuLimitReached

REQUEST = "request.json"
RESULT = "result.json"
TRAIN_ROWS = "train.parquet"
VALIDATION_ROWS = "validation.parquet"
PACKAGE_DIR = "package"


class StepFailed(Exception):
    """A step of the training process failed; ``message`` says why in one line."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


def _write_result(workdir: Path, result: dict[str, Any]) -> None:
    from goldenpath.core.atomic import write_atomically

    write_atomically(workdir / RESULT, json.dumps(result).encode(), mode=0o600)


def _load_function(entry: Path, function: str, project_dir: Path) -> Any:
    if not entry.is_file():
        raise StepFailed(
            "load", f"{entry.name} not found in {entry.parent} (training.entry in gp.yaml)"
        )
    sys.path.insert(0, str(project_dir))
    spec = importlib.util.spec_from_file_location("gp_train_entry", entry)
    if spec is None or spec.loader is None:
        raise StepFailed("load", f"cannot load {entry} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gp_train_entry"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise StepFailed("load", f"importing {entry.name} failed: {_one_line(exc)}") from exc
    found = getattr(module, function, None)
    if not callable(found):
        offered = sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
        )
        raise StepFailed(
            "load",
            f"{entry.name} has no function {function}(ctx)"
            + (f" (it defines: {', '.join(offered[:10])})" if offered else ""),
        )
    return found


def _failure_line(exc: BaseException) -> str:
    from goldenpath.training import sandbox
    from goldenpath.training.containment import limit_reached

    line = limit_reached(exc) or _one_line(exc)
    if sandbox.enforced and isinstance(exc, PermissionError):
        line += f" ({sandbox.BOUNDARY})"
    return line


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run(workdir: Path) -> int:
    """Train, package, write the result; the exit code is 0 even when train() failed (the
    failure is in result.json); non-zero only if this process itself broke."""
    request = json.loads((workdir / REQUEST).read_text(encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )
    log = logging.getLogger("train")
    step = "load"
    try:
        import numpy as np
        import pandas as pd

        from goldenpath.training.context import TrainContext

        seed = int(request["seed"])
        random.seed(seed)
        np.random.seed(seed % 2**32)
        function = _load_function(
            Path(request["entry_path"]), request["function"], Path(request["project_dir"])
        )
        train = pd.read_parquet(workdir / TRAIN_ROWS)
        validation = pd.read_parquet(workdir / VALIDATION_ROWS)
        ctx = TrainContext(
            train=train,
            validation=validation,
            features=list(request["features"]),
            label=request["label"],
            task=request["task"],
            params=dict(request["params"]),
            seed=seed,
            log=log,
        )
        step = "train"
        log.info(
            "train: %d rows, validation: %d rows, %d inputs",
            len(train),
            len(validation),
            len(ctx.features),
        )
        try:
            model = function(ctx)
        except Exception as exc:
            raise StepFailed("train", _failure_line(exc)) from exc
        if model is None:
            raise StepFailed("train", "train(ctx) returned None: return the fitted model")
        step = "register"
        from goldenpath.core.errors import GoldenpathError
        from goldenpath.core.limits import Limits
        from goldenpath.registry.packaging import package

        try:
            limits = Limits.model_validate(request.get("packaging_limits") or {})
            packaged = package(model, ctx.X_validation, request["task"], limits=limits)
        except GoldenpathError as exc:
            from goldenpath.training.containment import limit_reached

            line = limit_reached(exc) or str(exc).replace("\n", "; ")
            raise StepFailed("register", line) from exc
        except Exception as exc:
            line = _failure_line(exc)
            if line == _one_line(exc):
                line = f"packaging the model failed: {line}"
            raise StepFailed("register", line) from exc
        packaged.write(workdir / PACKAGE_DIR)
        log.info("packaged a %s model", type(model).__name__)
        from goldenpath.training.containment import peak_memory_line

        log.info("%s", peak_memory_line())
        _write_result(workdir, {"ok": True, "model_type": type(model).__name__})
    except StepFailed as exc:
        log.error("%s failed: %s", exc.step, exc.message)
        _write_result(
            workdir,
            {
                "ok": False,
                "step": exc.step,
                "message": exc.message,
                "traceback": traceback.format_exc(),
            },
        )
    except (Exception, CpuLimitReached) as exc:  # CpuLimitReached: not an Exception
        _write_result(
            workdir,
            {
                "ok": False,
                "step": step,
                "message": _failure_line(exc),
                "traceback": traceback.format_exc(),
            },
        )
    return 0


if __name__ == "__main__":
    from goldenpath.training.containment import main

    sys.exit(main(sys.argv[1:]))
