"""Progress for long commands, on stderr: a live display on a terminal (a spinner, and a bar
with a count where the work is counted), plain lines when piped, nothing under ``--json``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from goldenpath.cli.render import err

# When piped, a counted step prints how far it is at most this often.
PLAIN_EVERY_SECONDS = 2.0


class StepProgress:
    """Shows each step of a long operation with its duration; ``enabled=False`` (``--json``)
    shows nothing. Implements :class:`goldenpath.core.progress.Progress`."""

    def __init__(self, title: str, *, enabled: bool = True) -> None:
        self.title = title
        self.enabled = enabled
        self.started = time.perf_counter()
        self._live: Any = None
        self._task: Any = None
        self._label = ""
        self._shown_at = 0.0

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        started = time.perf_counter()
        self._label, self._shown_at = label, started
        if err.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self._live, self._task = live, live.add_task(f"{self.title}: {label}", total=None)
            try:
                with live:
                    yield
            finally:
                self._live = self._task = None
        else:
            yield
        err.print(f"  {label:<9} {time.perf_counter() - started:7.2f}s", highlight=False)

    def count(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        if self._live is not None:
            self._live.update(self._task, completed=done, total=total)
            return
        now = time.perf_counter()
        if now - self._shown_at >= PLAIN_EVERY_SECONDS:
            self._shown_at = now
            of = f" of {total:,}" if total is not None else ""
            err.print(f"  {self._label:<9} {done:,}{of}", highlight=False)
