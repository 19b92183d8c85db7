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

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from goldenpath.core.errors import Conflict, NotFound
from goldenpath.core.ids import new_id
from goldenpath.core.locks import file_lock

SchemaMode = Literal["merge", "overwrite"]


@dataclass(frozen=True)
class AddedFile:
    """A data file of a dataset's Delta table, as its add action lists it."""

    path: str  # relative to the table's root
    delta_version: int  # the first of the versions walked whose table holds it
    rows: int | None  # from the add action's statistics, if written


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
        with file_lock(self.dir / ".lock"):
            yield

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
        one before. Files are taken in write order (:meth:`_files_in_write_order`), and rows
        in file order. Delta lists a version's files newest commit first, which is why this
        does not just read the table's head.
        """
        current = self.dataset(delta_versions[-1])
        fragments = {str(f.path): f for f in current.get_fragments()}
        ordered: list[pads.Fragment] = []
        found = 0
        for added in self._files_in_write_order(delta_versions):
            if found >= rows:
                break
            fragment = fragments.pop(added.path, None)
            if fragment is not None:
                ordered.append(fragment)
                found += added.rows or 0
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
        event time (the later dataset version, then the later row, wins).
        """
        fragments = {str(f.path): f for f in self.dataset(delta_versions[-1]).get_fragments()}
        ordered = [
            (added.delta_version, fragments.pop(added.path))
            for added in self._files_in_write_order(delta_versions)
            if added.path in fragments
        ]
        # Every file of the last version is listed by its add actions; none is left here
        # unless Delta and Arrow disagree, and then it goes last rather than missing.
        ordered += [(delta_versions[-1], fragments[path]) for path in sorted(fragments)]
        return ordered

    def _files_in_write_order(self, delta_versions: Sequence[int]) -> Iterator[AddedFile]:
        """The one walk over the table's Delta add actions: each data file that the table
        holds at any of ``delta_versions`` (ascending), once, with the first of them that
        holds it; in write order, that version then the path (a commit's files keep their
        part-number order, ``part-00000-...``, ``part-00001-...``).

        Lazy, so a caller that has what it needs stops before loading later versions. One
        :class:`DeltaTable` is moved from version to version rather than reopened.
        """
        location = os.path.abspath(self.table_uri)
        table: DeltaTable | None = None
        seen: set[str] = set()
        for delta_version in delta_versions:
            if table is None:
                table = self._delta(delta_version, uri=location)
            elif table.version() != delta_version:
                try:
                    table.load_as_version(delta_version)
                except DeltaError as exc:
                    raise NotFound(
                        f"cannot open version {delta_version} of {self.name!r}: {exc}"
                    ) from None
            actions = pa.table(table.get_add_actions(flatten=True))
            listed = zip(
                (str(p) for p in actions.column("path").to_pylist()),
                actions.column("num_records").to_pylist(),
                strict=True,
            )
            for path, rows in sorted(listed, key=lambda item: item[0]):
                if path not in seen:
                    seen.add(path)
                    yield AddedFile(path, delta_version, None if rows is None else int(rows))

    def read(self, delta_version: int, columns: list[str] | None = None) -> pa.Table:
        """The data at ``delta_version``, fully read."""
        return self._scan(delta_version).to_table(columns=columns)

    def read_added(self, delta_version: int, previous: int | None, schema: pa.Schema) -> pa.Table:
        """The rows the commits after ``previous`` up to ``delta_version`` added (all rows if
        ``previous`` is None), read with ``schema``, files in write order as :meth:`head`
        and :meth:`fragments_in_write_order` take them: a row's position in the result is
        the one the offline engine breaks ties with."""
        walked = [delta_version] if previous is None else [previous, delta_version]
        added = [
            f.path
            for f in self._files_in_write_order(walked)
            if previous is None or f.delta_version != previous
        ]
        if not added:
            return schema.empty_table()
        location = os.path.abspath(self.table_uri)
        native = pafs.SubTreeFileSystem(location, pafs.LocalFileSystem())
        data = pads.dataset(added, schema=schema, format="parquet", filesystem=native)
        return data.to_table()

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
