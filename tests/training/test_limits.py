"""training.limits: a train(ctx) over its memory, CPU or open-files limit fails its run (exit
code 8 from gp train) with one line naming the limit and the figure reached; a memory limit
below what the training process needs to start is refused before anything is recorded."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from goldenpath.core.errors import InvalidInput, TrainingFailed
from goldenpath.training.config import (
    MEMORY_MIN_BYTES,
    load_training_config,
    memory_bytes,
    shown_bytes,
)
from goldenpath.training.process import ChildOutcome
from goldenpath.workspace import Workspace
from tests.training.conftest import write_train

GP = Path(sys.executable).parent / "gp"


def set_limits(project: Path, text: str) -> None:
    """Put ``limits: text`` in gp.yaml's training section (after time_limit)."""
    path = project / "gp.yaml"
    yaml = path.read_text(encoding="utf-8")
    assert "  time_limit: 300\n" in yaml
    path.write_text(yaml.replace("  time_limit: 300\n", f"  time_limit: 300\n  limits: {text}\n"))


def test_memory_over_the_limit_fails_the_run_naming_it_and_exits_8(
    trained_ws: Workspace, project: Path
) -> None:
    set_limits(project, "{memory: 2.5GiB}")
    write_train(project, "def train(ctx):\n    block = bytearray(8 << 30)\n    return block\n")
    env = {**os.environ, "GP_HOME": str(trained_ws.stack.home), "GP_ACTOR": "alice"}
    env.pop("GP_SERVER", None)
    done = subprocess.run(
        [str(GP), "train", str(project)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 8, (done.stdout, done.stderr)
    line = next(x for x in done.stderr.splitlines() if x.startswith("error:"))
    assert re.fullmatch(
        r"error: train failed: stopped at the memory limit of 2\.5 GiB "
        r"\(training\.limits\.memory\): its address space reached [\d.,]+ [MG]iB",
        line,
    ), line
    (run,) = trained_ws.runs.list()
    assert run.status == "failed" and (run.error or {})["step"] == "train"


def test_cpu_over_the_limit_fails_the_run_naming_it(trained_ws: Workspace, project: Path) -> None:
    set_limits(project, "{cpu_seconds: 8}")
    write_train(project, "def train(ctx):\n    while True:\n        pass\n")
    with pytest.raises(TrainingFailed) as failed:
        trained_ws.training.train(project)
    assert re.fullmatch(
        r"train failed: stopped at the CPU limit of 8 s \(training\.limits\.cpu_seconds\): "
        r"it used ([789]|1\d)\.\d s of CPU",
        failed.value.message,
    ), failed.value.message


def test_open_files_over_the_limit_fail_the_run_naming_it(
    trained_ws: Workspace, project: Path
) -> None:
    set_limits(project, "{open_files: 128}")
    write_train(
        project,
        "def train(ctx):\n"
        "    kept = []\n"
        "    while True:\n"
        "        kept.append(open(__file__, 'rb'))\n",
    )
    with pytest.raises(TrainingFailed) as failed:
        trained_ws.training.train(project)
    found = re.fullmatch(
        r"train failed: stopped at the open files limit of 128 \(training\.limits\.open_files\)"
        r": (\d+) files were open",
        failed.value.message,
    )
    assert found, failed.value.message
    assert 120 <= int(found[1]) <= 128 + 16


def test_a_memory_limit_below_what_training_needs_to_start_is_refused_up_front(
    trained_ws: Workspace, project: Path
) -> None:
    set_limits(project, "{memory: 64MiB}")
    with pytest.raises(InvalidInput) as refused:
        trained_ws.training.train(project)
    text = str(refused.value)
    minimum = shown_bytes(MEMORY_MIN_BYTES)
    assert "training.limits.memory" in text and "64 MiB is below the" in text
    assert f"give at least {minimum.replace(' ', '')}" in text
    assert re.match(r"^\S*gp\.yaml:\d+: ", text)  # the line is named
    assert trained_ws.runs.list() == []  # nothing recorded


def test_limits_are_read_with_units_and_checked(project: Path) -> None:
    assert memory_bytes("2GiB") == 2 << 30 and memory_bytes("512 MiB") == 512 << 20
    assert memory_bytes("4G") == 4 << 30 and memory_bytes(1 << 31) == 1 << 31
    set_limits(project, "{memory: 2GiB, cpu_seconds: 60, open_files: 256, wall_seconds: 90}")
    path = project / "gp.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  time_limit: 300\n", ""))
    config = load_training_config(project)
    assert config.limits.for_child() == {
        "memory": 2 << 30,
        "cpu_seconds": 60,
        "open_files": 256,
    }
    assert config.time_limit == 90  # wall_seconds is the wall-clock limit
    for bad, says in [
        ("{memory: lots}", "not an amount of memory"),
        ("{open_files: 8}", "greater than or equal to 64"),
        ("{cpu_seconds: true}", "valid integer"),
    ]:
        text = (project / "gp.yaml").read_text(encoding="utf-8")
        text = re.sub(r"  limits: .*\n", f"  limits: {bad}\n", text)
        (project / "gp.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(InvalidInput, match=re.escape(says)):
            load_training_config(project)
    text = (project / "gp.yaml").read_text(encoding="utf-8")
    text = re.sub(r"  limits: .*\n", "  time_limit: 300\n  limits: {wall_seconds: 90}\n", text)
    (project / "gp.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput, match="same limit: give one"):
        load_training_config(project)


def test_a_process_killed_past_its_cpu_limit_is_named_by_the_parent() -> None:
    # Code that swallowed the CPU limit's exception is killed at the hard limit (SIGKILL).
    killed = ChildOutcome(None, -9, 20.0, 13.2, False, False, 8)
    assert killed.failure(300) == (
        "train",
        "stopped at the CPU limit of 8 s (training.limits.cpu_seconds): it used 13.2 s of CPU",
        "",
    )
    assert (
        "killed by signal 9" in (ChildOutcome(None, -9, 1.0, 1.0, False, False, 8).failure(300))[1]
    )
