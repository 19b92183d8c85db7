"""Registry (plan/apply, versions, users, breaking changes) and stored training sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

import goldenpath
from goldenpath.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from goldenpath.features import Entity
from goldenpath.features.project import Definitions
from goldenpath.store.tables import (
    audit_events,
    feature_definitions,
    feature_versions,
    lineage_edges,
    training_sets,
)
from tests.features.conftest import FEATURES_PY

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _entities(**extra: list[object]) -> pd.DataFrame:
    rows: dict[str, list[object]] = {
        "user_id": [1, 1, 2],
        "event_timestamp": [T0 + timedelta(minutes=45), T0 + timedelta(hours=3), T0],
        "request_amount": [50.0, 60.0, 1.0],
    }
    rows.update(extra)
    return pd.DataFrame(rows)


def _count(ws: goldenpath.Workspace, table: object) -> int:
    with ws.store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _features_file(ws: goldenpath.Workspace) -> Path:
    return ws.stack.home.parent / "features.py"


def test_training_set_is_stored_with_users_lineage_and_reads_back(
    feature_ws: goldenpath.Workspace,
) -> None:
    ws = feature_ws
    built = ws.features.training_set(
        _entities(), service="fraud", name="fraud-train", definitions=_features_file(ws)
    )
    got = built.table.to_pydict()
    assert got["amount"] == [200.0, 30.0, 5.0]
    assert got["tx_count_1h"] == [2, 1, 1]
    assert got["amount_mean_7d"] == [105.0, 80.0, 5.0]
    assert got["amount_ratio"] == pytest.approx([50 / 105, 60 / 80, 1 / 5])
    info = built.info
    assert info is not None and info.ref.startswith("fraud-train@")
    assert ws.features.read_training_set(info.ref).equals(built.table)
    assert info.spec["views"]["user_tx"]["datasets"] == {
        "transactions@1": ws.datasets.get("transactions@1").id
    }
    assert info.spec["views"]["user_tx"]["event_time_max"] == "2025-01-01T03:00:00+00:00"
    users = ws.features.show("user_tx").users or []
    assert any(u["id"] == info.ref for u in users)
    with ws.store.connect() as conn:
        kinds = conn.execute(
            select(lineage_edges.c.from_kind, lineage_edges.c.to_kind).where(
                lineage_edges.c.attributes.is_not(None)
            )
        ).all()
    assert ("dataset_version", "feature_view_version") in kinds
    assert ("feature_view_version", "training_set") in kinds
    assert info.ref in [i.ref for i in ws.features.training_sets()]


def test_plan_shows_changes_and_apply_versions_by_hash(
    feature_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = feature_ws
    changed = tmp_path / "features.py"
    changed.write_text(
        FEATURES_PY.replace('description="spending of a user"', 'description="new words"').replace(
            'expression="amount > 100"', 'expression="amount > 150"'
        )
    )
    plan = {c.name: c for c in ws.features.plan(changed).changes}
    assert plan["user_tx"].status == "changed" and plan["user_tx"].version == 2
    assert "feature large: expression changed" in plan["user_tx"].details
    assert plan["user"].status == "unchanged"
    ws.features.apply(changed)
    assert ws.features.show("user_tx").version == 2
    assert ws.features.show("user_tx").description == "new words"
    # Pinned users keep their version: version 1 is still readable as it was.
    assert ws.features.view("user_tx", 1).features[1].expression == "amount > 100"
    # Back to the first content: version 1 is current again, no third version.
    ws.features.apply(_features_file(ws))
    assert ws.features.show("user_tx").version == 1
    assert len(ws.features.show("user_tx").versions or []) == 2


def test_removing_what_a_training_set_reads_is_refused_naming_it(
    feature_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = feature_ws
    ws.features.training_set(
        _entities(), ["user_tx:amount"], name="pinned", definitions=_features_file(ws)
    )
    without = tmp_path / "features.py"
    without.write_text(
        FEATURES_PY.replace('        Field(name="amount", dtype="float64"),\n', "").replace(
            '"user_tx:amount", ', ""
        )
    )
    before = _count(ws, feature_versions)
    with pytest.raises(Conflict, match=r"removing amount from 'user_tx' .*training_set pinned@1"):
        ws.features.apply(without)
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(
        Conflict, match=r"removing feature (view 'user_tx'|service 'fraud') would break its users"
    ):
        ws.features.apply(empty)
    assert _count(ws, feature_versions) == before


def test_bad_expressions_keys_and_timestamps_are_refused_at_plan(
    feature_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = feature_ws
    bad = tmp_path / "features.py"
    cases = {
        'expression="amount > 100"': (
            'expression="amount >>> 1"',
            r"feature view 'user_tx', feature 'large': 'amount >>> 1' does not compile",
        ),
        'join_keys=["user_id"]': ('join_keys=["card_id"]', "join key 'card_id' is not a column"),
        'timestamp="event_time"': (
            'timestamp="amount"',
            "column 'amount' is double, not a timestamp",
        ),
    }
    before = (_count(ws, feature_versions), _count(ws, audit_events))
    for old, (new, message) in cases.items():
        bad.write_text(FEATURES_PY.replace(old, new))
        with pytest.raises(InvalidInput, match=message):
            ws.features.apply(bad)
    assert (_count(ws, feature_versions), _count(ws, audit_events)) == before


def test_bad_entity_rows_and_references_write_nothing(feature_ws: goldenpath.Workspace) -> None:
    ws = feature_ws
    file = _features_file(ws)
    before = _count(ws, training_sets)
    naive = _entities()
    naive["event_timestamp"] = naive["event_timestamp"].dt.tz_localize(None)
    cases = [
        (NotFound, "unknown feature view 'nope'", _entities(), ["nope:x"]),
        (NotFound, "unknown feature 'user_tx:nope'", _entities(), ["user_tx:nope"]),
        (
            InvalidInput,
            "no 'user_id' column",
            _entities().drop(columns=["user_id"]),
            ["user_tx:amount"],
        ),
        (
            InvalidInput,
            "no 'event_timestamp' column",
            _entities().drop(columns=["event_timestamp"]),
            ["user_tx:amount"],
        ),
        (InvalidInput, "without a time zone", naive, ["user_tx:amount"]),
        (
            InvalidInput,
            "join key 'user_id' is (large_)?string, but .* has it as int64",
            _entities(user_id=["1", "1", "2"]),
            ["user_tx:amount"],
        ),
    ]
    for error, message, rows, refs in cases:
        with pytest.raises(error, match=message):
            ws.features.training_set(rows, refs, name="never", definitions=file)
    assert _count(ws, training_sets) == before
    assert not (ws.storage_root / "training_sets" / "never" / "table").exists()


def test_on_demand_code_must_match_the_applied_version(
    feature_ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    ws = feature_ws
    edited = tmp_path / "features.py"
    edited.write_text(FEATURES_PY.replace("/ mean}", "/ mean * 2}"))
    with pytest.raises(Conflict, match=r"apply first|not the applied version"):
        ws.features.training_set(_entities(), ["ratio:amount_ratio"], definitions=edited)


def test_apply_needs_the_permission_and_passes_policies(
    feature_ws: goldenpath.Workspace,
) -> None:
    ws = feature_ws
    ws.principals.add("viv", kind="user")
    ws.access.grant("viewer", "viv", project="default")
    # A definition in a project viv has no role on: listed for alice, not for viv.
    ws.access.create_project("elsewhere")
    with goldenpath.connect(ws.stack.home, actor="alice", project="elsewhere") as other:
        other.features.apply(Definitions.of([Entity(name="merchant", join_keys=["merchant_id"])]))
    viewer = goldenpath.connect(ws.stack.home, actor="viv")
    try:
        with pytest.raises(PermissionDenied, match=r"feature\.apply"):
            viewer.features.apply(_features_file(ws))
        listed = {(e.kind, e.name, e.project, e.version) for e in viewer.features.list()}
        every = {(e.kind, e.name, e.project, e.version) for e in ws.features.list()}
        assert ("entity", "merchant", "elsewhere", 1) in every
        assert listed == {row for row in every if row[2] == "default"}
        assert {(kind, name) for kind, name, _, _ in listed} == {
            ("entity", "user"),
            ("feature_view", "user_tx"),
            ("on_demand", "ratio"),
            ("feature_service", "fraud"),
        }
        shown = viewer.features.show("user_tx")
        assert (shown.kind, shown.project, shown.content["source"]) == (
            "feature_view",
            "default",
            "transactions",
        )
        with pytest.raises(PermissionDenied, match=r"feature\.read"):
            viewer.features.show("merchant")
    finally:
        viewer.close()
    with ws.store.connect() as conn:
        applied = conn.execute(
            select(func.count()).where(audit_events.c.action == "feature.apply")
        ).scalar_one()
        names = conn.execute(select(feature_definitions.c.name)).scalars().all()
    assert applied >= 4 and set(names) >= {"user", "user_tx", "ratio", "fraud"}
