"""Timing helpers shared by the benchmarks (imported when they run as scripts from here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """The fastest of ``runs`` calls of ``work``: its seconds and its result."""
    best: tuple[float, T] | None = None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        if best is None or seconds < best[0]:
            best = (seconds, result)
    assert best is not None, "runs must be at least 1"
    return best
