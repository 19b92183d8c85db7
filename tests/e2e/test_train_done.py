"""Issue 14's "Done means" through the real ``gp``: from a project with data and features,
``gp train`` registers a version; a failing ``train`` is one line and exit code 8; ``gp runs
rerun`` gives the same fingerprint; ``gp runs compare`` shows two runs side by side."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.training.conftest import EXAMPLE, PROJECT_FILES

GP = Path(sys.executable).parent / "gp"
pytestmark = pytest.mark.e2e


def gp(home: Path, *args: str, cwd: Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GP_HOME": str(home), "COLUMNS": "200"}
    env.pop("GP_SERVER", None)
    done = subprocess.run(
        [str(GP), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == code, (args, done.stdout, done.stderr)
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "fraud"
    target.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(EXAMPLE / name, target / name)
    home = tmp_path / "home"
    gp(home, "init", cwd=tmp_path)
    gp(
        home,
        "data",
        "ingest",
        "transactions",
        "fraud/transactions.csv",
        "--contract",
        "fraud/transactions.contract.yaml",
        cwd=tmp_path,
    )
    gp(home, "features", "apply", "--file", "fraud/features.py", cwd=tmp_path)
    return target


def test_train_registers_rerun_reproduces_compare_shows_both(project: Path) -> None:
    home, cwd = project.parent / "home", project.parent
    done = gp(home, "train", "fraud", cwd=cwd)
    steps = [line.split()[0] for line in done.stdout.splitlines()[:6]]
    assert steps == ["contract", "training", "split", "train", "evaluate", "register"]
    assert "fraud@1 registered" in done.stdout

    first = as_json(gp(home, "train", "fraud", "--param", "C=0.2", "--json", cwd=cwd))
    assert first["model"] == "fraud@2" and first["reused_training_set"] is True

    again = as_json(gp(home, "runs", "rerun", first["run"], "--json", cwd=cwd))
    assert again["fingerprint"] == first["fingerprint"] and again["model"] == "fraud@3"
    assert again["same_fingerprint_as"] == "fraud@2"
    told = gp(home, "runs", "rerun", first["run"], cwd=cwd).stdout
    assert "fraud@4 registered, same fingerprint as fraud@2 (the same model)" in told, told

    compare = gp(home, "runs", "compare", first["run"], again["run"], cwd=cwd).stdout
    assert "roc_auc" in compare and "C" in compare

    shown = as_json(gp(home, "models", "show", "fraud@1", "--json", cwd=cwd))
    assert shown["version"] == 1


def test_a_failing_train_is_one_line_and_exit_code_8(project: Path) -> None:
    home, cwd = project.parent / "home", project.parent
    (project / "train.py").write_text("def train(ctx):\n    return 1 / 0\n")
    done = gp(home, "train", "fraud", cwd=cwd, code=8)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: train failed: ZeroDivisionError: division by zero"]
    assert "gp runs show" in done.stderr and "--traceback" in done.stderr
    assert "Traceback" not in done.stderr

    wrong = gp(home, "train", "fraud", "--param", "max_iter=many", cwd=cwd, code=2)
    assert "max_iter is int" in wrong.stderr
