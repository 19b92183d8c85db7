"""Lineage references: what ``gp lineage REF`` and ``ws.lineage.upstream(REF)`` take.

``KIND:NAME@VERSION`` for versioned objects, ``KIND:ID`` for the others; a reference without a
kind is a dataset version (``transactions@3``). Parsing checks the form only: whether the
object exists (and whether the caller may read it) is the query's to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from goldenpath.core.errors import InvalidInput

REF_CHARS_MAX = 200

# kind in a reference -> the node kind of the lineage graph (lineage_edges' from/to_kind)
KINDS = {
    "prediction": "prediction",
    "dataset": "dataset_version",
    "view": "feature_view_version",
    "training-set": "training_set",
    "run": "run",
    "model": "model_version",
    "deployment": "deployment",
}
VERSIONED = frozenset({"dataset", "view", "training-set", "model"})
FORMS = (
    "prediction:REQUEST_ID, DATASET@V (or dataset:DATASET@V), view:VIEW@V, "
    "training-set:NAME@V, run:RUN_ID, model:MODEL@V, deployment:NAME"
)
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


@dataclass(frozen=True)
class LineageRef:
    """A parsed reference: ``kind`` as written (``dataset``), ``node_kind`` as stored
    (``dataset_version``), ``name`` and ``version`` for versioned objects, ``name`` alone for
    a deployment, ``id`` for a prediction (its request id) or a run."""

    kind: str
    name: str | None = None
    version: int | None = None
    id: str | None = None

    @property
    def node_kind(self) -> str:
        return KINDS[self.kind]

    @property
    def text(self) -> str:
        if self.id is not None:
            return f"{self.kind}:{self.id}"
        if self.version is not None:
            return f"{self.kind}:{self.name}@{self.version}"
        return f"{self.kind}:{self.name}"


def _bad(text: str, why: str) -> InvalidInput:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return InvalidInput(f"{shown!r} is not a lineage reference: {why}", hint=f"use {FORMS}")


def parse_ref(text: object) -> LineageRef:
    """``text`` as a :class:`LineageRef`, or one :class:`InvalidInput` saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("name what to trace", hint=f"use {FORMS}")
    if len(text) > REF_CHARS_MAX:
        raise _bad(text, f"longer than {REF_CHARS_MAX} characters")
    kind, sep, rest = text.strip().partition(":")
    if not sep:
        kind, rest = "dataset", text.strip()
    if kind not in KINDS:
        raise _bad(text, f"unknown kind {kind[:40]!r} (kinds: {', '.join(KINDS)})")
    if kind in ("prediction", "run"):
        value = rest.strip().upper()
        if not _ULID.fullmatch(value):
            what = "a request id" if kind == "prediction" else "a run id"
            raise _bad(
                text,
                f"{what} is a ULID: 26 characters of Crockford base32 (0-9, A-Z without I L O U)",
            )
        return LineageRef(kind, id=value)
    name, at, version = rest.partition("@")
    if not _NAME.fullmatch(name):
        raise _bad(text, f"{name[:70]!r} is not a name (lower case letters, digits, - and _)")
    if kind == "deployment":
        if at:
            raise _bad(text, "a deployment has no version: deployment:NAME")
        return LineageRef(kind, name=name)
    if not at:
        raise _bad(
            text, f"name the version: {kind}:{name}@3" if sep else f"name the version: {name}@3"
        )
    if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= 2**31 - 1:
        raise _bad(text, f"version {version[:20]!r} is not a version number (1, 2, ...)")
    return LineageRef(kind, name=name, version=int(version))
