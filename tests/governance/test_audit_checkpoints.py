"""Audit checkpoints cannot be bypassed: not by deleting, misnaming or replacing the signing
key, not by rolling back every checkpoint copy in reach, not by dropping the append-only guard.

Each test plays the attacker on both metadata backends (the ``ws`` fixture), through the SDK.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

import goldenpath
from goldenpath.core import signing
from goldenpath.core.actor import Actor
from goldenpath.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from goldenpath.governance import audit
from tests.governance.audit_attacks import attack, lift_guard


@pytest.fixture
def trail(ws: goldenpath.Workspace) -> Iterator[goldenpath.Workspace]:
    """A workspace with events #1..#3 (admin, grant, init), #4..#8, and checkpoint #9."""
    add_events(ws, 5)
    assert ws.audit.checkpoint()["seq"] == 9
    yield ws


def add_events(ws: goldenpath.Workspace, n: int) -> None:
    with ws.store.begin() as conn:
        for i in range(n):
            audit.record(conn, Actor("alice"), "thing.update", "thing", f"t{i}", {"i": i})


def key_file(ws: goldenpath.Workspace) -> Path:
    return ws.stack.home / "keys" / "audit-ed25519.pem"


def reopen(ws: goldenpath.Workspace) -> goldenpath.Workspace:
    """A fresh connection to the same workspace (it reads GP_AUDIT_KEY anew)."""
    return goldenpath.connect(ws.stack.home, metadata=ws.stack.metadata, actor="alice")


def kinds(ws: goldenpath.Workspace, **kwargs: object) -> list[tuple[str, int | None]]:
    return [(p.kind, p.seq) for p in ws.audit.verify(**kwargs).problems]  # type: ignore[arg-type]


# -- the key is made once ------------------------------------------------------------------


def test_the_key_is_made_with_the_workspace_and_named_in_its_first_events(
    ws: goldenpath.Workspace,
) -> None:
    key = signing.load_key(key_file(ws))
    kid = signing.key_id(key.public_key())
    history = json.loads(key_file(ws).with_suffix(".keys.json").read_text())
    assert [k["key_id"] for k in history["keys"]] == [kid]
    (init,) = ws.audit.list(action="workspace.init")
    assert init.details["audit_key"] == kid
    assert key_file(ws).stat().st_mode & 0o777 == 0o600


def test_a_deleted_key_fails_verification_and_truncation_is_still_seen(
    trail: goldenpath.Workspace,
) -> None:
    key_file(trail).unlink()
    result = trail.audit.verify()
    assert not result.ok and [p.kind for p in result.problems] == ["key"]
    assert "is missing" in result.problems[0].message
    # The retired-or-current public keys live in the history: the checkpoint still verifies.
    attack(trail, "DELETE FROM audit_events WHERE seq >= 7")
    assert sorted(kinds(trail), key=str) == [("key", None), ("truncated", 9)]


def test_a_deleted_key_and_history_still_fail(trail: goldenpath.Workspace) -> None:
    key_file(trail).unlink()
    key_file(trail).with_suffix(".keys.json").unlink()
    attack(trail, "DELETE FROM audit_events WHERE seq >= 7")
    assert ("key", None) in kinds(trail)


