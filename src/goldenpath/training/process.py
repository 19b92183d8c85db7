"""Running the training process (training/child.py) with a time limit, and measuring it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldenpath.training.child import RESULT

POLL_SECONDS = 0.02


@dataclass(frozen=True)
class ChildOutcome:
    """How the training process ended: its result (None if it wrote none), exit status, the
    wall and CPU seconds it took, and whether it was killed at the time limit."""

    result: dict[str, Any] | None
    returncode: int
    wall_s: float
    cpu_s: float
    timed_out: bool

    def failure(self, time_limit: int) -> tuple[str, str, str] | None:
        """(step, one-line message, traceback) if training did not succeed, else None."""
        if self.timed_out:
            return (
                "train",
                f"stopped at the time limit of {time_limit:,} s (training.time_limit in gp.yaml)",
                "",
            )
        if self.result is None:
            how = (
                f"was killed by signal {-self.returncode}"
                if self.returncode < 0
                else f"exited with status {self.returncode}"
            )
            return ("train", f"the training process {how} before it finished", "")
        if not self.result.get("ok"):
            return (
                str(self.result.get("step", "train")),
                str(self.result.get("message", "failed")),
                str(self.result.get("traceback", "")),
            )
        return None


def run_child(workdir: Path, *, time_limit: int, log_path: Path) -> ChildOutcome:
    """Run ``python -m goldenpath.training.child workdir`` in its own process group; kill
    the group at ``time_limit`` seconds. Its output (the train log) goes to ``log_path``."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "goldenpath.training.child", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
            start_new_session=True,
        )
        deadline = started + time_limit
        timed_out = False
        cpu_s = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                cpu_s = usage.ru_utime + usage.ru_stime
                break
            if time.perf_counter() > deadline:
                timed_out = True
                _kill_group(proc.pid)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                cpu_s = usage.ru_utime + usage.ru_stime
                break
            time.sleep(POLL_SECONDS)
    wall_s = time.perf_counter() - started
    result_path = workdir / RESULT
    result = None
    if result_path.is_file() and not timed_out:
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
    return ChildOutcome(result, int(proc.returncode), wall_s, cpu_s, timed_out)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
