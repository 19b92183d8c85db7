"""Validation of user-supplied names and ``name@version`` references.

A name is checked before it touches a path or a query, so an accepted name can never escape the
storage root or inject SQL: it is lower-case ASCII letters, digits, ``_`` and ``-``, starting
with a letter, at most 63 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from goldenpath.core.errors import InvalidName

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def validate_name(name: str, *, kind: str = "name") -> str:
    """Return ``name`` unchanged if it is a valid object name, else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 70 else f"{str(name)[:40]}..."
        raise InvalidName(
            f"invalid {kind} {shown!r}: use 1-63 lower-case letters, digits, '_' or '-', "
            "starting with a letter",
            hint="for example: transactions, user_events, fraud-2024",
        )
    return name


@dataclass(frozen=True)
class Ref:
    """A reference to an object, optionally pinned to a version: ``transactions@3``."""

    name: str
    version: int | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def parse_ref(ref: str, *, kind: str = "name") -> Ref:
    """Parse ``name`` or ``name@N`` (N a positive integer) into a :class:`Ref`."""
    name, sep, version_text = ref.partition("@")
    validate_name(name, kind=kind)
    if not sep:
        return Ref(name)
    if not version_text.isdigit() or int(version_text) < 1:
        raise InvalidName(
            f"invalid version {version_text!r} in {ref!r}: a version is a positive integer",
            hint=f"for example: {name}@1",
        )
    return Ref(name, int(version_text))