def test_a_misspelled_gp_audit_key_fails_verification(
    metadata_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secure = tmp_path / "secure" / "audit.pem"
    monkeypatch.setenv("GP_AUDIT_KEY", str(secure))
    ws = goldenpath.connect(tmp_path / "home", metadata=metadata_url, actor="alice", create=True)
    ws.audit.checkpoint()
    assert secure.exists() and not (tmp_path / "home" / "keys").exists()
    assert ws.audit.verify().ok
    ws.close()
    monkeypatch.delenv("GP_AUDIT_KEY")
    monkeypatch.setenv("GP_AUDIT_KEYS", str(secure))  # the typo
    with reopen(ws) as typo:
        result = typo.audit.verify()
        assert [p.kind for p in result.problems] == ["key"]
        assert "GP_AUDIT_KEY" in result.problems[0].message
        with pytest.raises(NotFound, match="is missing"):
            typo.audit.checkpoint()
    assert not (tmp_path / "home" / "keys").exists()


def test_checkpoint_never_silently_makes_a_new_key(trail: goldenpath.Workspace) -> None:
    key_file(trail).unlink()
    with pytest.raises(NotFound) as caught:
        trail.audit.checkpoint()
    assert "rotate-key" in str(caught.value.hint)
    assert not key_file(trail).exists()
    assert not trail.audit.verify().ok


def test_a_replaced_key_fails_verification_and_signs_nothing(trail: goldenpath.Workspace) -> None:
    signing.write_key(key_file(trail), Ed25519PrivateKey.generate())
    result = trail.audit.verify()
    assert [p.kind for p in result.problems] == ["key"]
    assert "replaced without gp audit rotate-key" in result.problems[0].message
    with pytest.raises(Conflict, match="not the workspace's key"):
        trail.audit.checkpoint()


def test_a_replaced_key_and_history_are_caught_by_the_trail(ws: goldenpath.Workspace) -> None:
    # No checkpoint yet: only the workspace.init event names the key.
    other = Ed25519PrivateKey.generate()
    signing.write_key(key_file(ws), other)
    key_file(ws).with_suffix(".keys.json").unlink()
    result = ws.audit.verify()
    assert [(p.kind, p.seq) for p in result.problems] == [("key", 3)]
    assert "event #3 names key" in result.problems[0].message


def test_the_first_checkpoint_of_a_workspace_that_never_had_a_key_makes_one(
    ws: goldenpath.Workspace,
) -> None:
    # A workspace created before keys were made at creation: no key, no history, no mention.
    key_file(ws).unlink()
    key_file(ws).with_suffix(".keys.json").unlink()
    attack(ws, "UPDATE audit_events SET details = '{}' WHERE action = 'workspace.init'")
    assert [p.kind for p in ws.audit.verify().problems] == ["edited"]  # (our own edit)
    point = ws.audit.checkpoint()
    assert key_file(ws).exists()
    assert point["key_id"] == signing.key_id(signing.load_key(key_file(ws)).public_key())


# -- rotation ------------------------------------------------------------------------------


def test_rotate_key_keeps_older_checkpoints_verifiable(trail: goldenpath.Workspace) -> None:
    before = trail.audit.export_checkpoint()
    rotated = trail.audit.rotate_key()
    assert rotated["endorsed"] and rotated["old_key_id"] == before["key_id"]
    assert rotated["checkpoint"]["key_id"] == rotated["new_key_id"] != before["key_id"]
    (event,) = trail.audit.list(action="audit.key.rotate")
    assert event.actor == "alice" and event.details["new_key_id"] == rotated["new_key_id"]
    assert trail.audit.verify().ok
    # An anchor signed by the retired key, without its public key: the history vouches for it.
    old = {k: v for k, v in before.items() if k != "public_key"}
    result = trail.audit.verify(anchor=old)
    assert result.ok, result.problems
    history = json.loads(key_file(trail).with_suffix(".keys.json").read_text())["keys"]
    assert [k["retired_at"] is None for k in history] == [False, True]


def test_rotate_key_with_the_key_lost_needs_saying_so(trail: goldenpath.Workspace) -> None:
    key_file(trail).unlink()
    with pytest.raises(Conflict, match="cannot rotate"):
        trail.audit.rotate_key()
    assert not key_file(trail).exists()
    rotated = trail.audit.rotate_key(old_key_lost=True)
    assert not rotated["endorsed"]
    result = trail.audit.verify()
    assert result.ok, result.problems
    assert any("without its endorsement" in note for note in result.notes)


def test_a_forged_key_history_entry_is_caught(trail: goldenpath.Workspace) -> None:
    trail.audit.rotate_key()
    history_file = key_file(trail).with_suffix(".keys.json")
    history = json.loads(history_file.read_text())
    history["keys"][1]["endorsement"] = "00" * 64
    history_file.write_text(json.dumps(history))
    assert ("key", None) in kinds(trail)


def test_only_admins_rotate_the_key(ws: goldenpath.Workspace) -> None:
    ws.principals.add("bob")
    ws.access.grant("contributor", "bob", project="default")
    with goldenpath.connect(ws.stack.home, metadata=ws.stack.metadata, actor="bob") as bob:
        with pytest.raises(PermissionDenied):
            bob.audit.rotate_key()
        with pytest.raises(PermissionDenied):
            bob.audit.export_checkpoint()
    assert not ws.audit.list(action="audit.key.rotate")


# -- rollback of every checkpoint copy, and the external anchor ----------------------------


def roll_back(ws: goldenpath.Workspace, to_seq: int, file_copy: str) -> None:
    """Put the database checkpoints and the checkpoint file back as they were at ``to_seq``."""
    attack(ws, f"DELETE FROM audit_checkpoints WHERE seq > {to_seq}")
    (ws.stack.home / "keys" / "audit-checkpoint.json").write_text(file_copy)


def test_rolling_back_both_copies_then_truncating_fails_against_an_anchor(
    trail: goldenpath.Workspace, tmp_path: Path
) -> None:
    file_copy = (trail.stack.home / "keys" / "audit-checkpoint.json").read_text()
    add_events(trail, 5)  # #10..#14
    trail.audit.checkpoint()  # #15
    anchor = trail.audit.export_checkpoint()
    assert anchor["seq"] == 15 and anchor["public_key"]
    add_events(trail, 2)
    roll_back(trail, 9, file_copy)
    attack(trail, "DELETE FROM audit_events WHERE seq >= 12")
    # What the chain cannot see on its own (docs/audit.md says so) ...
    result = trail.audit.verify()
    assert result.ok and any("--anchor" in note for note in result.notes)
    # ... an anchor kept elsewhere does.
    result = trail.audit.verify(anchor=anchor)
    assert [(p.kind, p.seq) for p in result.problems] == [("truncated", 15)]
    assert "the anchor signed at" in result.problems[0].message


def test_rolling_back_both_copies_without_truncating_is_seen_in_the_trail(
    trail: goldenpath.Workspace,
) -> None:
    file_copy = (trail.stack.home / "keys" / "audit-checkpoint.json").read_text()
    add_events(trail, 2)
    trail.audit.checkpoint()  # #12
    add_events(trail, 2)
    trail.audit.checkpoint()  # #15, whose event names #12 as its predecessor
    roll_back(trail, 9, file_copy)
    assert kinds(trail) == [("checkpoint", 12), ("checkpoint", 15)]


def test_an_anchor_that_the_trail_was_rewritten_under_is_caught(
    trail: goldenpath.Workspace,
) -> None:
    anchor = trail.audit.export_checkpoint()
    attack(trail, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 4")
    assert ("edited", 4) in kinds(trail, anchor=anchor)


def test_a_forged_or_foreign_anchor_fails(trail: goldenpath.Workspace, tmp_path: Path) -> None:
    anchor = trail.audit.export_checkpoint()
    assert kinds(trail, anchor={**anchor, "seq": 3}) == [("anchor", 3)]
    # A genuine checkpoint of another workspace: signed by a key this one never had.
    with goldenpath.connect(tmp_path / "other", actor="alice", create=True) as other:
        foreign = other.audit.checkpoint()
    assert ("key", foreign["seq"]) in kinds(trail, anchor=foreign)


@pytest.mark.parametrize(
    "bad",
    [[], {"seq": 1}, {"seq": "9", "count": 9, "head_hash": "x", "at": "t", "key_id": "k"}],
)
def test_a_malformed_anchor_is_one_clear_error(trail: goldenpath.Workspace, bad: object) -> None:
    with pytest.raises(InvalidInput, match="anchor") as caught:
        trail.audit.verify(anchor=bad)  # type: ignore[arg-type]
    assert caught.value.hint


# -- the append-only guard -----------------------------------------------------------------


def test_dropped_append_only_triggers_are_reported(trail: goldenpath.Workspace) -> None:
    lift_guard(trail)
    result = trail.audit.verify()
    assert {p.kind for p in result.problems} == {"guard"}
    expected = 4  # update and delete (SQLite) / row and truncate (PostgreSQL), on two tables
    assert len(result.problems) == expected
    assert "audit_events" in result.problems[0].message


def test_a_neutered_trigger_is_reported(trail: goldenpath.Workspace) -> None:
    with trail.store.begin() as conn:
        if trail.store.dialect == "postgresql":
            conn.execute(text("DROP TRIGGER audit_events_no_truncate ON audit_events"))
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION gp_audit_append_only() RETURNS trigger AS $$ "
                    "BEGIN RETURN OLD; END; $$ LANGUAGE plpgsql"
                )
            )
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))
            conn.execute(
                text(
                    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
                    "WHEN 0 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
                )
            )
    messages = [p.message for p in trail.audit.verify().problems]
    assert messages and all("trigger" in m for m in messages)
    if trail.store.dialect == "postgresql":
        assert any("audit_events_no_truncate on audit_events is missing" in m for m in messages)
        assert sum("was altered" in m for m in messages) == 3  # every trigger on that function
    else:
        assert messages == [messages[0]] and "audit_events_no_delete was altered" in messages[0]


