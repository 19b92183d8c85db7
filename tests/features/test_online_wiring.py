"""``ws.features.materialize / online / push``: built from the applied registry, permission-checked,
audited, with lineage edges from each dataset version read to the view version (issue 13,
points 4-6)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

import goldenpath
from goldenpath.core.errors import Conflict, InvalidInput, PermissionDenied
from goldenpath.store.tables import lineage_edges
from tests.features.conftest import FEATURES_PY

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _edges(ws: goldenpath.Workspace, relation: str) -> list[dict[str, object]]:
    with ws.store.connect() as conn:
        rows = conn.execute(
            select(lineage_edges).where(lineage_edges.c.relation == relation)
        ).mappings()
        return [dict(r) for r in rows]


@pytest.fixture(scope="module")
def materialized(feature_ws: goldenpath.Workspace) -> goldenpath.Workspace:
    feature_ws.features.materialize()
    return feature_ws


def test_materialize_records_lineage_and_audit(materialized: goldenpath.Workspace) -> None:
    ws = materialized
    edges = _edges(ws, "materialized_into_online")
    assert len(edges) == 1
    attributes = edges[0]["attributes"]
    assert isinstance(attributes, dict)
    assert attributes["dataset"] == "transactions@1"
    assert attributes["view"] == "user_tx@1"
    assert attributes["rows_read"] == 5
    assert attributes["event_time_min"] == T0.isoformat()
    assert attributes["event_time_max"] == (T0 + timedelta(days=1)).isoformat()
    assert attributes["online_store"] == "sqlite"
    assert edges[0]["from_kind"] == "dataset_version"
    assert edges[0]["to_kind"] == "feature_view_version"
    events = ws.audit.list(action="feature.materialize")
    assert [e.object_ref for e in events] == ["user_tx@1"]
    # Nothing new: nothing written, nothing recorded.
    again = ws.features.materialize(["user_tx"])
    assert [v.mode for v in again.views] == ["unchanged"]
    assert len(_edges(ws, "materialized_into_online")) == 1


def test_online_equals_the_training_set(materialized: goldenpath.Workspace, tmp_path: Path) -> None:
    ws = materialized
    features_py = tmp_path / "features.py"
    features_py.write_text(FEATURES_PY)
    at = T0 + timedelta(days=1, minutes=5)
    entities = [
        {"user_id": 1, "request_amount": 50.0},
        {"user_id": 2, "request_amount": 14.0},
        {"user_id": 3, "request_amount": 1.0},
    ]
    got = ws.features.online(entities, service="fraud", at=at, definitions=features_py)
    rows = pa.table(
        {
            "user_id": [1, 2, 3],
            "event_timestamp": pa.array([at] * 3, pa.timestamp("us", tz="UTC")),
            "request_amount": [50.0, 14.0, 1.0],
        }
    )
    offline = ws.features.training_set(rows, service="fraud", definitions=features_py).table
    for name in ("amount", "tx_count_1h", "amount_mean_7d", "amount_ratio"):
        assert got.values[name] == offline.column(name).to_pylist(), name
    assert got.statuses["amount"] == ["expired", "present", "missing"]


def test_on_demand_needs_the_applied_code(
    materialized: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = materialized
    with pytest.raises(InvalidInput, match="on-demand view"):
        ws.features.online([{"user_id": 1, "request_amount": 1.0}], ["ratio:amount_ratio"])
    changed = tmp_path / "features.py"
    changed.write_text(FEATURES_PY.replace("/ mean}", "/ mean + 1}"))
    with pytest.raises(Conflict, match="not the applied version"):
        ws.features.online(
            [{"user_id": 1, "request_amount": 1.0}], ["ratio:amount_ratio"], definitions=changed
        )


def test_permissions(materialized: goldenpath.Workspace) -> None:
    ws = materialized
    ws.principals.add("vera")
    ws.access.grant("viewer", "vera", project="default")
    viewer = goldenpath.connect(ws.stack.home, actor="vera")
    assert isinstance(viewer, goldenpath.Workspace)
    try:
        at = T0 + timedelta(days=1, hours=1)
        got = viewer.features.online([{"user_id": 2}], ["user_tx:amount"], at=at)
        assert got.values["amount"] == [7.0]
        with pytest.raises(PermissionDenied, match=r"feature\.materialize"):
            viewer.features.materialize()
        with pytest.raises(PermissionDenied, match=r"feature\.materialize"):
            viewer.features.materialize(["user_tx"], full=True)
        with pytest.raises(PermissionDenied, match=r"feature\.push"):
            viewer.features.push("user_tx", [{"user_id": 2, "event_time": T0, "amount": 1.0}])
    finally:
        viewer.close()


def test_push_is_online_at_once_audited_and_traced(materialized: goldenpath.Workspace) -> None:
    ws = materialized
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    result = ws.features.push("user_tx", [{"user_id": 9, "event_time": when, "amount": 42.0}])
    assert result.dataset_version == "transactions@2"
    got = ws.features.online([{"user_id": 9}], ["user_tx:amount", "user_tx:tx_count_1h"])
    assert got.values == {"amount": [42.0], "tx_count_1h": [1]}
    edges = _edges(ws, "pushed_into_online")
    assert [e["attributes"]["dataset"] for e in edges] == ["transactions@2"]  # type: ignore[index]
    assert [e.object_ref for e in ws.audit.list(action="feature.push")] == ["user_tx@1"]


def test_a_repeated_lookup_sees_a_new_apply(
    materialized: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = materialized
    ws.principals.add("walt")
    ws.access.grant("viewer", "walt", project="default")
    reader = goldenpath.connect(ws.stack.home, actor="walt")
    assert isinstance(reader, goldenpath.Workspace)
    at = T0 + timedelta(hours=3, minutes=10)  # user 1's newest row: amount 30
    try:
        for _ in range(2):  # the second one takes the fast path
            got = reader.features.online([{"user_id": 1}], ["user_tx:large"], at=at)
            assert got.values == {"large": [False]}  # 30 > 100
        changed = tmp_path / "features.py"
        changed.write_text(
            FEATURES_PY.replace('expression="amount > 100"', 'expression="amount > 20"')
        )
        ws.features.apply(changed)
        ws.features.materialize(["user_tx"])
        got = reader.features.online([{"user_id": 1}], ["user_tx:large"], at=at)
        assert got.values == {"large": [True]}  # 30 > 20: the new version, not the planned one
    finally:
        reader.close()


def test_a_cached_lookup_sees_an_apply_by_another_process(
    materialized: goldenpath.Workspace, tmp_path: Path
) -> None:
    """The fast path skips its registry check while the metadata database's change token
    stands still: an apply committed by another process must move it."""
    ws = materialized
    home = ws.stack.home
    at = T0 + timedelta(hours=3, minutes=10)  # user 1's newest row: amount 30
    above_25, above_35 = tmp_path / "above_25.py", tmp_path / "above_35.py"
    large = 'expression="amount > 100"'
    above_25.write_text(FEATURES_PY.replace(large, 'expression="amount > 25"'))
    above_35.write_text(FEATURES_PY.replace(large, 'expression="amount > 35"'))
    ws.features.apply(above_25)
    ws.features.materialize(["user_tx"])
    reader = goldenpath.connect(home, actor="alice")
    assert isinstance(reader, goldenpath.Workspace)
    try:
        for _ in range(3):  # planned, then checked once, then served from the cache
            got = reader.features.online([{"user_id": 1}], ["user_tx:large"], at=at)
            assert got.values == {"large": [True]}  # 30 > 25
        code = (
            "import sys, goldenpath\n"
            "ws = goldenpath.connect(sys.argv[1], actor='alice')\n"
            "ws.features.apply(sys.argv[2]); ws.features.materialize(['user_tx']); ws.close()"
        )
        subprocess.run([sys.executable, "-c", code, str(home), str(above_35)], check=True)
        got = reader.features.online([{"user_id": 1}], ["user_tx:large"], at=at)
        assert got.values == {"large": [False]}  # 30 > 35: the other process's version
    finally:
        reader.close()


def test_a_cached_lookup_still_checks_the_permission(materialized: goldenpath.Workspace) -> None:
    ws = materialized
    ws.principals.add("mia")
    ws.access.grant("maintainer", "mia", project="default")
    mia = goldenpath.connect(ws.stack.home, actor="mia")
    assert isinstance(mia, goldenpath.Workspace)
    at = T0 + timedelta(days=1, hours=1)
    try:
        for _ in range(3):
            assert mia.features.online([{"user_id": 2}], ["user_tx:amount"], at=at).values == {
                "amount": [7.0]
            }
        mia.access.revoke("maintainer", "mia", project="default")  # her grants are re-read
        with pytest.raises(PermissionDenied, match=r"feature\.read_online"):
            mia.features.online([{"user_id": 2}], ["user_tx:amount"], at=at)
    finally:
        mia.close()


def test_feature_read_alone_reads_no_online_values(materialized: goldenpath.Workspace) -> None:
    """An approver reads the catalog (``feature.read``) but holds no ``feature.read_online``:
    no lookup, by features, by service or through a reader (a served model's), gets values."""
    ws = materialized
    ws.principals.add("abe")
    ws.access.grant("approver", "abe", project="default")
    abe = goldenpath.connect(ws.stack.home, actor="abe")
    assert isinstance(abe, goldenpath.Workspace)
    at = T0 + timedelta(days=1, hours=1)
    try:
        assert abe.features.show("user_tx").name == "user_tx"  # feature.read: the catalog
        assert "user_tx" in {e.name for e in abe.features.list()}
        for _ in range(2):  # nothing is cached by a refused lookup
            with pytest.raises(PermissionDenied, match=r"'abe' may not feature\.read_online"):
                abe.features.online([{"user_id": 2}], ["user_tx:amount"], at=at)
        with pytest.raises(PermissionDenied, match=r"feature\.read_online"):
            abe.features.online([{"user_id": 2}], service="fraud", at=at)
        with pytest.raises(PermissionDenied, match=r"feature\.read_online"):
            abe.features.online_reader(["user_tx:amount", "user_tx:tx_count_1h"])
    finally:
        abe.close()
