"""Running the training process (training/child.py) with a time limit, and measuring it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldenpath.training import containment, sandbox
from goldenpath.training.child import RESULT

POLL_SECONDS = 0.02
KEEPER_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class ChildOutcome:
    """How the training process ended: its result (None if it wrote none), exit status, the
    wall and CPU seconds it took, and whether it was killed at the time limit."""

    result: dict[str, Any] | None
    returncode: int
    wall_s: float
    cpu_s: float
    timed_out: bool
    stopped: bool = False
    cpu_seconds: int | None = None  # training.limits.cpu_seconds, if set

    def _cpu_limit_killed(self) -> bool:
        # SIGXCPU at the soft limit; SIGKILL at the hard one (code that ignored SIGXCPU).
        killed = self.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
        return killed and self.cpu_seconds is not None and self.cpu_s >= self.cpu_seconds

    def failure(self, time_limit: int) -> tuple[str, str, str] | None:
        """(step, one-line message, traceback) if training did not succeed, else None."""
        if self.stopped:
            return (
                "train",
                "stopped: the run is no longer running (a reader judged it lost: its "
                "heartbeat was late)",
                "",
            )
        if self.timed_out:
            return (
                "train",
                f"stopped at the time limit of {time_limit:,} s (training.time_limit in gp.yaml)"
                f" after {self.wall_s:,.1f} s",
                "",
            )
        if self.result is None and self._cpu_limit_killed():
            return (
                "train",
                f"stopped at the CPU limit of {self.cpu_seconds:,} s "
                f"(training.limits.cpu_seconds): it used {self.cpu_s:,.1f} s of CPU",
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


def run_child(
    workdir: Path,
    *,
    time_limit: int,
    log_path: Path,
    stop: threading.Event | None = None,
    cpu_seconds: int | None = None,
    environment: Sequence[str] = (),
) -> ChildOutcome:
    """Run the training process's keeper (training/containment.py) on ``workdir`` in its own
    process group; kill it at ``time_limit`` seconds, or when ``stop`` is set. Its output
    (the train log) goes to ``log_path``. However it ends, its process group and training
    process are killed before it is reaped: nothing it started is left. It gets a scrubbed
    environment (training/sandbox.py) with the names in ``environment`` passed on."""
    env = sandbox.child_environment(workdir, environment)
    env["PYTHONHASHSEED"] = "0"
    for folder in (env["HOME"], env["TMPDIR"]):
        os.makedirs(folder, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, containment.__file__, str(workdir), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
            start_new_session=True,
        )
        deadline = started + time_limit
        timed_out = stopped = False
        killed_cpu_s = 0.0
        while True:
            # Exited, not yet reaped (WNOWAIT): its pid, and so its group's, is still ours.
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            stopped = stop is not None and stop.is_set()
            if time.perf_counter() > deadline or stopped:
                timed_out = not stopped
                init = containment.training_pid(proc.pid)
                if init is not None:  # PID 1 of its namespace: all in it die with it
                    # What the training process used until now: the kernel does not hand a
                    # process killed with its namespace on to the keeper's wait4.
                    trainer = containment.training_pid(init)
                    killed_cpu_s = 0.0 if trainer is None else _cpu_seconds(trainer)
                    _kill(init)
                    # The keeper reaps it (and init reaped the rest as the namespace ended),
                    # so the CPU time of the tree reaches this wait4; a keeper that does not
                    # end at once is killed with its group below.
                    _exited_within(proc.pid, KEEPER_GRACE_SECONDS)
                break
            time.sleep(POLL_SECONDS)
        _kill_group(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu_s = usage.ru_utime + usage.ru_stime + killed_cpu_s
    wall_s = time.perf_counter() - started
    result_path = workdir / RESULT
    result = None
    if result_path.is_file() and not (timed_out or stopped):
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
    return ChildOutcome(
        result, int(proc.returncode), wall_s, cpu_s, timed_out, stopped, cpu_seconds
    )


def _exited_within(pid: int, seconds: float) -> bool:
    deadline = time.perf_counter() + seconds
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.perf_counter() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _cpu_seconds(pid: int) -> float:
    """CPU seconds process ``pid`` and the children it waited for used (/proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        # utime, stime, cutime, cstime: fields 14-17, in clock ticks
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
