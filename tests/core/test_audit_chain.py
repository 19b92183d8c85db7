"""The audit trail is append-only and tamper-evident: each kind of tampering is pinpointed."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import goldenpath
from goldenpath.core.actor import Actor
from goldenpath.core.audit_chain import chain_hash
from goldenpath.governance import audit
from goldenpath.store.engine import MetadataStore, open_store
from tests.governance.audit_attacks import attack


@pytest.fixture
def trail(ws: goldenpath.Workspace) -> Iterator[goldenpath.Workspace]:
    """A workspace with events #1..#3 (admin principal, grant, init) and #4..#8."""
    with ws.store.begin() as conn:
        for n in range(5):
            audit.record(conn, Actor("alice"), "thing.update", "thing", f"t{n}", {"n": n})
    yield ws


def kinds(ws: goldenpath.Workspace) -> list[tuple[str, int | None]]:
    return [(p.kind, p.seq) for p in ws.audit.verify().problems]


def test_an_untouched_trail_verifies(trail: goldenpath.Workspace) -> None:
    result = trail.audit.verify()
    assert result.ok and result.events == 8 and result.head_seq == 8
    assert result.notes and "no checkpoint" in result.notes[0]


def test_the_database_refuses_updates_and_deletes(trail: goldenpath.Workspace) -> None:
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), trail.store.begin() as conn:
            conn.execute(text(statement))
    assert trail.audit.verify().ok


# One edit per column the hash covers (every one, so dropping a column from chain_hash fails
# here); each literal is valid SQL for its column on SQLite and on PostgreSQL.
HASHED_COLUMN_EDITS = {
    "id": "'01ARZ3NDEKTSV4RRFFQ69G5FAV'",
    "at": "'2001-02-03 04:05:06.000000'",
    "actor": "'mallory'",
    "action": "'thing.delete'",
    "object_type": "'other'",
    "object_ref": "'t99'",
    "details": """'{"n": 99}'""",
}


@pytest.mark.parametrize("column", sorted(HASHED_COLUMN_EDITS))
def test_an_edited_event_is_pinpointed(trail: goldenpath.Workspace, column: str) -> None:
    value = HASHED_COLUMN_EDITS[column]
    attack(trail, f"UPDATE audit_events SET {column} = {value} WHERE seq = 3")
    assert kinds(trail) == [("edited", 3)]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(trail: goldenpath.Workspace) -> None:
    # The forger rewrites #3's actor and gives it a valid hash of its own: only the link that
    # #4 recorded to the old #3 gives it away.
    with trail.store.connect() as conn:
        row = conn.execute(text("SELECT * FROM audit_events WHERE seq = 3")).mappings().one()
    forged = chain_hash(
        row["prev_hash"],
        row["id"],
        row["at"],
        "mallory",
        row["action"],
        row["object_type"],
        row["object_ref"],
        row["details"],
    )
    attack(trail, f"UPDATE audit_events SET actor = 'mallory', hash = '{forged}' WHERE seq = 3")
    result = trail.audit.verify()
    assert [(p.kind, p.seq) for p in result.problems] == [("edited", 3)]
    assert "#4 links to a hash no event has" in result.problems[0].message


def test_a_deleted_event_is_pinpointed(trail: goldenpath.Workspace) -> None:
    attack(trail, "DELETE FROM audit_events WHERE seq = 4")
    result = trail.audit.verify()
    assert [(p.kind, p.seq) for p in result.problems] == [("deleted", 5)]
    assert "#4..#4 were deleted" in result.problems[0].message


