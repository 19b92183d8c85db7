"""Keeping secrets out of logs, audit details, error messages and status output."""

from __future__ import annotations

import re
from typing import Any

# Bearer tokens, and password-looking parts of URLs and key=value pairs.
_PATTERNS = [
    (re.compile(r"gp_[A-Za-z0-9_-]{43}"), "gp_***"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
    (re.compile(r"(?i)\b(password|passwd|secret|token|api[_-]?key)=([^\s&/;,\"']+)"), r"\1=***"),
    (re.compile(r"(?i)(authorization:\s*bearer\s+)\S+"), r"\1***"),
]


# Something every pattern needs: most text has none, and one search is cheaper than four subs.
_SUSPECT = re.compile(r"gp_|://|(?i:password|passwd|secret|token|api[_-]?key|authorization)")


def suspicious(text: str) -> bool:
    """Whether ``text`` might hold a secret (if not, :func:`redact` leaves it unchanged)."""
    return _SUSPECT.search(text) is not None


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret replaced by ``***``."""
    if not suspicious(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value
