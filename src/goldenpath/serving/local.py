"""The local runtime: a deployment is a supervisor process (and its server) on this machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from goldenpath.core.errors import BackendUnavailable
from goldenpath.serving.spec import read_state
from goldenpath.serving.supervisor import PID_FILE

READY_SECONDS = 60.0
STOP_SECONDS = 30.0


def free_port(host: str) -> int:
    """A port free on ``host`` now (the kernel's choice)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def supervisor_pid(folder: Path) -> int | None:
    """The live supervisor's pid, or None (no pid file, or its process is gone or not ours)."""
    try:
        pid = int((folder / PID_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid
    if b"goldenpath.serving.supervisor" not in cmdline or str(folder).encode() not in cmdline:
        return None  # the pid was reused by another process
    return pid


def start(folder: Path, home: Path) -> int:
    """Start the deployment's supervisor in its own session; its pid."""
    env = os.environ.copy()
    env["GP_HOME"] = str(home)
    with open(folder / "supervisor.log", "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "goldenpath.serving.supervisor", str(folder)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=folder,
        )
    return process.pid


def wait_ready(folder: Path, generation: int, timeout: float = READY_SECONDS) -> None:
    """Until the server reports ``generation`` loaded; raise with the log's tail if it
    does not, or if the supervisor dies."""
    deadline = time.monotonic() + timeout
    seen_supervisor = False
    while time.monotonic() < deadline:
        state = read_state(folder) or {}
        if state.get("generation") == generation and state.get("status") == "ready":
            if state.get("error"):
                raise BackendUnavailable(
                    f"the server kept generation {generation - 1}: {state['error']}",
                    hint=f"see: {folder / 'server.log'}",
                )
            return
        if state.get("generation", 0) >= generation and state.get("error"):
            raise BackendUnavailable(str(state["error"]), hint=f"see: {folder / 'server.log'}")
        alive = supervisor_pid(folder) is not None
        seen_supervisor = seen_supervisor or alive
        if (seen_supervisor and not alive) or state.get("status") == "failed":
            raise BackendUnavailable(
                "the deployment's server did not start:\n" + tail(folder / "server.log", 15),
                hint=f"see the logs: gp deployments logs {folder.name}",
            )
        time.sleep(0.05)
    raise BackendUnavailable(
        f"the deployment's server was not ready within {timeout:.0f}s:\n"
        + tail(folder / "server.log", 15),
        hint=f"see the logs: gp deployments logs {folder.name}",
    )


def stop(folder: Path, timeout: float = STOP_SECONDS) -> bool:
    """SIGTERM the supervisor (the server drains first) and wait; False if none was running."""
    pid = supervisor_pid(folder)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor_pid(folder) is None:
            return True
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)
    return True


def tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
