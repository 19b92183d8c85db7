"""Step progress for long commands: a live step list on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from goldenpath.cli.render import err


class StepProgress:
    """Shows each step of a long operation with its duration, on stderr."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.started = time.perf_counter()

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        started = time.perf_counter()
        if err.is_terminal:
            with err.status(f"{self.title}: {label}..."):
                yield
        else:
            yield
        err.print(f"  {label:<9} {time.perf_counter() - started:7.2f}s", highlight=False)
