"""Which process is which: a process's identity that a reused pid cannot fake, and whether
it is still alive.

An identity is the pid, the process's start time (field 22 of ``/proc/PID/stat``, in clock
ticks since boot), the machine's boot id and its host name. A pid is reused after its
process exits, and start times restart at each boot; the three together name one process
once. Only a reader on the same machine (same host name and boot id) can tell whether that
process still runs: elsewhere the answer is "unknown" (None).
"""

from __future__ import annotations

import os
import socket
from functools import cache
from typing import Any

BOOT_ID = "/proc/sys/kernel/random/boot_id"


@cache
def boot_id() -> str:
    """This boot of this machine ('' where /proc does not say)."""
    try:
        with open(BOOT_ID, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')': split after
    # the last ')'. Field 22 (starttime) is then the 20th of the rest.
    try:
        return int(stat[stat.rindex(b")") + 2 :].split()[19])
    except (ValueError, IndexError):
        return None


def identity(pid: int | None = None) -> dict[str, Any]:
    """The identity of process ``pid`` (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return {
        "pid": pid,
        "started": start_ticks(pid),
        "boot_id": boot_id(),
        "host": socket.gethostname(),
    }


def is_alive(process: dict[str, Any]) -> bool | None:
    """Whether the process an :func:`identity` names still runs: True or False on the same
    machine, None where this machine cannot tell (another host, or no /proc)."""
    try:
        pid, started = int(process["pid"]), process.get("started")
        host, boot = str(process["host"]), str(process.get("boot_id") or "")
    except (KeyError, TypeError, ValueError):
        return None
    if host != socket.gethostname() or not boot or not boot_id():
        return None
    if boot != boot_id():  # this machine has rebooted since: every process of then is gone
        return False
    return started is not None and start_ticks(pid) == started
