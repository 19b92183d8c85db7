"""Ingesting a batch already in the dataset writes nothing and says so (issue 12, point 4).

"The same batch" is the same columns (names and types as read, in any order), the same rows
(as a multiset, in any order) and the same contract; the file's format does not matter.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import MetaData, text

import goldenpath
from goldenpath.data import service as data_service
from tests.conftest import write

A = "id,amount,tag\n1,2.5,a\n2,3.5,b\n3,4.5,c\n"
B = "id,amount,tag\n4,5.5,d\n5,6.5,e\n"
C = "id,amount,tag\n6,7.5,f\n"


def events(ws: goldenpath.Workspace) -> int:
    return len(ws.audit.list(limit=10_000))


def test_the_same_batch_again_is_unchanged_and_names_its_version(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    first = ws.datasets.ingest("tx", write(tmp_path / "a.csv", A))
    assert (first.outcome, first.version.batch_fingerprint is not None) == ("accepted", True)
    before = events(ws)

    again = ws.datasets.ingest("tx", tmp_path / "a.csv")

    assert again.outcome == "unchanged" and again.unchanged
    assert again.version == first.version  # the version that holds the batch, as recorded
    assert again.as_dict()["ref"] == "tx@1"
    assert [v.version for v in ws.datasets.history("tx")] == [1]
    assert ws.datasets.read("tx").num_rows == 3
    assert events(ws) == before  # no state change, so no audit event


def test_the_same_rows_in_another_order_format_or_column_order_are_the_same_batch(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = local_ws
    ws.datasets.ingest("tx", write(tmp_path / "a.csv", A))
    table = pacsv.read_csv(tmp_path / "a.csv")
    shuffled = table.take(random.Random(7).sample(range(3), 3)).select(["tag", "id", "amount"])
    pq.write_table(shuffled, tmp_path / "a.parquet")
    write(tmp_path / "a.jsonl", "".join(f"{line}\n" for line in [
        '{"tag": "c", "amount": 4.5, "id": 3}',
        '{"id": 1, "amount": 2.5, "tag": "a"}',
        '{"amount": 3.5, "id": 2, "tag": "b"}',
    ]))  # fmt: skip
    for same in ("a.parquet", "a.jsonl"):
        assert ws.datasets.ingest("tx", tmp_path / same).outcome == "unchanged", same

    # Not the same: one value differs, a row is repeated, a column is typed differently.
    one_value = write(tmp_path / "v.csv", A.replace("4.5", "4.75"))
    repeated = write(tmp_path / "r.csv", A + "3,4.5,c\n")
    assert ws.datasets.ingest("tx", one_value).version.ref == "tx@2"
    assert ws.datasets.ingest("tx", repeated).version.ref == "tx@3"
    pq.write_table(table.set_column(0, "id", table.column("id").cast("int32")), tmp_path / "i.pq")
    assert ws.datasets.ingest("tx", tmp_path / "i.pq").version.ref == "tx@4"


def test_an_append_matches_any_batch_since_the_table_was_last_replaced(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = local_ws
    a, b, c = (write(tmp_path / f"{n}.csv", t) for n, t in (("a", A), ("b", B), ("c", C)))
    ws.datasets.ingest("tx", a)
    ws.datasets.ingest("tx", b)
    assert ws.datasets.ingest("tx", a).version.ref == "tx@1"
    assert ws.datasets.ingest("tx", b).version.ref == "tx@2"
    ws.datasets.ingest("tx", c, mode="overwrite")  # tx@3 holds only C: A is no longer in it
    assert ws.datasets.ingest("tx", c).version.ref == "tx@3"
    result = ws.datasets.ingest("tx", a)
    assert (result.outcome, result.version.ref, result.version.row_count) == ("accepted", "tx@4", 4)


def test_an_overwrite_is_unchanged_only_against_the_newest_version_that_replaced_the_table(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = local_ws
    a, b = write(tmp_path / "a.csv", A), write(tmp_path / "b.csv", B)
    ws.datasets.ingest("tx", a)
    assert ws.datasets.ingest("tx", a, mode="overwrite").version.ref == "tx@1"
    ws.datasets.ingest("tx", b)
    # tx@2 appended B to A: overwriting with B would drop A's rows, a change.
    assert ws.datasets.ingest("tx", b, mode="overwrite").version.ref == "tx@3"
    assert ws.datasets.ingest("tx", b, mode="overwrite").outcome == "unchanged"
    # A matches tx@1, but tx@1 is not the newest version: an overwrite with A is a change.
    result = ws.datasets.ingest("tx", a, mode="overwrite")
    assert (result.outcome, result.version.ref) == ("accepted", "tx@4")


def test_force_records_the_same_batch_again(local_ws: goldenpath.Workspace, tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", A)
    local_ws.datasets.ingest("tx", a)
    forced = local_ws.datasets.ingest("tx", a, force=True)
    assert (forced.outcome, forced.version.ref, forced.version.row_count) == ("accepted", "tx@2", 6)
    assert local_ws.datasets.ingest("tx", a).version.ref == "tx@2"  # the newest holder


def test_another_contract_makes_another_batch(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    a = write(tmp_path / "a.csv", A)
    local_ws.datasets.ingest("tx", a)
    contract = write(tmp_path / "c.yaml", "columns:\n  amount: {min: 0}\n")
    result = local_ws.datasets.ingest("tx", a, contract=contract)
    assert (result.outcome, result.version.ref) == ("accepted", "tx@2")
    assert local_ws.datasets.ingest("tx", a).outcome == "unchanged"  # the contract attached


QUARANTINE = "on_violation: quarantine\ncolumns:\n  id: {unique: true}\n  amount: {min: 0}\n"


def test_an_all_quarantined_batch_is_recorded_once_with_a_warning(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = local_ws
    contract = write(tmp_path / "q.yaml", QUARANTINE)
    assert ws.datasets.ingest("tx", write(tmp_path / "a.csv", A), contract=contract).warnings == ()
    bad = write(tmp_path / "bad.csv", "id,amount,tag\n7,-1,x\n8,-2,y\n")

    held = ws.datasets.ingest("tx", bad)
    assert (held.version.ref, held.version.batch_rows, held.version.quarantined_rows) == (
        "tx@2",
        0,
        2,
    )
    assert held.warnings == ("no rows accepted (2 rows quarantined): the version adds none",)
    assert held.as_dict()["warnings"] == list(held.warnings)

    again = ws.datasets.ingest("tx", bad)
    assert (again.outcome, again.version.ref, again.warnings) == ("unchanged", "tx@2", ())
    assert ws.datasets.quarantine("tx").num_rows == 2  # not held back twice


def test_two_identical_ingests_at_once_make_one_version(tmp_path: Path) -> None:
    home = tmp_path / "home"
    goldenpath.connect(home, actor="alice", create=True).close()
    write(tmp_path / "a.csv", A)
    b = write(tmp_path / "b.csv", B)
    with goldenpath.connect(home, actor="alice") as ws:
        ws.datasets.ingest("tx", tmp_path / "a.csv")
    writers = 4
    start = threading.Barrier(writers)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            with goldenpath.connect(home, actor="alice") as ws:
                start.wait()
                outcomes.append(ws.datasets.ingest("tx", b).outcome)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == ["accepted"] + ["unchanged"] * (writers - 1)
    with goldenpath.connect(home, actor="alice") as ws:
        assert [v.row_count for v in ws.datasets.history("tx")] == [3, 5]


_TABLES_AT_0005 = frozenset(
    {
        "alembic_version",
        "approval_requests",
        "audit_checkpoints",
        "audit_events",
        "dataset_versions",
        "datasets",
        "grants",
        "principals",
        "projects",
        "tokens",
        "validations",
    }
)


def test_migration_0006_leaves_older_versions_unknown_and_they_never_match(
    tmp_path: Path,
) -> None:
    home, a = tmp_path / "home", write(tmp_path / "a.csv", A)
    with goldenpath.connect(home, actor="alice", create=True) as ws:
        ws.datasets.ingest("tx", a)
        head = ws.store.current_revision()
        with ws.store.begin() as conn:  # back to the schema of migration 0005, data kept
            # Every table a migration after 0005 created, dependants first: reflected, so a
            # new migration's table is dropped too without this test knowing its name.
            schema = MetaData()
            schema.reflect(conn)
            for table in reversed(schema.sorted_tables):
                if table.name not in _TABLES_AT_0005:
                    conn.execute(text(f"DROP TABLE {table.name}"))
            conn.execute(text("DROP INDEX ix_dataset_versions_batch_fingerprint"))
            conn.execute(text("ALTER TABLE dataset_versions DROP COLUMN batch_fingerprint"))
            conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    with goldenpath.connect(home, actor="alice") as ws:  # opening migrates through 0006
        assert ws.store.current_revision() == head
        assert ws.datasets.get("tx@1").batch_fingerprint is None
        assert ws.datasets.ingest("tx", a).version.ref == "tx@2"
        assert ws.datasets.ingest("tx", a).version.ref == "tx@2"  # unchanged from now on


def test_the_lookup_by_batch_fingerprint_uses_an_index(local_ws: goldenpath.Workspace) -> None:
    engine = local_ws.store.engine
    query = data_service._SAME_BATCH.compile(dialect=engine.dialect)
    values = query.construct_params({"name": "tx", "batch": "x" * 64})
    params = tuple(values[key] for key in query.positiontup or ())
    with local_ws.store.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", params).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "ix_dataset_versions_batch_fingerprint" in details, details
    assert "SCAN dataset_versions" not in details, details
