"""Dataset data on disk: one Delta Lake table per dataset, plus its quarantine table.

Layout under the storage root::

    datasets/<name>/table/        the dataset (Delta): every dataset version is a Delta version
    datasets/<name>/quarantine/   rows that broke the contract (Delta, all columns as text)
    datasets/<name>/.lock         serialises writers to one dataset

Crash safety: a Delta commit is atomic (one log file appears or not), and the metadata database
records a version only after its Delta commit. A process killed between the two leaves a Delta
commit that no dataset version points at; readers never see it (they read pinned Delta
versions), and the next writer restores the table to the last recorded version first.

Reading: every scan goes through :meth:`DatasetFiles._scan`, which hands Arrow a native local
file system. deltalake's default is a Python file system (``PyFileSystem``) that Arrow's C++
I/O threads call back into; those threads can still be running while the interpreter tears
down, and the process then aborts at exit ("terminate called without an active exception",
exit 134) after the user's work succeeded. See "Clean exits" in docs/architecture.md.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from goldenpath.core.errors import Conflict, NotFound
from goldenpath.core.ids import new_id

SchemaMode = Literal["merge", "overwrite"]


class DatasetFiles:
    """The Delta tables of one dataset."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.dir = root / "datasets" / name
        self.table_uri = str(self.dir / "table")
        self.quarantine_uri = str(self.dir / "quarantine")

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the dataset's writer lock (released by the OS if the process dies)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _delta(self, version: int | None = None, *, uri: str | None = None) -> DeltaTable:
        try:
            return DeltaTable(uri or self.table_uri, version=version)
        except TableNotFoundError:
            raise NotFound(
                f"the data of dataset {self.name!r} is missing from storage",
                hint="the storage root may have changed; check it with: gp status",
            ) from None
        except DeltaError as exc:
            raise NotFound(f"cannot open version {version} of {self.name!r}: {exc}") from None

    def _scan(self, delta_version: int | None = None, *, uri: str | None = None) -> pads.Dataset:
        """The Delta table at ``uri`` (default: the dataset) as an Arrow dataset.

        The one way this module reads data. deltalake still resolves the version, checks the
        reader protocol and lists the files and schema; Arrow reads the Parquet files through
        its own C++ local file system, so no Arrow thread ever waits on Python (the cause of
        aborts at interpreter exit with deltalake's default Python file system).
        """
        location = os.path.abspath(uri or self.table_uri)
        native = pafs.SubTreeFileSystem(location, pafs.LocalFileSystem())
        return self._delta(delta_version, uri=location).to_pyarrow_dataset(filesystem=native)

    def dataset(self, delta_version: int) -> pads.Dataset:
        """The data at ``delta_version`` as a lazily scanned Arrow dataset."""
        return self._scan(delta_version)

    def head(self, delta_versions: list[int], rows: int) -> pa.Table:
        """The first ``rows`` rows of the last of ``delta_versions``, in the order they came.

        ``delta_versions`` are the Delta versions of the dataset versions from the one that
        last replaced the table to the one read, oldest first: each only added files to the
        one before. Files are taken by the commit that added them, then by part number (the
        order one write produced them), and rows in file order. Delta lists a version's
        files newest commit first, which is why this does not just read the table's head.
        """
        current = self.dataset(delta_versions[-1])
        fragments = {f.path: f for f in current.get_fragments()}
        ordered: list[pads.Fragment] = []
        found = 0
        for delta_version in delta_versions:
            if found >= rows:
                break
            added = pa.table(self._delta(delta_version).get_add_actions(flatten=False))
            counts = dict(
                zip(
                    added.column("path").to_pylist(),
                    added.column("num_records").to_pylist(),
                    strict=True,
                )
            )
            for path in sorted(counts):
                fragment = fragments.pop(path, None)
                if fragment is not None:
                    ordered.append(fragment)
                    found += counts[path] or 0
        # Then the files not walked (newer ones, once enough rows were found): head stops
        # before reaching them.
        ordered += [fragments[path] for path in sorted(fragments)]
        in_order = pads.FileSystemDataset(
            ordered, current.schema, current.format, current.filesystem
        )
        return in_order.head(rows)

    def fragments_in_write_order(
        self, delta_versions: list[int]
    ) -> list[tuple[int, pads.Fragment]]:
        """The Parquet fragments of the table at ``delta_versions[-1]``, oldest write first,
        each with the Delta version (among ``delta_versions``, ascending) that added it.

        Arrow lists a Delta table's files newest commit first, so scan order is not write
        order; the feature store needs write order to break ties between rows with the same
        event time (the later dataset version, then the later row, wins). Files of one commit
        keep their part-number order (``part-00000-...``, ``part-00001-...``).
        """
        location = os.path.abspath(self.table_uri)
        table = self._delta(delta_versions[0], uri=location)
        added: dict[str, int] = {}
        for delta_version in delta_versions:
            if delta_version != table.version():
                table.load_as_version(delta_version)
            for path in table.get_add_actions(flatten=True).column("path").to_pylist():
                added.setdefault(str(path), delta_version)
        native = pafs.SubTreeFileSystem(location, pafs.LocalFileSystem())
        fragments = list(table.to_pyarrow_dataset(filesystem=native).get_fragments())
        ranked = [(added.get(str(f.path), delta_versions[-1]), str(f.path), f) for f in fragments]
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [(version, fragment) for version, _, fragment in ranked]

    def read(self, delta_version: int, columns: list[str] | None = None) -> pa.Table:
        """The data at ``delta_version``, fully read."""
        return self._scan(delta_version).to_table(columns=columns)

    def read_added(self, delta_version: int, previous: int | None, schema: pa.Schema) -> pa.Table:
        """The rows the commits after ``previous`` up to ``delta_version`` added (all rows if
        ``previous`` is None), read with ``schema``, files in part-number order as
        :meth:`head` and :meth:`fragments_in_write_order` take them: a row's position in the
        result is the one the offline engine breaks ties with."""
        added = sorted(self._added_paths(delta_version))
        if previous is not None:
            known = set(self._added_paths(previous))
            added = [p for p in added if p not in known]
        if not added:
            return schema.empty_table()
        location = os.path.abspath(self.table_uri)
        native = pafs.SubTreeFileSystem(location, pafs.LocalFileSystem())
        data = pads.dataset(added, schema=schema, format="parquet", filesystem=native)
        return data.to_table()

    def _added_paths(self, delta_version: int) -> list[str]:
        actions = pa.table(self._delta(delta_version).get_add_actions(flatten=True))
        return [str(p) for p in actions.column("path").to_pylist()]

    def prepare(self, recorded: int | None) -> bool:
        """Undo Delta commits that no recorded version points at; True if the table exists.

        ``recorded`` is the Delta version of the newest recorded dataset version (None for a
        new dataset). Commits after it come from a writer that died before recording them.
        """
        table_dir = self.dir / "table"
        if not DeltaTable.is_deltatable(self.table_uri):
            if table_dir.exists():
                shutil.rmtree(table_dir)  # data files of a first write that never committed
            return False
        if recorded is None:
            # A committed table that no metadata knows: a first ingest killed before recording
            # it, or a storage root reused with a new metadata database. Moved aside, never
            # deleted: the second case may be someone's only copy.
            os.replace(table_dir, self.dir / f"orphaned-table-{new_id()}")
            return False
        table = DeltaTable(self.table_uri)
        if table.version() != recorded:
            table.restore(recorded)
        return True

    def write(
        self, data: pa.Table, *, mode: str, exists: bool, schema_mode: SchemaMode | None
    ) -> int:
        """Commit ``data`` as a new Delta version; return that version."""
        try:
            if exists and mode == "append":
                write_deltalake(self.table_uri, data, mode="append", schema_mode=schema_mode)
            else:
                write_deltalake(
                    self.table_uri,
                    data,
                    mode="overwrite",
                    schema_mode=schema_mode if exists else None,
                )
        except (DeltaError, pa.ArrowException) as exc:
            raise Conflict(
                f"cannot write to dataset {self.name!r}: {str(exc).splitlines()[0]}",
                hint="a column's type may not fit the stored one; try --mode overwrite",
            ) from None
        return int(DeltaTable(self.table_uri).version())

    def stored_schema(self, delta_version: int) -> pa.Schema:
        return self.dataset(delta_version).schema

    def quarantine(self, rows: pa.Table) -> None:
        """Append failing rows (all text columns) to the quarantine table."""
        write_deltalake(self.quarantine_uri, rows, mode="append", schema_mode="merge")

    def read_quarantine(self) -> pa.Table | None:
        if not DeltaTable.is_deltatable(self.quarantine_uri):
            return None
        return self._scan(uri=self.quarantine_uri).to_table()
