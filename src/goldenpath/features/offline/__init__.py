"""Offline (point-in-time) engines: one interface, one module per engine.

``duckdb.py`` is the engine today; a Spark engine can implement the same :class:`OfflineEngine`
later and run the same conformance tests (tests/features/test_point_in_time.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from goldenpath.features.definitions import FeatureView

SEQ = "_gp_seq"
"""The column a dataset source carries with each row's write position (dataset version, then
row): ties between rows with the same event and created time go to the greatest."""


@dataclass(frozen=True)
class ViewInput:
    """One feature view's part of a point-in-time build.

    ``source``: for a dataset source, its rows in write order with a :data:`SEQ` column (a
    ``pa.RecordBatchReader``, read once; the engine keeps only the rows of the keys asked
    for); for a ``SqlSource``, each dataset the query names
    as an Arrow table or dataset (the query runs on the engine's sandboxed connection).
    """

    view: FeatureView
    features: Sequence[str]
    source: pa.RecordBatchReader | Mapping[str, Any]


@dataclass(frozen=True)
class PointInTime:
    """A build's result: the table, and per input the event-time range of the source rows it
    read (None, None when it read none) — what lineage records."""

    table: pa.Table
    read_ranges: Sequence[tuple[datetime | None, datetime | None]] = field(default_factory=list)


class OfflineEngine(Protocol):
    """Computes feature values point-in-time correctly (docs/features.md, "The rules")."""

    def source_schema(self, view: FeatureView, tables: Mapping[str, Any]) -> pa.Schema:
        """The columns a view's source yields (a ``SqlSource``'s query over empty inputs)."""
        ...

    def check_view(self, view: FeatureView, schema: pa.Schema) -> None:
        """Refuse a view whose expressions do not compile over ``schema``, whose join keys are
        missing or whose timestamp columns are not timestamps (InvalidInput naming the view,
        the feature and the reason)."""
        ...

    def point_in_time(
        self, entities: pa.Table, timestamp_column: str, inputs: Sequence[ViewInput]
    ) -> PointInTime:
        """For each entity row (in order), its columns followed by each input's features at
        the row's instant. ``entities[timestamp_column]`` is UTC microseconds."""
        ...