def test_an_inserted_event_is_pinpointed(trail: goldenpath.Workspace) -> None:
    # A forger with database access moves the tail up and slips in an event whose own hash is
    # valid and which links to #3. Only #4's link, still pointing at #3, gives it away.
    with trail.store.connect() as conn:
        prev = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 3")).scalar_one()
    at = "2026-01-01 00:00:00.000000"
    forged = chain_hash(prev, "FORGED", at, "mallory", "grant", "x", "x", {})
    attack(
        trail,
        "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 4",
        "INSERT INTO audit_events (seq, id, at, actor, action, object_type, object_ref, details,"
        f" prev_hash, hash) VALUES (50, 'FORGED', '{at}', 'mallory', 'grant', 'x', 'x', '{{}}',"
        f" '{prev}', '{forged}')",
    )
    assert kinds(trail) == [("inserted", 50)]


def test_reordered_events_are_pinpointed(trail: goldenpath.Workspace) -> None:
    attack(
        trail,
        "UPDATE audit_events SET seq = 100 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = 4",
        "UPDATE audit_events SET seq = 4 WHERE seq = 100",
    )
    assert {kind for kind, _ in kinds(trail)} == {"reordered"}


def test_tail_truncation_after_a_checkpoint_is_detected(trail: goldenpath.Workspace) -> None:
    point = trail.audit.checkpoint()
    assert point["seq"] == 9 and point["count"] == 9  # the checkpoint event itself is #9
    assert trail.audit.verify().ok
    attack(trail, "DELETE FROM audit_events WHERE seq >= 6")
    result = trail.audit.verify()
    assert [(p.kind, p.seq) for p in result.problems] == [("truncated", 9)]
    assert "ends at #5" in result.problems[0].message


def test_truncation_with_checkpoint_rows_removed_is_caught_by_the_file(
    trail: goldenpath.Workspace,
) -> None:
    trail.audit.checkpoint()
    attack(trail, "DELETE FROM audit_checkpoints", "DELETE FROM audit_events WHERE seq = 9")
    assert kinds(trail) == [("truncated", 9)]


def test_a_forged_checkpoint_is_refused(trail: goldenpath.Workspace, tmp_path: Path) -> None:
    trail.audit.checkpoint()
    head = trail.stack.home / "keys" / "audit-checkpoint.json"
    forged = json.loads(head.read_text())
    forged["seq"] = 3
    head.write_text(json.dumps(forged))
    assert ("checkpoint", 3) in kinds(trail)


def test_export_writes_json_lines_since_a_time(trail: goldenpath.Workspace) -> None:
    out = io.StringIO()
    assert trail.audit.export(out) == 8
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {"hash", "prev_hash", "actor", "action", "details"} <= set(lines[0])
    later = io.StringIO()
    since = trail.audit.list(limit=1)[0].at
    assert trail.audit.export(later, since=since) == 1


def test_a_rolled_back_event_is_never_linked_to(ws: goldenpath.Workspace) -> None:
    # The append keeps the head it wrote as a hint; after a rollback that head is gone.
    with pytest.raises(RuntimeError), ws.store.begin() as conn:
        audit.record(conn, Actor("alice"), "thing.update", "thing", "gone", {})
        raise RuntimeError("roll back")
    with ws.store.begin() as conn:
        audit.record(conn, Actor("alice"), "thing.update", "thing", "kept", {})
    result = ws.audit.verify()
    assert result.ok, result.problems
    assert [e.object_ref for e in ws.audit.list(limit=1)] == ["kept"]


def test_concurrent_writers_keep_one_unbroken_chain(ws: goldenpath.Workspace) -> None:
    # Two engines (as two processes would have), each with three threads, append at once.
    before = ws.audit.verify().events
    stores = [ws.store, open_store(ws.store.url)]
    errors: list[BaseException] = []

    def append(store: MetadataStore, n: int) -> None:
        try:
            for i in range(25):
                with store.begin() as conn:
                    audit.record(conn, Actor("alice"), "thing.update", "thing", f"w{n}-{i}", {})
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(stores[n % 2], n)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stores[1].dispose()
    assert not errors
    result = ws.audit.verify()
    assert result.ok, result.problems
    assert result.events == before + 150 and result.head_seq == result.events
