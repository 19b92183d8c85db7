"""Stored training sets: one Delta table per name under the storage root, a Delta version per
training-set version, recorded in ``training_sets`` after the data is durable.

Layout: ``training_sets/<name>/table`` (Delta) and ``training_sets/<name>/.lock``. As with
datasets, a Delta commit that no recorded version points at (a writer that died before
recording) is undone by the next writer, and readers only ever read recorded Delta versions.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable, write_deltalake

from goldenpath.core.locks import file_lock
from goldenpath.data.ingest import fingerprint as content_fingerprint
from goldenpath.data.profiles import row_hash_sum
from goldenpath.data.schema import schema_json


@dataclass(frozen=True)
class TrainingSetInfo:
    """A stored training set version."""

    name: str
    version: int
    id: str
    project: str
    row_count: int
    fingerprint: str
    entity_fingerprint: str
    schema: list[dict[str, Any]]
    spec: dict[str, Any]
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ref"] = self.ref
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingSetInfo:
        """The inverse of :meth:`as_dict` (what the remote SDK receives)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**fields)


@dataclass(frozen=True)
class TrainingSet:
    """A built training set: its rows, and (if stored) what was recorded."""

    table: pa.Table
    info: TrainingSetInfo | None

    def to_pandas(self) -> Any:
        return self.table.to_pandas()


def fingerprint(table: pa.Table) -> str:
    """The content fingerprint dataset versions have: sha256 over the schema, the row count
    and the order-independent sum of the rows' hashes."""
    rows, content_sum = row_hash_sum(table, table.column_names)
    return content_fingerprint(schema_json(table.schema), rows, str(content_sum))


class TrainingSetFiles:
    """The Delta table of one training set."""

    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / "training_sets" / name
        self.uri = str(self.dir / "table")

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the training set's writer lock (released by the OS if the process dies)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.dir / ".lock"):
            yield

    def write(self, table: pa.Table, recorded: int | None) -> int:
        """Commit ``table`` as a new Delta version (after undoing unrecorded commits)."""
        exists = DeltaTable.is_deltatable(self.uri)
        if exists and recorded is None:
            shutil.rmtree(self.dir / "table")  # a first write that was never recorded
            exists = False
        elif exists and recorded is not None and DeltaTable(self.uri).version() != recorded:
            DeltaTable(self.uri).restore(recorded)
        write_deltalake(
            self.uri, table, mode="overwrite", schema_mode="overwrite" if exists else None
        )
        return int(DeltaTable(self.uri).version())

    def undo(self, recorded: int | None) -> None:
        """Undo the commit just written (its recording failed)."""
        if recorded is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif DeltaTable.is_deltatable(self.uri):
            DeltaTable(self.uri).restore(recorded)

    def read(self, delta_version: int) -> pa.Table:
        location = os.path.abspath(self.uri)
        native = pafs.SubTreeFileSystem(location, pafs.LocalFileSystem())
        dataset = DeltaTable(location, version=delta_version).to_pyarrow_dataset(filesystem=native)
        # One commit's files in part order (part-00000, part-00001...): the rows as written.
        fragments = sorted(dataset.get_fragments(), key=lambda f: str(f.path))
        tables = [f.to_table(schema=dataset.schema) for f in fragments]
        return pa.concat_tables(tables) if tables else dataset.schema.empty_table()
