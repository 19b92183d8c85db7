"""A deployment's monitor: ``python -m goldenpath.server.monitor FOLDER`` (docs/monitoring.md).

Its supervisor (``serving/supervisor.py``) starts it beside the inference server and restarts
it if it dies, so a monitor that fails never touches serving: it is another process. Every
``monitor_interval`` seconds of the deployment's spec (``monitor.interval`` in ``gp.yaml`` or
``config.yaml``, default 30 s) it runs ``ws.monitoring.run`` over the last ``monitor_window``
(default 5 min) as the deployment's own principal, the same call as ``gp monitor``. A run
that fails is logged and counted; the next one runs on time. What it did is in
``monitor.json`` beside the spec: ``runs``, ``failures``, ``last_run_at``, ``last_verdict``,
``last_error`` (written atomically).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from goldenpath.core.atomic import write_atomically
from goldenpath.core.clock import utcnow
from goldenpath.serving.spec import DeploymentSpec

log = logging.getLogger("goldenpath.monitor")
STATUS_FILE = "monitor.json"
WATCH_SECONDS = 0.5  # how often it checks that its supervisor lives


def read_status(folder: Path) -> dict[str, Any] | None:
    """What the deployment's monitor last wrote, or None."""
    try:
        found = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


class Monitor:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stop = threading.Event()
        self.status: dict[str, Any] = {"runs": 0, "failures": 0, "pid": os.getpid()}
        self._ws: Any = None

    def _workspace(self, spec: DeploymentSpec) -> Any:
        if self._ws is None:
            from goldenpath.core.actor import Actor
            from goldenpath.workspace import open_workspace

            self._ws = open_workspace(
                os.environ.get("GP_HOME"), actor=Actor(spec.principal), project=spec.project
            )
        return self._ws

    def run_once(self) -> None:
        spec = DeploymentSpec.read(self.folder)
        try:
            report = self._workspace(spec).monitoring.run(
                spec.name, window=timedelta(seconds=spec.monitor_window)
            )
        except Exception as exc:  # logged and counted: the next run comes on time
            self.status["failures"] += 1
            self.status["last_error"] = f"{type(exc).__name__}: {exc}"[:1_000]
            log.exception("monitor run failed")
            if self._ws is not None and not isinstance(exc, ValueError):
                self._close()  # reopen next time (a database restarted, a grant changed)
        else:
            self.status["runs"] += 1
            self.status["last_verdict"] = report.verdict
            self.status["last_rows"] = report.rows
            self.status.pop("last_error", None)
            log.info("window of %s rows: %s", report.rows, report.verdict)
        self.status["last_run_at"] = utcnow().isoformat()
        write_atomically(self.folder / STATUS_FILE, json.dumps(self.status).encode(), mode=0o600)

    def _close(self) -> None:
        try:
            self._ws.close()
        except Exception:
            log.exception("closing the monitor's workspace failed")
        self._ws = None

    def loop(self) -> int:
        spec = DeploymentSpec.read(self.folder)
        log.info(
            "monitoring %s every %gs over the last %gs",
            spec.name,
            spec.monitor_interval,
            spec.monitor_window,
        )
        parent = os.getppid()
        next_run = time.monotonic() + spec.monitor_interval
        while not self.stop.wait(min(max(next_run - time.monotonic(), 0.0), WATCH_SECONDS)):
            if os.getppid() != parent:  # the supervisor died (SIGKILL): do not outlive it
                log.error("the supervisor is gone: stopping")
                break
            if time.monotonic() < next_run:
                continue
            self.run_once()
            interval = DeploymentSpec.read(self.folder).monitor_interval
            next_run = max(next_run + interval, time.monotonic())
        if self._ws is not None:
            self._close()
        return 0


def main(folder: Path) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s monitor: %(message)s")
    monitor = Monitor(folder)

    def on_term(signum: int, frame: object) -> None:
        monitor.stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    return monitor.loop()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
