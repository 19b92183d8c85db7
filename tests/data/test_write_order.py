"""The one walk over a dataset's Delta add actions (``DatasetFiles._files_in_write_order``)
gives every reader the rows in the order they were written, when each commit wrote several
files: Delta lists a version's files newest commit first, so without the walk ``head``, the
feature store's tie-breaking order (``fragments_in_write_order``) and the online store's
batches (``read_added``) would each see another order."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from goldenpath.data.tables import DatasetFiles

ROWS_PER_COMMIT = 60_000
FILE_BYTES = 100_000  # small enough that each commit writes several Parquet files


def _commit(files: DatasetFiles, first: int, *, mode: str = "append") -> None:
    numbers = pa.array(range(first, first + ROWS_PER_COMMIT), pa.int64())
    write_deltalake(
        files.table_uri, pa.table({"n": numbers}), mode=mode, target_file_size=FILE_BYTES
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> DatasetFiles:
    """Delta versions 0, 1, 2: rows 0.., 1e6.., 2e6.., each commit several files."""
    files = DatasetFiles(Path(tmp_path_factory.mktemp("root")), "tx")
    for version in range(3):
        _commit(files, version * 1_000_000, mode="append" if version else "overwrite")
    return files


def _written(*versions: int) -> list[int]:
    return [v * 1_000_000 + i for v in versions for i in range(ROWS_PER_COMMIT)]


def test_each_commit_wrote_several_files(files: DatasetFiles) -> None:
    walked = list(files._files_in_write_order([0, 1, 2]))
    per_version = [sum(1 for f in walked if f.delta_version == v) for v in range(3)]
    assert min(per_version) >= 2  # otherwise this module tests nothing about file order
    assert sum(f.rows or 0 for f in walked) == 3 * ROWS_PER_COMMIT
    assert len({f.path for f in walked}) == len(walked)  # each file once


def test_fragments_come_in_write_order_with_the_version_that_added_them(
    files: DatasetFiles,
) -> None:
    ordered = files.fragments_in_write_order([0, 1, 2])
    versions = [version for version, _ in ordered]
    assert versions == sorted(versions) and set(versions) == {0, 1, 2}
    rows = [n for _, f in ordered for n in f.to_table().column("n").to_pylist()]
    assert rows == _written(0, 1, 2)


def test_head_reads_rows_as_written_across_files_and_commits(files: DatasetFiles) -> None:
    assert files.head([0, 1, 2], 5).column("n").to_pylist() == _written(0)[:5]
    spanning = ROWS_PER_COMMIT + 30_000  # all of commit 0, then several files of commit 1
    assert files.head([0, 1, 2], spanning).column("n").to_pylist() == _written(0, 1)[:spanning]
    assert files.head([0, 1], 10 * ROWS_PER_COMMIT).column("n").to_pylist() == _written(0, 1)


def test_read_added_gives_one_commits_rows_as_written(files: DatasetFiles) -> None:
    schema = files.stored_schema(2)
    assert files.read_added(0, None, schema).column("n").to_pylist() == _written(0)
    assert files.read_added(2, 1, schema).column("n").to_pylist() == _written(2)
    # Across two commits the files come by path alone (callers read one commit at a time).
    assert sorted(files.read_added(2, 0, schema).column("n").to_pylist()) == _written(1, 2)
    assert files.read_added(1, 1, schema).num_rows == 0


def test_after_an_overwrite_only_the_new_files_are_walked(tmp_path: Path) -> None:
    files = DatasetFiles(tmp_path, "tx")
    _commit(files, 0, mode="overwrite")
    _commit(files, 5_000_000, mode="overwrite")
    assert files.read_added(1, 0, files.stored_schema(1)).column("n").to_pylist() == [
        5_000_000 + i for i in range(ROWS_PER_COMMIT)
    ]
    ordered = files.fragments_in_write_order([0, 1])
    assert {version for version, _ in ordered} == {1}
    rows = [n for _, f in ordered for n in f.to_table().column("n").to_pylist()]
    assert rows == [5_000_000 + i for i in range(ROWS_PER_COMMIT)]
