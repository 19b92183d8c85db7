from __future__ import annotations

from pathlib import Path

import pytest

import goldenpath
from goldenpath.workspace import redact_url as _redact


def test_connect_without_a_workspace_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(goldenpath.NotFound) as caught:
        goldenpath.connect(tmp_path / "nowhere")
    assert "gp init" in (caught.value.hint or "")
    assert not (tmp_path / "nowhere").exists()


def test_init_then_open_reuses_the_workspace(tmp_path: Path) -> None:
    with goldenpath.connect(tmp_path / "ws", create=True, actor="bob") as ws:
        assert ws.status().counts["audit_events"] == 3
        assert [e.action for e in ws.audit.list()] == [
            "workspace.init",
            "access.grant",
            "principal.create",
        ]
        assert ws.audit.list()[0].actor == "bob"
    with goldenpath.connect(tmp_path / "ws", create=True, actor="bob") as again:
        assert again.status().counts["audit_events"] == 3  # opening is not a change


def test_status_never_shows_passwords() -> None:
    assert _redact("postgresql://gp:s3cret@db:5432/gp") == "postgresql://gp:***@db:5432/gp"
    assert _redact("sqlite:////tmp/gp.db") == "sqlite:////tmp/gp.db"
