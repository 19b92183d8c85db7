"""The audit trail's hash chain: how one event's hash is computed from the one before.

``hash = sha256('[prev_hash,id,at,actor,action,object_type,object_ref,details]')``, the
fields as JSON (compact separators) and ``details`` as the exact JSON text the metadata
engine stores (``details_text``: plain ``json.dumps``, pinned in ``store/engine.py``). Hashing
the stored text means verification reads and hashes rows without parsing and re-serialising
every event (that round trip was 85% of ``gp audit verify`` on a million events). The first
event links to ``GENESIS``. Editing, deleting, inserting or reordering an event breaks a link
that :meth:`goldenpath.governance.audit.AuditService.verify` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
_dumps = json.dumps


def details_text(details: Any) -> str:
    """The JSON text the engine stores for ``details`` (what the hash covers)."""
    return details if isinstance(details, str) else _dumps(details)


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
    """The chained hash of one event (``details`` as a value or as its stored JSON text)."""
    # prev_hash, the ULID and the time are plain ASCII without quotes: no escaping needed.
    text = (
        f'["{prev_hash}","{event_id}","{canonical_time(at)}",{_dumps(actor)},'
        f"{_dumps(action)},{_dumps(object_type)},{_dumps(object_ref)},"
        f"{details_text(details)}]"
    )
    return hashlib.sha256(text.encode()).hexdigest()


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
