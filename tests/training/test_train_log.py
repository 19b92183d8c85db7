"""gp runs logs RUN [--follow]: a gp train run's train.log, while it runs and after."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goldenpath.core.errors import NotFound
from goldenpath.workspace import Workspace
from tests.training.conftest import EXAMPLE, write_train

GP = str(Path(sys.executable).parent / "gp")

# The example's train.py, printing before and after it waits for a file the test writes.
WAITING = (
    (EXAMPLE / "train.py")
    .read_text(encoding="utf-8")
    .replace(
        "    model.fit(ctx.X_train, ctx.y_train)",
        """    print("epoch 1 of 2", flush=True)
    import pathlib, time
    go = pathlib.Path(GO)
    while not go.exists():
        time.sleep(0.05)
    print("epoch 2 of 2", flush=True)
    model.fit(ctx.X_train, ctx.y_train)""",
    )
)


def _gp(home: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GP_HOME": str(home), "GP_ACTOR": "alice"}
    return subprocess.run([GP, *args], capture_output=True, text=True, env=env, timeout=120)


def test_runs_logs_follows_a_training_then_shows_its_train_log(
    trained_ws: Workspace, project: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    write_train(project, f"GO = {str(go)!r}\n" + WAITING)
    home = tmp_path / "home"
    env = {**os.environ, "GP_HOME": str(home), "GP_ACTOR": "alice"}
    training = subprocess.Popen(
        [GP, "train", str(project)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        while not (running := trained_ws.runs.list(status="running")):
            assert time.monotonic() < deadline and training.poll() is None, "no run started"
            time.sleep(0.2)
        run_id = running[0].id
        parts = trained_ws.runs.follow_train_log(run_id, poll_seconds=0.05)
        first = next(parts)
        while "epoch 1 of 2" not in first:  # the first part may be what came before it
            first += next(parts)
        assert "epoch 2 of 2" not in first  # followed while the training waits
        assert trained_ws.runs.train_log(run_id).count("epoch 1 of 2") == 1  # the live file
        go.write_text("go")
        rest = "".join(parts)  # ends when the run ends
        assert training.wait(timeout=120) == 0, training.stderr.read() if training.stderr else ""
    finally:
        go.write_text("go")
        if training.poll() is None:
            training.kill()
    followed = first + rest
    assert "epoch 2 of 2" in followed and "trained on" in followed
    assert trained_ws.runs.get(run_id).status == "finished"
    stored = trained_ws.runs.train_log(run_id)
    assert followed == stored  # nothing lost or repeated between the live file and the artifact
    shown = _gp(home, "runs", "logs", run_id[:10])
    assert shown.returncode == 0 and shown.stdout == stored, shown.stderr
    again = _gp(home, "runs", "logs", run_id, "--follow")  # an ended run: the log, then exit
    assert again.returncode == 0 and again.stdout == stored, again.stderr


def test_a_run_without_a_train_log_is_one_clear_error(
    trained_ws: Workspace, tmp_path: Path
) -> None:
    with trained_ws.runs.start("notebook") as run:
        run.log_metric("loss", 0.1)
    with pytest.raises(NotFound, match=r"has no train\.log"):
        trained_ws.runs.train_log(run.id)
    refused = _gp(tmp_path / "home", "runs", "logs", run.id)
    assert refused.returncode == 4 and "has no train.log" in refused.stderr, refused.stderr
