"""The ingest path's pure steps: where a batch came from, what its content is, how it fits.

Kept apart from :mod:`goldenpath.data.service` (which orchestrates, checks access and records)
so each rule here can be read, and tested, on its own.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict
from goldenpath.core.redact import redact
from goldenpath.data import Mode
from goldenpath.data.contracts import ARROW_TYPES, LoadedContract
from goldenpath.data.profiles import row_hash_sum
from goldenpath.data.schema import SchemaChanges
from goldenpath.data.tables import SchemaMode
from goldenpath.data.versions import DatasetVersion


def file_source(path: Path, fmt: str) -> dict[str, Any]:
    """Where a batch came from: absolute path, format, size and the file's sha256.

    The path is stored in the version and shown by ``gp data show`` and the API, so anything
    in it that looks like a secret (a token in a file name, ``?token=...``) is redacted.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return {
        "path": redact(str(path.resolve())),
        "format": fmt,
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def fingerprint(schema: list[dict[str, Any]], rows: int, content_sum: str) -> str:
    """A version's content fingerprint: schema, row count and the sum of row hashes."""
    shape = json.dumps([[c["name"], c["type"]] for c in schema])
    return hashlib.sha256(f"{shape}|{rows}|{content_sum}".encode()).hexdigest()


def batch_fingerprint(batch: pa.Table, contract_sha256: str | None) -> str:
    """The fingerprint of a parsed batch: what makes two ingests "the same batch".

    A sha256 over the contract the batch is checked against (its sha256, or none), the
    columns' names and types as read, the row count and the sum of the rows' hashes. Column
    order and row order do not matter (names are sorted; the hash sum is order-free); a
    repeated row counts each time. The file's format, name, layout and compression do not
    enter it: the same rows as CSV and as Parquet, read as the same types, are the same batch.
    """
    names = sorted(batch.column_names)
    rows, content_sum = row_hash_sum(batch, names)
    shape = json.dumps([[n, str(batch.schema.field(n).type)] for n in names])
    text = f"batch|{contract_sha256 or ''}|{shape}|{rows}|{content_sum}"
    return hashlib.sha256(text.encode()).hexdigest()


def conform(batch: pa.Table, stored: pa.Schema) -> pa.Table:
    """Cast columns the stored table already has to its types (int32 -> int64, ...)."""
    for index, field in enumerate(batch.schema):
        if field.name in stored.names:
            target = stored.field(field.name).type
            if target != field.type:
                try:
                    batch = batch.set_column(index, field.name, batch.column(index).cast(target))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise Conflict(
                        f"column {field.name!r} cannot be stored as {target}: {exc}",
                        hint="use --mode overwrite --allow-breaking to retype it",
                    ) from None
    return batch


def pinned_types(loaded: LoadedContract | None) -> dict[str, pa.DataType]:
    """Column types fixed at read time: a contract's string columns."""
    # Only string columns are pinned at read time: text never fails to parse, and it keeps
    # values like "01234" intact. Other types are checked (and cast) by the validator, so a
    # bad value becomes a counted, quarantinable rule failure instead of a read error.
    if loaded is None:
        return {}
    return {
        n: ARROW_TYPES["string"] for n, c in loaded.contract.columns.items() if c.type == "string"
    }


def check_evolution(
    name: str,
    previous: DatasetVersion | None,
    mode: Mode,
    changes: SchemaChanges,
    loaded: LoadedContract | None,
    allow_breaking: bool,
) -> SchemaMode | None:
    """Refuse schema changes the contract or the mode does not allow; the Delta schema mode."""
    if previous is None:
        return None
    if (
        changes.added
        and loaded is not None
        and not allow_breaking
        and loaded.contract.additive_changes == "forbid"
    ):
        raise Conflict(
            f"{name!r}: the contract forbids new columns, and this batch adds "
            f"{', '.join(changes.added)}",
            hint="drop the columns, or change additive_changes in the contract",
        )
    if changes.breaking and not allow_breaking:
        raise Conflict(
            f"{name!r}: breaking schema change ({changes.describe()})",
            hint="pass --allow-breaking if readers of this dataset can cope",
        )
    if changes.retyped and mode == "append":
        raise Conflict(
            f"{name!r}: an append cannot retype columns ({changes.describe()})",
            hint="use --mode overwrite --allow-breaking",
        )
    if not changes.any:
        return None
    return "merge" if mode == "append" else "overwrite"


def tag_quarantine(rows: pa.Table, version_id: str) -> pa.Table:
    """Failing rows tagged with the version they came with and when they were held."""
    count = rows.num_rows
    rows = rows.append_column("_gp_version_id", pa.array([version_id] * count, pa.string()))
    at = pa.array([utcnow()] * count, pa.timestamp("us", tz="UTC"))
    return rows.append_column("_gp_quarantined_at", at)
