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
# ASCII digits only: str.isdigit() also accepts Arabic-Indic, full-width and superscript digits
# (int() reads the first two and refuses the last).
VERSION_PATTERN = re.compile(r"[0-9]{1,10}")
# Versions are stored in 32-bit integer columns on every metadata backend.
MAX_VERSION = 2**31 - 1


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
    """Parse ``name`` or ``name@N`` (N from 1 to 2**31-1, ASCII digits) into a :class:`Ref`."""
    name, sep, version_text = ref.partition("@")
    validate_name(name, kind=kind)
    if not sep:
        return Ref(name)
    # Matched before int(): a long digit string would otherwise cost time or raise ValueError.
    if not VERSION_PATTERN.fullmatch(version_text) or not 1 <= int(version_text) <= MAX_VERSION:
        shown = version_text if len(version_text) <= 20 else f"{version_text[:20]}..."
        raise InvalidName(
            f"invalid version {shown!r} in {name}@...: a version is an integer "
            f"from 1 to {MAX_VERSION} written in ASCII digits",
            hint=f"for example: {name}@1",
        )
    return Ref(name, int(version_text))
