"""The installed ``gp audit`` commands, with the exit codes a script or a cron job sees:
a missing, misnamed or replaced key, a rollback of every checkpoint copy, and dropped
append-only triggers all exit 9 (tampered); bad anchors exit 2; a key is never made silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import goldenpath
from goldenpath.core.actor import Actor
from goldenpath.governance import audit
from tests.governance.audit_attacks import attack, lift_guard

GP = Path(sys.executable).parent / "gp"


class Gp:
    def __init__(self, home: Path, metadata: str) -> None:
        self.home, self.metadata = home, metadata
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
        self.env.update(GP_HOME=str(home), GP_METADATA=metadata, GP_ACTOR="ops", COLUMNS="200")

    def __call__(self, *args: str | Path, code: int = 0, **env: str) -> str:
        done = subprocess.run(
            [str(GP), *map(str, args)],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        report = f"gp {args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert done.returncode == code, report
        assert "Traceback" not in done.stderr, report
        return done.stdout + done.stderr

    def sdk(self) -> goldenpath.Workspace:
        return goldenpath.connect(self.home, metadata=self.metadata, actor="ops")


@pytest.fixture
def gp_db(tmp_path: Path, metadata_url: str) -> Gp:
    """A workspace made by ``gp init`` on each metadata backend (for what involves the
    database: every ``gp`` start costs 1-2 s, so file-only cases run on SQLite alone)."""
    runner = Gp(tmp_path / "home", metadata_url)
    runner("init")
    return runner


@pytest.fixture
def gp(tmp_path: Path) -> Gp:
    runner = Gp(tmp_path / "home", f"sqlite:///{tmp_path / 'gp.db'}")
    runner("init")
    return runner


def test_a_missing_or_misnamed_key_exits_9_and_is_never_remade(gp: Gp, tmp_path: Path) -> None:
    key = gp.home / "keys" / "audit-ed25519.pem"
    assert key.exists()  # made by gp init
    gp("audit", "checkpoint")
    assert "intact" in gp("audit", "verify")
    # GP_AUDIT_KEY pointing at a typo: the key is "missing".
    out = gp("audit", "verify", code=9, GP_AUDIT_KEY=str(tmp_path / "nope.pem"))
    assert "is missing" in out
    key.unlink()
    assert "is missing" in gp("audit", "verify", code=9)
    assert "rotate-key" in gp("audit", "checkpoint", code=4)
    assert not key.exists()
    assert "cannot rotate" in gp("audit", "rotate-key", code=5)
    rotated = json.loads(gp("audit", "rotate-key", "--old-key-lost", "--json"))
    assert not rotated["endorsed"] and key.exists()
    assert "intact" in gp("audit", "verify")
    with gp.sdk() as ws:
        (event,) = ws.audit.list(action="audit.key.rotate")
    assert event.actor == "ops" and event.details["new_key_id"] == rotated["new_key_id"]


def test_verify_against_an_anchor_catches_a_rollback_of_every_copy(
    gp_db: Gp, tmp_path: Path
) -> None:
    gp = gp_db
    gp("audit", "checkpoint")
    file_copy = (gp.home / "keys" / "audit-checkpoint.json").read_text()
    with gp.sdk() as ws:
        first = ws.audit.export_checkpoint()["seq"]
        with ws.store.begin() as conn:
            for i in range(3):
                audit.record(conn, Actor("ops"), "thing.update", "thing", f"t{i}", {})
    printed = tmp_path / "printed.json"
    printed.write_text(gp("audit", "checkpoint", "--json"))
    anchor = tmp_path / "anchor.json"
    gp("audit", "export-checkpoint", "-o", anchor)
    assert json.loads(anchor.read_text())["seq"] == json.loads(printed.read_text())["seq"]
    assert "intact" in gp("audit", "verify", "--anchor", anchor)
    # Roll back the database checkpoints and the file, then cut the tail off.
    with gp.sdk() as ws:
        attack(
            ws,
            f"DELETE FROM audit_checkpoints WHERE seq > {first}",
            f"DELETE FROM audit_events WHERE seq > {first + 1}",
        )
    (gp.home / "keys" / "audit-checkpoint.json").write_text(file_copy)
    assert "intact" in gp("audit", "verify")  # the documented limit of the chain alone
    for kept in (anchor, printed):
        out = gp("audit", "verify", "--anchor", kept, code=9)
        assert "truncated" in out and "the anchor signed at" in out


def test_bad_anchors_exit_2(gp: Gp, tmp_path: Path) -> None:
    gp("audit", "checkpoint")
    not_json = tmp_path / "bad.json"
    not_json.write_text("{nope")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"seq": 1}')
    for path in (tmp_path / "missing.json", not_json, wrong):
        out = gp("audit", "verify", "--anchor", path, code=2)
        assert "error:" in out and "hint:" in out


def test_dropped_triggers_exit_9(gp_db: Gp) -> None:
    gp = gp_db
    with gp.sdk() as ws:
        lift_guard(ws)
    out = gp("audit", "verify", code=9)
    assert "guard" in out and "audit_events" in out


def test_a_key_that_cannot_be_written_leaves_no_workspace(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    gp = Gp(tmp_path / "home", f"sqlite:///{tmp_path / 'gp.db'}")
    out = gp("init", code=2, GP_AUDIT_KEY=str(blocker / "audit.pem"))
    assert "cannot write the audit signing key" in out and "hint:" in out
    assert not any((tmp_path / "home").iterdir())
