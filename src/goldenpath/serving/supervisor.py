"""A deployment's supervisor: ``python -m goldenpath.serving.supervisor FOLDER``.

One per deployment on the local runtime, in its own session (it outlives the ``gp deploy``
that started it). It runs the inference server as a child process and restarts it when it
dies (backing off; after :data:`CRASHES_MAX` crashes within :data:`CRASH_WINDOW` seconds it
gives up and records ``failed``), and moves the prediction log's spool files into the Delta
table every :data:`FLUSH_SECONDS` (readers also read the spool, so nothing waits for it; a
record that does not fit the table goes to ``spool.dead-letter/``, see ``prediction_log``).
It also runs the deployment's monitor (``python -m goldenpath.server.monitor FOLDER``, every
``monitor.interval``: docs/monitoring.md) as a second child, restarted when it dies (backing
off, logged; ``monitor.json`` says what the monitor did): another process, so a monitor that
fails or hangs never touches serving. On SIGTERM it stops the server (which finishes the
requests in flight first) and the monitor, flushes the log one last time and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from goldenpath.serving.spec import DeploymentSpec, read_state, write_state

log = logging.getLogger("goldenpath.serving.supervisor")
WATCH_SECONDS = 0.5
# Each flush adds a file per hour partition: every few seconds, not every spool file.
FLUSH_SECONDS = 5.0
CRASHES_MAX = 5
CRASH_WINDOW = 60.0
STOP_SECONDS = 20.0
PID_FILE = "supervisor.pid"
MONITOR_BACKOFF_MAX = 60.0


class Supervisor:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.spec = DeploymentSpec.read(folder)
        self.stopping = False
        self.crashes: list[float] = []
        self.server: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.monitor: subprocess.Popen[bytes] | None = None
        self.monitor_restarts = 0
        self.monitor_due = 0.0  # when a dead monitor may be started again (monotonic)

    def start_server(self) -> None:
        log_file = open(self.folder / "server.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.server = subprocess.Popen(
            [sys.executable, "-m", "goldenpath.server.inference", str(self.folder)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        log_file.close()
        log.info("server started (pid %s)", self.server.pid)

    def start_monitor(self) -> None:
        log_file = open(self.folder / "monitor.log", "ab")  # noqa: SIM115 (the child keeps it)
        try:
            self.monitor = subprocess.Popen(
                [sys.executable, "-m", "goldenpath.server.monitor", str(self.folder)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=os.environ.copy(),
            )
        except OSError:  # no monitor this time: serving goes on, the next watch retries
            log.exception("the monitor could not be started")
            self.monitor = None
            self.monitor_due = time.monotonic() + MONITOR_BACKOFF_MAX
        finally:
            log_file.close()

    def watch_monitor(self) -> None:
        """Restart a monitor that died, after a back-off that grows with its restarts."""
        if self.monitor is not None:
            code = self.monitor.poll()
            if code is None:
                return
            self.monitor = None
            self.monitor_restarts += 1
            log.error("monitor exited with %s (restart %s)", code, self.monitor_restarts)
            backoff = min(2.0 ** min(self.monitor_restarts, 6), MONITOR_BACKOFF_MAX)
            self.monitor_due = time.monotonic() + backoff
            return
        if time.monotonic() >= self.monitor_due:
            self.start_monitor()

    def stop_monitor(self) -> None:
        if self.monitor is None or self.monitor.poll() is not None:
            return
        self.monitor.send_signal(signal.SIGTERM)
        try:
            self.monitor.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.error("monitor did not stop in %ss: killed", STOP_SECONDS)
            self.monitor.kill()
            self.monitor.wait()

    def flush(self) -> None:
        from goldenpath.serving.prediction_log import flush_spool

        try:
            written = flush_spool(self.folder / "spool", self.spec.table_uri)
        except Exception:  # a failed flush keeps the spool files for the next attempt
            log.exception("prediction log flush failed")
            return
        if written:
            log.debug("flushed %s predictions", written)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        self.start_server()
        self.start_monitor()
        flushed = time.monotonic()
        while not self.stopping:
            time.sleep(WATCH_SECONDS)
            if time.monotonic() - flushed >= FLUSH_SECONDS:
                self.flush()
                flushed = time.monotonic()
            if not self.stopping:
                self.watch_monitor()
            assert self.server is not None
            code = self.server.poll()
            if code is None or self.stopping:
                continue
            now = time.monotonic()
            self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW] + [now]
            log.error("server exited with %s", code)
            if len(self.crashes) >= CRASHES_MAX:
                log.error(
                    "server crashed %s times in %ss: giving up", len(self.crashes), CRASH_WINDOW
                )
                self._record("failed")
                self.stop_monitor()
                self.flush()
                return 1
            self.restarts += 1
            self._record("restarting")
            time.sleep(min(0.2 * 2 ** len(self.crashes), 5.0))
            self.start_server()
        self.stop_server()
        self.stop_monitor()
        self.flush()
        return 0

    def stop_server(self) -> None:
        if self.server is None or self.server.poll() is not None:
            return
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.error("server did not stop in %ss: killed", STOP_SECONDS)
            self.server.kill()
            self.server.wait()
        self._record("stopped")

    def _on_term(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _record(self, status: str) -> None:
        state = read_state(self.folder) or {}
        state["status"] = status
        state.update({"restarts": self.restarts, "monitor_restarts": self.monitor_restarts})
        write_state(self.folder, state)


def main(folder: Path) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s supervisor: %(message)s"
    )
    pid_file = folder / PID_FILE
    pid_file.write_text(str(os.getpid()), encoding="utf-8")
    try:
        return Supervisor(folder).run()
    finally:
        try:
            if pid_file.read_text(encoding="utf-8").strip() == str(os.getpid()):
                pid_file.unlink()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
