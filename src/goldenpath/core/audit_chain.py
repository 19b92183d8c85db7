"""The audit trail's hash chain: how one event's hash is computed from the one before.

``hash = sha256(canonical JSON of [prev_hash, id, at, actor, action, object_type, object_ref,
details])``. The first event links to ``GENESIS``. Editing, deleting, inserting or reordering
an event breaks a link that :func:`goldenpath.core.audit.AuditService.verify` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_time(at: datetime | str) -> str:
    """A timestamp as the same text on every backend: UTC ``YYYY-MM-DD HH:MM:SS.ffffff``.

    SQLite hands back exactly this text (SQLAlchemy stores UTC with microseconds), so the
    common case of verifying a million events does no date parsing at all.
    """
    if isinstance(at, str):
        if len(at) == 26:
            return at
        at = datetime.fromisoformat(at)
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(" ", "microseconds")


def event_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """The hash of ``event`` (a row mapping) chained to ``prev_hash``."""
    return chain_hash(
        prev_hash,
        event["id"],
        event["at"],
        event["actor"],
        event["action"],
        event["object_type"],
        event["object_ref"],
        event["details"],
    )


def chain_hash(
    prev_hash: str,
    event_id: str,
    at: datetime | str,
    actor: str,
    action: str,
    object_type: str,
    object_ref: str,
    details: Any,
) -> str:
    """The chained hash of one event's fields (``details`` as a value or its JSON text)."""
    if isinstance(details, str):
        details = json.loads(details)
    body = [
        prev_hash,
        event_id,
        canonical_time(at),
        actor,
        action,
        object_type,
        object_ref,
        details,
    ]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
