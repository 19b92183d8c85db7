"""The training process: user code runs in a child, failures come back as one line, a
runaway or crashing train() cannot take the caller down."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from goldenpath.training import child
from goldenpath.training.process import ChildOutcome, run_child


def prepare(tmp_path: Path, source: str, function: str = "train") -> Path:
    workdir = tmp_path / "work"
    workdir.mkdir(parents=True)
    entry = tmp_path / "train.py"
    entry.write_text(source, encoding="utf-8")
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 1, 0, 1]})
    frame.to_parquet(workdir / child.TRAIN_ROWS)
    frame.to_parquet(workdir / child.VALIDATION_ROWS)
    request = {
        "entry_path": str(entry),
        "function": function,
        "project_dir": str(tmp_path),
        "params": {"C": 1.0},
        "seed": 3,
        "task": "classification",
        "label": "y",
        "features": ["x"],
    }
    (workdir / child.REQUEST).write_text(json.dumps(request), encoding="utf-8")
    return workdir


def run(tmp_path: Path, source: str, *, limit: int = 60, function: str = "train") -> ChildOutcome:
    workdir = prepare(tmp_path, source, function)
    return run_child(workdir, time_limit=limit, log_path=tmp_path / "train.log")


def test_an_exception_in_train_is_the_train_step_with_its_traceback(tmp_path: Path) -> None:
    outcome = run(
        tmp_path, "def train(ctx):\n    raise ValueError('boom: C=%s' % ctx.params['C'])\n"
    )
    step, message, trace = outcome.failure(60) or ("", "", "")
    assert (step, message) == ("train", "ValueError: boom: C=1.0")
    assert "train.py" in trace and "boom" in trace


def test_the_context_carries_data_params_seed_and_a_logger(tmp_path: Path) -> None:
    source = (
        "def train(ctx):\n"
        "    ctx.log.info('rows=%d seed=%d', len(ctx.X_train), ctx.seed)\n"
        "    assert list(ctx.X_train.columns) == ['x'] and ctx.y_train.tolist() == [0, 1, 0, 1]\n"
        "    assert ctx.numeric == ['x'] and ctx.categorical == []\n"
        "    raise RuntimeError('checked')\n"
    )
    outcome = run(tmp_path, source)
    assert outcome.failure(60)[:2] == ("train", "RuntimeError: checked")  # type: ignore[index]
    assert "rows=4 seed=3" in (tmp_path / "train.log").read_text()


def test_returning_nothing_says_to_return_the_model(tmp_path: Path) -> None:
    outcome = run(tmp_path, "def train(ctx):\n    pass\n")
    assert outcome.failure(60)[:2] == (  # type: ignore[index]
        "train",
        "train(ctx) returned None: return the fitted model",
    )


def test_a_missing_function_names_what_the_file_defines(tmp_path: Path) -> None:
    outcome = run(tmp_path, "def fit(ctx):\n    pass\n")
    step, message, _ = outcome.failure(60) or ("", "", "")
    assert step == "load" and "has no function train(ctx)" in message and "fit" in message


def test_an_import_error_is_the_load_step(tmp_path: Path) -> None:
    outcome = run(tmp_path, "import not_a_module_anywhere\n")
    step, message, _ = outcome.failure(60) or ("", "", "")
    assert step == "load" and "ModuleNotFoundError" in message


def test_a_crashing_process_is_reported_not_raised(tmp_path: Path) -> None:
    outcome = run(tmp_path, "import os\ndef train(ctx):\n    os._exit(3)\n")
    assert outcome.failure(60)[:2] == (  # type: ignore[index]
        "train",
        "the training process exited with status 3 before it finished",
    )
    killed = run(
        tmp_path / "k",
        "import os, signal\ndef train(ctx):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    )
    assert "killed by signal 9" in (killed.failure(60) or ("", "", ""))[1]


def test_a_runaway_train_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    started = time.perf_counter()
    outcome = run(tmp_path, "def train(ctx):\n    while True:\n        pass\n", limit=2)
    took = time.perf_counter() - started
    assert outcome.timed_out and took < 10
    step, message, _ = outcome.failure(2) or ("", "", "")
    assert step == "train" and "time limit of 2 s" in message
    assert outcome.cpu_s > 0.5  # it was measured: the loop burnt CPU until killed
