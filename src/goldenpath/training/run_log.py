"""Logging to an open run: the checks on keys and values, and the buffer that makes it fast.

Both an in-process run (:class:`goldenpath.training.runs.ActiveRun`) and a run logged over HTTP
(the remote SDK's) are a :class:`RunLogger`: every call is checked at once (a bad key, a value
too long, a changed parameter or a call on an ended run raises there), then kept in memory and
written in one transaction with the others:

- when the run ends (``end``, ``fail`` or leaving its ``with`` block), in the same
  transaction as its status;
- when 1,000 entries are waiting (:data:`FLUSH_ENTRIES`);
- about a second after the oldest waiting entry was logged (a background thread,
  :data:`FLUSH_SECONDS`), so another process's ``gp runs list`` sees a notebook's metrics soon;
- on :meth:`RunLogger.flush`, and before an artifact, an input or the environment is written;
- when the interpreter exits normally with the run still open (the run stays ``running``).

What a crash loses: if the process dies (killed, power cut) the entries logged in the last
second or so, at most 1,000, are not written, and the run stays ``running``. One transaction
per call made a run of 5 parameters and 5 metrics 12 transactions (152 runs/s on SQLite,
*probe*); buffered it is two, start and end (600-800 runs/s; benchmarks/RESULTS.md, "Issue 14:
runs").
"""

from __future__ import annotations

import atexit
import contextlib
import math
import numbers
import re
import threading
import time
import traceback as traceback_module
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, InvalidInput

KEY_CHARS_MAX = 250
PARAM_CHARS_MAX = 6_000  # as MLflow
TAG_CHARS_MAX = 5_000
RUN_NAME_CHARS_MAX = 128
ARTIFACT_NAME_CHARS_MAX = 512
MESSAGE_CHARS_MAX = 10_000
TRACEBACK_CHARS_MAX = 200_000
STEP_MAX = 2**63 - 1
FLUSH_ENTRIES = 1_000
FLUSH_SECONDS = 1.0
SOURCES = ("notebook", "pipeline")
STATUSES = ("running", "finished", "failed")
_NUMERIC_TEXT = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:40] + "...")


def check_key(key: object, what: str = "key") -> str:
    """A param, metric or tag key: text of 1-250 printable characters, no spaces at its ends."""
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"a {what} must be non-empty text, got {key!r:.60}")
    if len(key) > KEY_CHARS_MAX:
        raise InvalidInput(
            f"{what} {_shown(key)} is {len(key):,} characters long, at most {KEY_CHARS_MAX}",
            hint="use a shorter key",
        )
    if not key.isprintable() or key != key.strip():
        raise InvalidInput(
            f"{what} {_shown(key)} must be printable, without spaces at its ends",
            hint="for example: roc_auc, model/max_depth, val loss",
        )
    return key


