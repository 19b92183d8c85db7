"""The one file lock (core/locks.py): exclusive holders exclude each other across threads and
processes, shared holders share, and a holder killed with SIGKILL leaves no lock behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from goldenpath.core.locks import file_lock

HOLD = """
import sys, time
from pathlib import Path
from goldenpath.core.locks import file_lock
with file_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def _acquired_within(path: Path, seconds: float, *, shared: bool = False) -> bool:
    """Whether another thread gets the lock on ``path`` within ``seconds``."""
    got = threading.Event()

    def take() -> None:
        with file_lock(path, shared=shared):
            got.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return got.wait(seconds)


def test_an_exclusive_holder_excludes_the_next_until_it_leaves(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    order: list[str] = []
    with file_lock(path):
        waiter = threading.Thread(target=lambda: _hold_and_note(path, order), daemon=True)
        waiter.start()
        time.sleep(0.3)
        order.append("first leaves")
    waiter.join(5)
    assert order == ["first leaves", "second holds"]


def _hold_and_note(path: Path, order: list[str]) -> None:
    with file_lock(path):
        order.append("second holds")


def test_shared_holders_share_and_exclude_a_writer(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    with file_lock(path, shared=True):
        assert _acquired_within(path, 2.0, shared=True)
        assert not _acquired_within(path, 0.3)  # a writer waits for the readers


def test_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not _acquired_within(path, 0.3)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        assert _acquired_within(path, 5.0)
    finally:
        holder.kill()
        holder.wait(10)


def test_the_lock_file_gets_the_mode_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "key.lock"
    with file_lock(path, mode=0o600):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
