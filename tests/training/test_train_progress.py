"""gp train on a terminal shows the step running now (a live line on stderr); piped, only
each step's line as it ends; under --json, no progress at all."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from goldenpath.workspace import Workspace
from tests.cli.test_progress import GP, environment, on_terminal


def test_gp_train_shows_the_running_step_on_a_terminal_and_nothing_under_json(
    trained_ws: Workspace, project: Path
) -> None:
    env = environment(trained_ws.stack.home)
    code, out, terminal = on_terminal([str(GP), "train", str(project)], env)
    assert code == 0, terminal
    assert "registered" in out and "training set" in out  # the step lines, on stdout
    for step in ("training set...", "train...", "register..."):
        assert f"training: {step}" in terminal, terminal
    quiet = subprocess.run(
        [str(GP), "train", str(project), "--json"], env=env, capture_output=True, text=True
    )
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["model"] == "fraud@2"
    assert "training:" not in quiet.stderr
