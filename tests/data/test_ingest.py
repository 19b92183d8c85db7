from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath
from goldenpath import Conflict, InvalidInput, InvalidName, NotFound
from tests.conftest import write


def csv(
    tmp_path: Path, name: str, rows: list[tuple[object, ...]], header: str = "id,amount"
) -> Path:
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    return write(tmp_path / name, "\n".join(lines) + "\n")


def sorted_rows(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_two_versions_then_read_the_first_exactly(ws: goldenpath.Workspace, tmp_path: Path) -> None:
    first = ws.datasets.ingest("tx", csv(tmp_path, "a.csv", [(1, 1.5), (2, 2.5), (3, 3.5)]))
    second = ws.datasets.ingest("tx", csv(tmp_path, "b.csv", [(4, 4.5), (5, 5.5)]))
    assert (first.version.ref, second.version.ref) == ("tx@1", "tx@2")
    assert ws.datasets.read("tx@1").to_pylist() == [
        {"id": 1, "amount": 1.5},
        {"id": 2, "amount": 2.5},
        {"id": 3, "amount": 3.5},
    ]
    assert ws.datasets.read("tx").num_rows == 5
    assert [r["id"] for r in sorted_rows(ws.datasets.read("tx@2"))] == [1, 2, 3, 4, 5]
    assert second.version.row_count == 5 and second.version.batch_rows == 2
    assert ws.datasets.read_pandas("tx@1", columns=["id"])["id"].tolist() == [1, 2, 3]


def test_overwrite_replaces_rows_and_keeps_old_versions(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws.datasets.ingest("tx", csv(tmp_path, "a.csv", [(1, 1.0), (2, 2.0)]))
    ws.datasets.ingest("tx", csv(tmp_path, "b.csv", [(9, 9.0)]), mode="overwrite")
    assert ws.datasets.read("tx").to_pylist() == [{"id": 9, "amount": 9.0}]
    assert ws.datasets.read("tx@1").num_rows == 2
    assert [v.mode for v in ws.datasets.history("tx")] == ["append", "overwrite"]


def test_versions_record_rows_schema_fingerprint_source_and_profile(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    path = csv(tmp_path, "a.csv", [(1, 1.0), (2, None), (3, 5.0)])
    version = ws.datasets.ingest("tx", path).version
    assert version.row_count == 3
    assert [c["name"] for c in version.schema] == ["id", "amount"]
    assert version.source["path"] == str(path.resolve()) and version.source["format"] == "csv"
    assert len(version.source["sha256"]) == 64 and len(version.fingerprint) == 64
    profile = ws.datasets.profile("tx@1")
    amount = profile["columns"]["amount"]
    assert (amount["nulls"], amount["min"], amount["max"], amount["mean"]) == (1, 1.0, 5.0, 3.0)
    assert set(amount["quantiles"]) == {"p05", "p25", "p50", "p75", "p95"}
    assert ws.datasets.get("tx") == ws.datasets.get("tx@1")


def test_the_fingerprint_is_of_content_not_of_file_format_or_order(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    rows = [(1, 1.5), (2, 2.5), (3, None)]
    a = local_ws.datasets.ingest("a", csv(tmp_path, "a.csv", rows)).version
    table = pa.table({"id": [3, 1, 2], "amount": [None, 1.5, 2.5]})
    pq.write_table(table, tmp_path / "b.parquet")
    b = local_ws.datasets.ingest("b", tmp_path / "b.parquet").version
    c = local_ws.datasets.ingest("c", csv(tmp_path, "c.csv", [(1, 1.5), (2, 2.5), (3, 9.9)]))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.version.fingerprint


def test_json_lines_and_parquet_are_ingested(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    write(tmp_path / "e.jsonl", '{"id": 1, "tag": "x"}\n{"id": 2, "tag": null}\n')
    pq.write_table(pa.table({"id": [1, 2, 3]}), tmp_path / "p.parquet")
    assert local_ws.datasets.ingest("events", tmp_path / "e.jsonl").version.row_count == 2
    assert local_ws.datasets.ingest("p", tmp_path / "p.parquet").version.row_count == 3
    assert local_ws.datasets.read("events").column("tag").to_pylist() == ["x", None]


def test_list_and_history(ws: goldenpath.Workspace, tmp_path: Path) -> None:
    ws.datasets.ingest("b", csv(tmp_path, "1.csv", [(1, 1.0)]))
    ws.datasets.ingest("a", csv(tmp_path, "2.csv", [(1, 1.0)]))
    ws.datasets.ingest("a", csv(tmp_path, "3.csv", [(2, 1.0)]))
    listed = ws.datasets.list()
    assert [(s.name, s.latest_version, s.versions, s.rows) for s in listed] == [
        ("a", 2, 2, 2),
        ("b", 1, 1, 1),
    ]
    assert [v.version for v in ws.datasets.history("a")] == [1, 2]
    assert ws.datasets.head("a", 1).num_rows == 1


def test_every_change_is_audited_with_its_actor(ws: goldenpath.Workspace, tmp_path: Path) -> None:
    ws.datasets.ingest("tx", csv(tmp_path, "a.csv", [(1, 1.0)]))
    events = [(e.actor, e.action, e.object_ref) for e in ws.audit.list()]
    assert events[:2] == [("alice", "dataset.ingest", "tx@1"), ("alice", "dataset.create", "tx")]


def test_additive_schema_change_is_reported_and_old_rows_read_as_null(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws.datasets.ingest("tx", csv(tmp_path, "a.csv", [(1, 1.0)]))
    result = ws.datasets.ingest(
        "tx", csv(tmp_path, "b.csv", [(2, 2.0, "DE")], header="id,amount,country")
    )
    assert result.schema_changes.added == ["country"]
    assert result.version.schema_changes["added"] == ["country"]
    assert sorted_rows(ws.datasets.read("tx@2")) == [
        {"amount": 1.0, "country": None, "id": 1},
        {"amount": 2.0, "country": "DE", "id": 2},
    ]
    assert ws.datasets.read("tx@1").column_names == ["id", "amount"]


def test_removed_and_retyped_columns_need_allow_breaking(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws.datasets.ingest("tx", csv(tmp_path, "a.csv", [(1, 1.0)]))
    removed = csv(tmp_path, "b.csv", [(2,)], header="id")
    with pytest.raises(Conflict, match=r"breaking schema change.*removed amount") as caught:
        ws.datasets.ingest("tx", removed)
    assert "--allow-breaking" in (caught.value.hint or "")
    retyped = csv(tmp_path, "c.csv", [(3, "high")])
    with pytest.raises(Conflict, match=r"retyped amount \(double -> string\)"):
        ws.datasets.ingest("tx", retyped)
    with pytest.raises(Conflict, match="append cannot retype"):
        ws.datasets.ingest("tx", retyped, allow_breaking=True)
    assert len(ws.datasets.history("tx")) == 1  # nothing written by the refusals
    ws.datasets.ingest("tx", removed, allow_breaking=True)
    ws.datasets.ingest("tx", retyped, mode="overwrite", allow_breaking=True)
    assert ws.datasets.read("tx").to_pylist() == [{"id": 3, "amount": "high"}]
    assert ws.datasets.read("tx@1").to_pylist() == [{"id": 1, "amount": 1.0}]


def test_narrower_integer_types_are_widened_on_append(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    local_ws.datasets.ingest("n", csv(tmp_path, "a.csv", [(1, 1.0)]))
    pq.write_table(
        pa.table({"id": pa.array([2], pa.int32()), "amount": [2.0]}), tmp_path / "b.parquet"
    )
    result = local_ws.datasets.ingest("n", tmp_path / "b.parquet")
    assert not result.schema_changes.any
    assert local_ws.datasets.read("n").schema.field("id").type == pa.int64()


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("id,amount\n1,2\n3,4,5\n", ".csv", "cannot read bad.csv as csv"),
        ("", ".csv", "bad.csv is empty"),
        ("PAR1 this is not parquet", ".parquet", "cannot read bad.parquet as parquet"),
        ('{"id": 1}\n{"id": \n', ".jsonl", "cannot read bad.jsonl as jsonl"),
        ("id,amount\n1,2\n", ".txt", "cannot tell the format"),
    ],
)
def test_bad_files_are_refused_and_nothing_changes(
    ws: goldenpath.Workspace, tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    ws.datasets.ingest("tx", csv(tmp_path, "a.csv", [(1, 1.0)]))
    before = ws.audit.list()
    with pytest.raises(InvalidInput, match=message):
        ws.datasets.ingest("tx", write(tmp_path / f"bad{suffix}", content))
    assert len(ws.datasets.history("tx")) == 1
    assert ws.audit.list() == before


def test_missing_file_and_bad_names_and_versions(ws: goldenpath.Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="file not found"):
        ws.datasets.ingest("tx", tmp_path / "missing.csv")
    with pytest.raises(InvalidName):
        ws.datasets.ingest("../tx", csv(tmp_path, "a.csv", [(1, 1.0)]))
    assert not (ws.storage_root / "datasets").exists() or not any(
        p.name.startswith(".") for p in (ws.storage_root / "datasets").iterdir()
    )
    with pytest.raises(NotFound, match="no dataset named 'tx'"):
        ws.datasets.get("tx")
    ws.datasets.ingest("tx", csv(tmp_path, "a.csv", [(1, 1.0)]))
    with pytest.raises(NotFound, match="has no version 99") as caught:
        ws.datasets.read("tx@99")
    assert "1..1" in (caught.value.hint or "")
    with pytest.raises(InvalidInput, match="no column"):
        ws.datasets.read("tx", columns=["nope"])
    assert ws.datasets.list()[0].versions == 1


def test_a_table_no_metadata_knows_is_moved_aside_not_deleted(
    local_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    local_ws.datasets.ingest("tx", csv(tmp_path, "a.csv", [(1, 1.0)]))
    # A new metadata database pointed at the same storage root.
    fresh = goldenpath.connect(
        tmp_path / "other", storage=str(local_ws.storage_root), actor="alice", create=True
    )
    fresh.datasets.ingest("tx", csv(tmp_path, "b.csv", [(2, 2.0)]))
    assert fresh.datasets.read("tx").to_pylist() == [{"id": 2, "amount": 2.0}]
    aside = list((local_ws.storage_root / "datasets" / "tx").glob("orphaned-table-*"))
    assert len(aside) == 1
    from deltalake import DeltaTable

    assert DeltaTable(str(aside[0])).to_pyarrow_table().to_pylist() == [{"id": 1, "amount": 1.0}]