def check_text(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidInput(
            f"{what} is {len(value):,} characters long, at most {limit:,}",
            hint="log long text as an artifact: run.log_text(name, text)",
        )
    return value


def param_value(key: str, value: object) -> tuple[str, float | None]:
    """A parameter as stored: its text (``str(value)``) and, if it is a number, that number."""
    text = check_text(
        value if isinstance(value, str) else str(value), f"param {key!r}", PARAM_CHARS_MAX
    )
    number: float | None = None
    if (isinstance(value, numbers.Real) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMERIC_TEXT.fullmatch(value)
    ):
        number = _finite(value)
    return text, number


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def metric_value(key: str, value: object) -> float | None:
    """A metric as stored: a float, or None for NaN and the infinities (a result, not an error)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"metric {key!r} must be a number, got {type(value).__name__} {value!r:.60}",
            hint="log text as a tag (run.set_tag) or a parameter",
        )
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def check_step(step: object) -> int:
    if step is None:
        return 0
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(f"a metric step is an integer, got {step!r:.60}")
    if not 0 <= int(step) <= STEP_MAX:
        raise InvalidInput(f"a metric step is from 0 to {STEP_MAX}, got {step}")
    return int(step)


def tag_value(key: str, value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return check_text(text, f"tag {key!r}", TAG_CHARS_MAX)


def check_run_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise InvalidInput(f"a run name is printable, non-empty text, got {name!r:.60}")
    if len(name) > RUN_NAME_CHARS_MAX:
        raise InvalidInput(f"a run name is at most {RUN_NAME_CHARS_MAX} characters")
    return name.strip()


def clip_error(step: str, message: str, traceback: str) -> dict[str, str]:
    """A failure as stored: the step, the message's start and the traceback's end (the last
    frames say where it failed)."""
    step = str(step)[:KEY_CHARS_MAX] or "unknown"
    message = str(message)
    if len(message) > MESSAGE_CHARS_MAX:
        message = message[:MESSAGE_CHARS_MAX] + " [...]"
    traceback = str(traceback)
    if len(traceback) > TRACEBACK_CHARS_MAX:
        traceback = "[...]\n" + traceback[-TRACEBACK_CHARS_MAX:]
    return {"step": step, "message": message, "traceback": traceback}


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float | None
    step: int
    at: datetime


@dataclass
class Pending:
    """Entries logged and not yet written."""

    params: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    metrics: list[MetricPoint] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    since: float = 0.0  # monotonic time of the oldest entry

    def __len__(self) -> int:
        return len(self.params) + len(self.metrics) + len(self.tags)

    def merge_back(self, newer: Pending) -> None:
        """Put entries whose write failed back in front of those logged since."""
        self.params = {**self.params, **newer.params}
        self.metrics = [*self.metrics, *newer.metrics]
        self.tags = {**self.tags, **newer.tags}
        self.since = min(self.since, newer.since) if newer else self.since


class _Flusher:
    """One daemon thread per process that writes the entries of open runs that have waited
    about :data:`FLUSH_SECONDS` (it holds the runs weakly: a forgotten run is not kept)."""

    def __init__(self) -> None:
        self._runs: weakref.WeakSet[RunLogger] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, run: RunLogger) -> None:
        with self._lock:
            self._runs.add(run)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="gp-runs", daemon=True)
                self._thread.start()

    def flush_all(self) -> None:
        """Write what every open run has waiting (at interpreter exit: a script that never
        ended its run keeps what it logged; the run stays running)."""
        with self._lock:
            open_runs = list(self._runs)
        for run in open_runs:
            with contextlib.suppress(Exception):
                run.flush()

    def forget(self, run: RunLogger) -> None:
        with self._lock:
            self._runs.discard(run)

    def _loop(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS / 2)
            with self._lock:
                open_runs = list(self._runs)
            now = time.monotonic()
            for run in open_runs:
                run._flush_if_older(now - FLUSH_SECONDS)
            del open_runs


FLUSHER = _Flusher()
atexit.register(FLUSHER.flush_all)


class RunLogger:
    """What logging to a run means, wherever it is written (in process or over HTTP)."""

    id: str
    name: str
    experiment: str

    def __init__(self, run_id: str, name: str, experiment: str, params: Mapping[str, str]) -> None:
        self.id, self.name, self.experiment = run_id, name, experiment
        self._params: dict[str, str] = dict(params)  # every parameter logged, to refuse changes
        self._pending = Pending()
        self._lock = threading.RLock()
        self._ended = False
        self._cpu_start = time.process_time()
        FLUSHER.watch(self)

    # -- what subclasses write -----------------------------------------------------------------

    def _require_write(self) -> None:
        raise NotImplementedError

    def _write(self, pending: Pending) -> None:
        raise NotImplementedError

    def _finish(
        self, pending: Pending, status: str, cpu_s: float | None, error: dict[str, str] | None
    ) -> None:
        raise NotImplementedError

    # -- logging -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        self._require_write()
        if self._ended:
            raise Conflict(
                f"run {self.id} has ended: nothing more can be logged to it",
                hint="start a new run: ws.runs.start(...)",
            )

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter; logging it again with another value is a :class:`Conflict`."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several parameters (all checked before any is kept)."""
        self._check_open()
        checked: dict[str, tuple[str, float | None]] = {}
        for key, value in _items(params, "params"):
            check_key(key, "param key")
            text, number = param_value(key, value)
            before = self._params[key] if key in self._params else checked.get(key, (text,))[0]
            if before != text:
                raise Conflict(
                    f"param {key!r} of run {self.id} is already {_shown(before)}: a parameter "
                    f"is logged once, not changed to {_shown(text)}",
                    hint="log what changes as a metric (with a step), or start a new run",
                )
            checked[key] = (text, number)
        with self._lock:
            self._params.update({k: v[0] for k, v in checked.items()})
            self._add(lambda p: p.params.update(checked), len(checked))

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record a metric's value (at ``step``, default 0). NaN and infinities are kept as
        NaN (stored as NULL): a model that scored NaN is a result."""
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._check_open()
        at_step = check_step(step)
        now = utcnow()
        points = [
            MetricPoint(check_key(key, "metric key"), metric_value(key, value), at_step, now)
            for key, value in _items(metrics, "metrics")
        ]
        with self._lock:
            self._add(lambda p: p.metrics.extend(points), len(points))

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (a later value replaces an earlier one)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._check_open()
        checked = {check_key(k, "tag key"): tag_value(k, v) for k, v in _items(tags, "tags")}
        with self._lock:
            self._add(lambda p: p.tags.update(checked), len(checked))

    def _add(self, put: Any, count: int) -> None:
        if not count:
            return
        if not self._pending:
            self._pending.since = time.monotonic()
        put(self._pending)
        if len(self._pending) >= FLUSH_ENTRIES:
            self.flush()

    def _take(self) -> Pending:
        pending, self._pending = self._pending, Pending()
        return pending

    def flush(self) -> None:
        """Write the entries logged so far now."""
        with self._lock:
            if not self._pending or self._ended:
                return
            pending = self._take()
            try:
                self._write(pending)
            except BaseException:
                pending.merge_back(self._pending)
                self._pending = pending
                raise

    def _flush_if_older(self, cutoff: float) -> None:
        # Called by the background thread: never block a caller, never raise into the thread
        # (an entry that could not be written is kept, and the next flush or end raises).
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._pending and self._pending.since <= cutoff:
                self.flush()
        except Exception:  # kept: the caller's next write or end reports it
            pass
        finally:
            self._lock.release()

    # -- ending --------------------------------------------------------------------------------

    def end(self, status: str = "finished", cpu_s: float | None = None) -> None:
        """End the run (``finished`` or ``failed``), writing what is still waiting with it.

        ``cpu_s``: the CPU seconds the run used; by default this process's CPU time since the
        run started (a pipeline passes its child process's)."""
        if status not in ("finished", "failed"):
            raise InvalidInput(
                f"a run ends finished or failed, not {status!r}",
                hint="run.end() or run.fail(step, message)",
            )
        self._end(status, cpu_s, None)

    def fail(self, step: str, message: str, traceback: str = "") -> None:
        """End the run as failed, keeping which step failed, why, and the traceback."""
        self._end("failed", None, clip_error(step, message, traceback))

    def _end(self, status: str, cpu_s: float | None, error: dict[str, str] | None) -> None:
        if cpu_s is not None and (
            isinstance(cpu_s, bool) or not isinstance(cpu_s, numbers.Real) or not cpu_s >= 0
        ):
            raise InvalidInput(f"cpu_s is a number of seconds >= 0, got {cpu_s!r:.60}")
        with self._lock:
            self._check_open()
            used = float(cpu_s) if cpu_s is not None else time.process_time() - self._cpu_start
            pending = self._take()
            try:
                self._finish(pending, status, used, error)
            except BaseException:
                pending.merge_back(self._pending)
                self._pending = pending
                raise
            self._ended = True
        FLUSHER.forget(self)

    @property
    def ended(self) -> bool:
        return self._ended

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ended:
            return
        if exc is None:
            self.end()
            return
        text = "".join(traceback_module.format_exception(kind, exc, tb))
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        with contextlib.suppress(Exception):  # the user's exception is the one to see
            self.fail("notebook", message, text)

    def __repr__(self) -> str:
        state = "ended" if self._ended else "running"
        return f"{type(self).__name__}({self.id!r}, name={self.name!r}, {state})"


def _items(values: Mapping[str, Any], what: str) -> list[tuple[str, Any]]:
    if not isinstance(values, Mapping):
        raise InvalidInput(f"{what} must be a mapping of key to value, got {type(values).__name__}")
    return list(values.items())
