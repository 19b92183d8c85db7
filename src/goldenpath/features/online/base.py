"""The online store's interface: what every backend (one file each) implements.

Values cross it as native Python values or Arrow tables; nothing is serialised on the way.
A backend stores two things per feature view, each keyed by the *entity key* (the join key
values as text, see :func:`encode_key`):

- **rows**: source rows with their row-level feature values, ordered by
  ``(event time, created time, dataset version, row position)``. On write, for each entity
  written, every row older than its newest row with event time <= now is dropped (ties kept):
  what is left answers "the latest row with event time <= T" exactly for any T from the newest
  event on (rows dated in the future stay, and win once their time comes);
- **events** (views with windowed aggregations only): the aggregated columns' values of each
  source row, kept while the event time lies within the view's largest window of the entity's
  newest event time <= now. Aggregations are computed at read time over ``(T - w, T]``, so they
  stay exact between materialisations as time passes and as rows are pushed.

Writes are idempotent upserts keyed by ``(entity, event time, created time, version,
position)``: a write redone after a crash changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import pyarrow as pa

from goldenpath.core.errors import Conflict

# A created timestamp that is null sorts lowest (semantics: nulls lowest); stored as this.
NO_CREATED = -(2**62)

ORDER_COLUMNS = ("__ev", "__cr", "__ver", "__pos")
"""The columns (after ``__key``) that order a view's rows and events, in microseconds (UTC
epoch) for the two times."""

KeyType = str  # "int64" | "string"


@dataclass(frozen=True)
class ViewLayout:
    """What a store keeps for one view, recorded with its values so readers can check them."""

    view: str
    definition_hash: str
    key_types: tuple[KeyType, ...]
    fields: tuple[str, ...]
    field_types: tuple[str, ...]
    event_columns: tuple[str, ...]
    retention_us: int

    @property
    def tag(self) -> str:
        """A short name for this definition's storage (tables, Redis key prefixes)."""
        return self.definition_hash[:12]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ViewLayout:
        data = json.loads(text)
        return cls(
            view=data["view"],
            definition_hash=data["definition_hash"],
            key_types=tuple(data["key_types"]),
            fields=tuple(data["fields"]),
            field_types=tuple(data["field_types"]),
            event_columns=tuple(data["event_columns"]),
            retention_us=int(data["retention_us"]),
        )


StoredRow = tuple[int, tuple[Any, ...], int]
"""A view's winning row for one entity: (event time in microseconds, field values, the
source dataset version the row came from: ``__ver``, 0 for a view over a SQL query)."""

StoredEvent = tuple[int, tuple[Any, ...], int]
"""One event: (event time in microseconds, the aggregated columns' values, its source dataset
version as for :data:`StoredRow`)."""


def redefined(view: str) -> Conflict:
    """The error of a read planned with a layout the store no longer holds."""
    return Conflict(
        f"the online values of {view!r} were rewritten under another version of its definition",
        hint="reload the feature definitions (restart the serving process) and look up again",
    )


class OnlineStore(Protocol):
    """One backend of the online feature store (``sqlite.py``, ``redis.py``)."""

    @property
    def identity(self) -> str:
        """Names this store in the materialisation state (``sqlite``, ``redis://host:port/db``):
        a workspace that moves to another store materialises again from scratch."""
        ...

    def layout(self, view: str) -> ViewLayout | None:
        """The layout the view's values were written with, or None if never written."""
        ...

    def write(
        self,
        layout: ViewLayout,
        rows: pa.Table,
        events: pa.Table | None,
        *,
        now_us: int,
        replace: bool = False,
    ) -> None:
        """Upsert rows (``__key``, order columns, one column per field) and events (``__key``,
        order columns, one column per event column), then prune what the rules above no longer
        need for the entities written. ``replace`` first removes every value of the view
        (a full rebuild; a backend makes it atomic as far as it can, see its module), as does
        a layout whose definition hash differs from the stored one."""
        ...

    def read_rows(
        self, layout: ViewLayout, keys: Sequence[str], at_us: int
    ) -> list[StoredRow | None]:
        """Per key, the winning row at ``at_us`` (latest by the order columns among rows with
        event time <= ``at_us``), or None. ``layout`` is the one the caller planned with; if
        the store now holds the view under another definition: :class:`Conflict`."""
        ...

    def read_events(
        self, layout: ViewLayout, keys: Sequence[str], start_us: int, end_us: int
    ) -> list[list[StoredEvent]]:
        """Per key, the events with event time in ``(start_us, end_us]`` (:class:`Conflict` as
        for :meth:`read_rows`)."""
        ...

    def oldest_rows(self, layout: ViewLayout, keys: Sequence[str]) -> list[int | None]:
        """Per key, the event time (microseconds) of the oldest row the store keeps, or None
        if it keeps none (:class:`Conflict` as for :meth:`read_rows`). Rows older than it may
        have been pruned: the store is exact for that entity from this instant on."""
        ...

    def entity_keys(self, layout: ViewLayout, limit: int) -> list[str]:
        """Up to ``limit`` entity keys the store holds rows for, in the backend's own order
        (what a deploy's freshness check samples; :class:`Conflict` as for :meth:`read_rows`)."""
        ...

    def drop(self, view: str) -> None:
        """Remove every value and the layout of ``view``."""
        ...

    def async_reads(self) -> AsyncReads | None:
        """The reads as coroutines on the running event loop, for a store across the network
        (Redis), so an inference server's lookup never blocks its loop; None for a local store
        (SQLite: a read is microseconds, cheaper on the loop than any hand-off)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class AsyncReads(Protocol):
    """:meth:`OnlineStore.read_rows`, ``read_events`` and ``oldest_rows`` as coroutines, with
    the same answers and errors. Cancelling one (a lookup's time limit) leaves the store
    usable: the connection it was using is dropped, not reused half-read."""

    async def read_rows(
        self, layout: ViewLayout, keys: Sequence[str], at_us: int
    ) -> list[StoredRow | None]: ...

    async def read_events(
        self, layout: ViewLayout, keys: Sequence[str], start_us: int, end_us: int
    ) -> list[list[StoredEvent]]: ...

    async def oldest_rows(self, layout: ViewLayout, keys: Sequence[str]) -> list[int | None]: ...

    async def aclose(self) -> None:
        """Release this loop's connections (a process that ends need not)."""
        ...


def encode_key(values: Sequence[Any]) -> str:
    """An entity key as stored: the value as text for one join key, a compact JSON array for
    several. The types are checked before (a view's key types are fixed), so ``1`` and ``"1"``
    never meet in one view."""
    if len(values) == 1:
        return str(values[0])
    return json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)


def encode_keys(columns: Sequence[pa.ChunkedArray | pa.Array]) -> list[str]:
    """:func:`encode_key` for every row of the join key columns (Arrow)."""
    if len(columns) == 1:
        return [str(v) for v in columns[0].to_pylist()]
    lists = [c.to_pylist() for c in columns]
    return [encode_key(values) for values in zip(*lists, strict=True)]
