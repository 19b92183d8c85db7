"""Recording lineage: one function every capability calls as it makes an object.

An edge says that one versioned object went into another (``dataset_version`` ->
``feature_view_version`` -> ``training_set``; later ``training_set`` -> ``run`` -> ``model``).
It is written on the caller's connection, inside the transaction that records the object it
describes, so an object never exists without its lineage, nor lineage without its object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from goldenpath.core.clock import utcnow
from goldenpath.core.ids import new_id
from goldenpath.store.tables import lineage_edges


def record_edge(
    conn: Connection,
    from_kind: str,
    from_id: str,
    to_kind: str,
    to_id: str,
    relation: str,
    attributes: Mapping[str, Any] | None = None,
) -> str:
    """Insert one edge on ``conn`` (the caller's transaction); return its id.

    ``attributes`` is JSON: for reads of time-ordered data it holds the event-time range read
    (``event_time_min``, ``event_time_max`` as ISO-8601 UTC text).
    """
    edge_id = new_id()
    conn.execute(
        lineage_edges.insert().values(
            id=edge_id,
            from_kind=from_kind,
            from_id=from_id,
            to_kind=to_kind,
            to_id=to_id,
            relation=relation,
            attributes=dict(attributes or {}),
            created_at=utcnow(),
        )
    )
    return edge_id
