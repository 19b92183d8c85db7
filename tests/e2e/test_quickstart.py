"""gp quickstart: the golden path on generated data, from nothing, through the installed gp."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
GP = str(Path(sys.executable).parent / "gp")


def test_quickstart_from_nothing_and_again(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env["HOME"] = str(tmp_path / "home")  # the per-user default workspace, empty
    env.pop("XDG_DATA_HOME", None)
    first = subprocess.run(
        [GP, "quickstart"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert "transactions@1: 4,984 rows appended (a new dataset)" in first.stdout
    assert "16 rows quarantined" in first.stdout
    assert "try next" in first.stdout
    shown = subprocess.run(
        [GP, "data", "show", "transactions@1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    version = json.loads(shown.stdout)
    assert version["row_count"] == 4984 and version["validation"]["outcome"] == "quarantined"
    held = subprocess.run(
        [GP, "data", "quarantine", "transactions", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert len(json.loads(held.stdout)) == 16
    again = subprocess.run(
        [GP, "quickstart"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert again.returncode == 0 and "transactions@2" in again.stdout  # rerunnable
