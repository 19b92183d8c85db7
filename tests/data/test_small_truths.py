"""Small truths about what the data commands show (issue 12, point 9).

Distinct counts say when they are estimates; ``_gp_row`` counts data rows from 1, also for
rows quarantined before it did; ``head`` shows rows in file order.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake
from sqlalchemy import update

import goldenpath
from goldenpath.store.tables import dataset_versions
from tests.conftest import write


def test_distinct_counts_are_exact_where_counted_and_flagged_where_estimated(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    rows = 9_000
    lines = [f"{i},code{i % 3000},{'true' if i % 2 else 'false'}" for i in range(rows)]
    local_ws.datasets.ingest("tx", write(tmp_path / "d.csv", "n,code,flag\n" + "\n".join(lines)))
    columns = local_ws.datasets.profile("tx")["columns"]
    # Text and booleans under 10,000 distinct values: counted exactly (HyperLogLog's
    # estimate of 3,000 is a few percent off).
    assert (columns["code"]["distinct"], columns["code"]["distinct_approx"]) == (3000, False)
    assert (columns["flag"]["distinct"], columns["flag"]["distinct_approx"]) == (2, False)
    # Numbers: an estimate, and flagged as one.
    assert columns["n"]["distinct_approx"] is True
    assert abs(columns["n"]["distinct"] - rows) < rows * 0.1


CONTRACT = "on_violation: quarantine\ncolumns:\n  amount: {min: 0}\n"


def test_gp_row_counts_data_rows_from_one_also_for_rows_stored_counting_from_zero(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = local_ws
    contract = write(tmp_path / "c.yaml", CONTRACT)
    ws.datasets.ingest("tx", write(tmp_path / "a.csv", "id,amount\n1,-1\n2,5\n"), contract=contract)
    # As a version recorded before migration 0006 left it: no batch fingerprint, and its
    # quarantined rows numbered from 0.
    quarantine = tmp_path / "home" / "storage" / "datasets" / "tx" / "quarantine"
    stored = pa.table(pa.dataset.dataset(list(quarantine.glob("*.parquet"))).to_table())
    assert stored.column("_gp_row").to_pylist() == [1]
    index = stored.schema.get_field_index("_gp_row")
    write_deltalake(
        str(quarantine),
        stored.set_column(index, "_gp_row", pc.subtract(stored.column(index), 1)),
        mode="overwrite",
    )
    with ws.store.begin() as conn:
        conn.execute(update(dataset_versions).values(batch_fingerprint=None))
    ws.datasets.ingest("tx", write(tmp_path / "b.csv", "id,amount\n3,1\n4,1\n5,-3\n"))

    held = ws.datasets.quarantine("tx").to_pylist()
    assert [(r["id"], r["_gp_row"], r["_gp_version"]) for r in held] == [("1", 1, 1), ("5", 3, 2)]


def test_head_shows_rows_in_file_order(local_ws: goldenpath.Workspace, tmp_path: Path) -> None:
    ws = local_ws
    for batch in range(3):
        numbers = "".join(f"{batch * 10 + i}\n" for i in range(3))
        ws.datasets.ingest("tx", write(tmp_path / f"{batch}.csv", "n\n" + numbers))
    assert ws.datasets.head("tx", 7).column("n").to_pylist() == [0, 1, 2, 10, 11, 12, 20]
    assert ws.datasets.head("tx@2", 10).column("n").to_pylist() == [0, 1, 2, 10, 11, 12]
    ws.datasets.ingest("tx", write(tmp_path / "o.csv", "n\n30\n31\n"), mode="overwrite")
    ws.datasets.ingest("tx", write(tmp_path / "p.csv", "n\n40\n"))
    assert ws.datasets.head("tx", 10).column("n").to_pylist() == [30, 31, 40]
    assert ws.datasets.head("tx@3", 2).column("n").to_pylist() == [0, 1]
