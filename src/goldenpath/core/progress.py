"""Progress reporting for long work, without the services knowing how it is shown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Progress(Protocol):
    """Receives the steps of a long operation (the CLI draws them; the SDK ignores them)."""

    def step(self, label: str) -> AbstractContextManager[None]: ...

    def count(self, done: int, total: int | None = None) -> None:
        """How far the current step is: ``done`` of ``total`` (None if unknown) items."""
        ...


class NoProgress:
    """Shows nothing."""

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        yield

    def count(self, done: int, total: int | None = None) -> None:
        return None
