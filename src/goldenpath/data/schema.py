"""Schemas as JSON, and the difference between two versions' schemas."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


def schema_json(schema: pa.Schema) -> list[dict[str, Any]]:
    """A schema as a list of ``{name, type, nullable}`` (stable, JSON-serialisable)."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


@dataclass(frozen=True)
class SchemaChanges:
    """Columns added, removed and retyped between two schemas."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: list[dict[str, str]] = field(default_factory=list)

    @property
    def breaking(self) -> bool:
        """Removed or retyped columns break readers of the previous version."""
        return bool(self.removed or self.retyped)

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.retyped:
            parts.append(
                "retyped "
                + ", ".join(f"{c['column']} ({c['from']} -> {c['to']})" for c in self.retyped)
            )
        return "; ".join(parts) or "no changes"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _comparable(type_text: str) -> str:
    # Delta stores strings as large/view strings and timestamps at microseconds; a CSV read
    # yields string and timestamp[s]. Those are the same column to a reader.
    aliases = {"large_string": "string", "string_view": "string", "large_binary": "binary"}
    if type_text.startswith("timestamp["):
        return "timestamp" + ("[tz]" if "tz=" in type_text else "")
    if type_text in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
        return "int"  # widening within a family is safe; appends cast to the stored type
    if type_text in ("halffloat", "float", "double"):
        return "float"
    return aliases.get(type_text, type_text)


def _compatible(stored: str, incoming: str) -> bool:
    """Whether incoming values can be stored in the column as-is or by a lossless cast."""
    stored_kind, incoming_kind = _comparable(stored), _comparable(incoming)
    # A batch of whole numbers in a float column (a CSV that happens to have no decimals).
    return stored_kind == incoming_kind or (stored_kind, incoming_kind) == ("float", "int")


def diff_schemas(old: list[dict[str, Any]], new: pa.Schema) -> SchemaChanges:
    """Compare the previous version's schema (JSON form) with an incoming batch's schema."""
    old_types = {c["name"]: c["type"] for c in old}
    new_types = {f.name: str(f.type) for f in new}
    added = [n for n in new_types if n not in old_types]
    removed = [n for n in old_types if n not in new_types]
    retyped = [
        {"column": n, "from": old_types[n], "to": new_types[n]}
        for n in new_types
        if n in old_types and not _compatible(old_types[n], new_types[n])
    ]
    return SchemaChanges(added=added, removed=removed, retyped=retyped)
