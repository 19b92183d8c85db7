"""Who is acting. Every state-changing service call records its actor in the audit trail.

The embedded default is the operating-system user; the SDK and CLI can act as someone else
(``connect(actor=...)``, ``GP_ACTOR``) and the control-plane server sets it per request.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass

from goldenpath.core.names import validate_name


@dataclass(frozen=True)
class Actor:
    """A principal acting on the workspace."""

    name: str
    kind: str = "user"

    def __str__(self) -> str:
        return self.name


def default_actor() -> Actor:
    """The actor from ``GP_ACTOR`` if set, else the operating-system user."""
    explicit = os.environ.get("GP_ACTOR")
    if explicit:
        return Actor(validate_name(explicit, kind="actor name"))
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        user = "unknown"
    # OS user names may hold upper case, dots or digits first; map them onto valid names.
    name = re.sub(r"[^a-z0-9_-]", "-", (user or "unknown").lower())[:63]
    return Actor(name if name[:1].isalpha() else f"u{name}"[:63], kind="user")
