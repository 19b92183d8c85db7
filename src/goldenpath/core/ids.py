"""Object ids: ULIDs, sortable by creation time and safe in paths and URLs."""

from __future__ import annotations

from ulid import ULID


def new_id() -> str:
    """Return a new ULID as its 26-character Crockford base32 string."""
    return str(ULID())
