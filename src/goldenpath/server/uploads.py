"""The server's upload workers: warm child processes that parse and write uploaded files.

Why a process: readers and writers are native code (pyarrow, delta-rs). A hostile file that
crashes one (SIGSEGV) or gets it killed (the OOM killer, an operator) must fail that upload
with a problem document while the server keeps answering. Each upload goes to an idle worker
(:mod:`goldenpath.server.worker`) over JSON Lines on its pipes; a worker that dies is replaced
on the next upload. No pickle crosses the boundary: requests are JSON built by the server.

What a killed worker leaves: nothing half-written. It held the dataset's writer lock (an
``flock``, released by the OS when the process dies); its metadata transaction, if open, is
rolled back by the database; and a Delta commit it made without recording a version is undone
by the next writer of that dataset (see :mod:`goldenpath.data.tables`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import subprocess
import sys
import threading
from typing import IO, Any, cast

from goldenpath.core import errors
from goldenpath.core.config import Stack
from goldenpath.server.worker import stack_as_json

log = logging.getLogger("goldenpath.server")

# Two uploads in parallel per server process: a third waits for a worker. Each warm worker
# holds the data engines (~150 MB); more would only contend for the same cores.
WORKERS_MAX = 2
# Signals that mean the worker's own code crashed on what it was given, not that it was
# stopped from outside: the file is the likely cause, so the caller gets a 422.
_CRASHES = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}


class WorkerDied(Exception):
    """The worker's pipe closed before it answered."""

    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"upload worker exited with {returncode}")
        self.returncode = returncode


class _Worker:
    """One child process and its pipes."""

    def __init__(self, stack: Stack) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "goldenpath.server.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            close_fds=True,
        )
        self._send(stack_as_json(stack))
        self._receive()  # {"ready": true}: the engines are loaded

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def _send(self, body: dict[str, Any]) -> None:
        stdin = cast(IO[str], self.process.stdin)
        try:
            stdin.write(json.dumps(body) + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self.process.wait()) from None

    def _receive(self) -> dict[str, Any]:
        line = cast(IO[str], self.process.stdout).readline()
        if not line:
            raise WorkerDied(self.process.wait())
        return cast(dict[str, Any], json.loads(line))

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        self._send(request)
        return self._receive()

    def stop(self) -> None:
        """Close its input (it exits at end of input); kill it if it does not go."""
        with contextlib.suppress(OSError):
            cast(IO[str], self.process.stdin).close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        cast(IO[str], self.process.stdout).close()


class UploadWorkers:
    """Up to :data:`WORKERS_MAX` warm workers shared by the server's request threads."""

    def __init__(self, stack: Stack, size: int = WORKERS_MAX) -> None:
        self._stack = stack
        self._seconds_max = stack.limits.upload_seconds_max
        self._slots = threading.BoundedSemaphore(size)
        self._changed = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._starting = 0
        self._closed = False

    def warm(self) -> None:
        """Start a worker in the background, so that the next upload does not wait for one
        (at server start, and after a worker died)."""
        with self._changed:
            if self._closed:
                return
            self._starting += 1

        def start() -> None:
            try:
                worker: _Worker | None = _Worker(self._stack)
            except WorkerDied:
                log.warning("an upload worker failed to start; the next upload retries")
                worker = None
            with self._changed:
                self._starting -= 1
                if worker is not None and self._closed:
                    worker.stop()
                elif worker is not None:
                    self._idle.append(worker)
                self._changed.notify_all()

        threading.Thread(target=start, name="gp-upload-warm", daemon=True).start()

    def pids(self) -> list[int]:
        """The process ids of the live workers (for operators and tests)."""
        with self._changed:
            return [w.pid for w in [*self._idle, *self._busy] if w.alive()]

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run ``request`` in a worker; return its result or raise its error."""
        with self._slots:
            worker = self._take()
            # A hostile or pathological file must not hold a worker (and its slot) forever:
            # past the limit the worker is killed, which the dataset survives like any kill.
            late = threading.Event()

            def stop_late(worker: _Worker = worker) -> None:
                late.set()
                worker.process.kill()

            timer = threading.Timer(self._seconds_max, stop_late)
            timer.daemon = True
            timer.start()
            try:
                reply = worker.call(request)
            except WorkerDied as died:
                timer.cancel()
                with self._changed:
                    self._busy.discard(worker)
                worker.stop()
                log.warning("upload worker %d died (%s); starting another", worker.pid, died)
                self.warm()
                if late.is_set():
                    raise errors.InvalidInput(
                        f"the upload took longer than {self._seconds_max:g} s to read, check "
                        "and write (limits.upload_seconds_max); no version was recorded",
                        hint="split the file into smaller batches, or raise the limit",
                    ) from None
                raise _died(died.returncode) from None
            timer.cancel()
            with self._changed:
                self._busy.discard(worker)
                if self._closed:
                    worker.stop()
                else:
                    self._idle.append(worker)
                    self._changed.notify_all()
        if "error" in reply:
            raise _error(reply["error"])
        return cast(dict[str, Any], reply["ok"])

    def _take(self) -> _Worker:
        with self._changed:
            while True:
                if self._closed:
                    raise errors.BackendUnavailable("the server is shutting down", hint="retry")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        self._busy.add(worker)
                        return worker
                    worker.stop()  # died while idle: replaced below
                if not self._starting:
                    break
                self._changed.wait()  # one is warming up: cheaper to wait than start another
        try:
            worker = _Worker(self._stack)
        except WorkerDied as died:
            raise errors.BackendUnavailable(
                f"the server could not start an upload worker (exit {died.returncode})",
                hint="see the server's log",
            ) from None
        with self._changed:
            self._busy.add(worker)
        return worker

    def close(self) -> None:
        """Stop every worker (the server is shutting down)."""
        with self._changed:
            self._closed = True
            workers, self._idle = [*self._idle, *self._busy], []
            self._changed.notify_all()
        for worker in workers:
            worker.stop()


def _died(returncode: int | None) -> errors.GoldenpathError:
    code = returncode if returncode is not None else 0
    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    if code < 0 and -code in _CRASHES:
        return errors.InvalidInput(
            f"reading or writing the upload crashed the worker processing it ({how}); "
            "no version was recorded",
            hint="the file is likely malformed in a way the reader cannot handle; check it",
        )
    return errors.BackendUnavailable(
        f"the worker processing the upload stopped ({how}); no version was recorded",
        hint="retry the upload; if it stops again, the file may be too large for the server",
    )


def _error(body: dict[str, Any]) -> Exception:
    ours = errors.rebuild(
        str(body.get("kind")),
        str(body.get("message", "")),
        body.get("hint"),
        policy=str(body.get("policy", "")),
        request_id=body.get("request_id"),
    )
    if ours is None:
        # Not one of ours: a bug, logged by the worker. The server's handler makes it a 500.
        return RuntimeError("the upload worker failed unexpectedly; see its log")
    return ours
