"""The audit trail: one row per state change, written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.ids import new_id
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import audit_events


@dataclass(frozen=True)
class AuditEvent:
    """Who did what to which object, and when."""

    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    object_type: str
    object_ref: str
    details: dict[str, Any]


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    object_type: str,
    object_ref: str,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Insert an audit event on ``conn`` (inside the caller's transaction); return its id."""
    event_id = new_id()
    conn.execute(
        audit_events.insert().values(
            id=event_id,
            at=utcnow(),
            actor=actor.name,
            action=action,
            object_type=object_type,
            object_ref=object_ref,
            details=dict(details or {}),
        )
    )
    return event_id


class AuditService:
    """Reading the audit trail."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def list(
        self,
        *,
        limit: int = 50,
        action: str | None = None,
        object_ref: str | None = None,
        actor: str | None = None,
    ) -> list[AuditEvent]:
        """The newest ``limit`` events, newest first, optionally filtered."""
        query = select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
        if action:
            query = query.where(audit_events.c.action.startswith(action))
        if object_ref:
            query = query.where(audit_events.c.object_ref == object_ref)
        if actor:
            query = query.where(audit_events.c.actor == actor)
        with self._store.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditEvent(**dict(row)) for row in rows]