def test_a_workspace_from_before_the_key_history_adopts_only_its_own_key(
    trail: goldenpath.Workspace,
) -> None:
    history = key_file(trail).with_suffix(".keys.json")
    history.unlink()
    good = key_file(trail).read_bytes()
    signing.write_key(key_file(trail), Ed25519PrivateKey.generate())
    with pytest.raises(Conflict, match="did not sign the newest checkpoint"):
        trail.audit.checkpoint()
    assert not history.exists()
    key_file(trail).write_bytes(good)
    trail.audit.checkpoint()
    assert history.exists() and trail.audit.verify().ok


def test_verify_during_concurrent_checkpoints_raises_no_false_alarm(
    ws: goldenpath.Workspace,
) -> None:
    # Another engine (as the server's checkpoint thread or a second process would be) keeps
    # appending and checkpointing while verify reads the checkpoints, the file and the trail.
    stop, errors = threading.Event(), []

    def checkpointer() -> None:
        try:
            with reopen(ws) as other:
                while not stop.is_set():
                    add_events(other, 1)
                    other.audit.checkpoint()
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    thread = threading.Thread(target=checkpointer)
    thread.start()
    try:
        for _ in range(60):
            result = ws.audit.verify()
            assert result.ok, result.problems
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert len(ws.audit.list(action="audit.checkpoint", limit=1000)) > 1


def test_verify_during_key_rotations_raises_no_false_alarm(ws: goldenpath.Workspace) -> None:
    # Rotations and checkpoints far more often than any operator would (back to back, from
    # two other connections), while verify runs.
    stop, errors = threading.Event(), []

    def loop(step: Callable[[goldenpath.Workspace], object]) -> None:
        try:
            with reopen(ws) as other:
                while not stop.wait(0.005):
                    step(other)
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [
        threading.Thread(target=loop, args=(lambda w: w.audit.rotate_key(),)),
        threading.Thread(target=loop, args=(lambda w: w.audit.checkpoint(),)),
    ]
    for thread in threads:
        thread.start()
    # At least 30 verifies, and on until the rotator has rotated twice (a loaded machine can
    # starve the threads through the first 30), within a minute.
    deadline = time.monotonic() + 60
    try:
        verified = 0
        while verified < 30 or (
            len(ws.audit.list(action="audit.key.rotate", limit=3)) < 2
            and time.monotonic() < deadline
        ):
            result = ws.audit.verify()
            assert result.ok, result.problems
            verified += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors
    assert ws.audit.verify().ok
    assert len(ws.audit.list(action="audit.key.rotate", limit=1000)) > 1
