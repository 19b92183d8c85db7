"""The audit key and anchor over HTTP: the remote SDK does what the embedded one does, only
admins rotate or export, and a bad anchor is a 422, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import goldenpath
from tests.governance.audit_attacks import attack
from tests.server.conftest import serving


@pytest.fixture
def remote(ws: goldenpath.Workspace) -> Iterator[tuple[goldenpath.Workspace, str, dict[str, str]]]:
    """An admin's remote workspace, the server URL, and admin and viewer tokens."""
    ws.principals.add("bob")
    ws.access.grant("viewer", "bob", project="default")
    tokens = {
        name: ws.principals.create_token(name, expires_in="1h").secret for name in ("alice", "bob")
    }
    with serving(ws) as url, goldenpath.connect(url, token=tokens["alice"]) as admin:
        yield admin, url, tokens


def test_rotate_export_and_anchored_verify_over_http(
    remote: tuple[goldenpath.Workspace, str, dict[str, str]], ws: goldenpath.Workspace
) -> None:
    admin = remote[0]
    admin.audit.checkpoint()
    anchor = admin.audit.export_checkpoint()
    rotated = admin.audit.rotate_key()
    assert rotated["endorsed"] and rotated["old_key_id"] == anchor["key_id"]
    result = admin.audit.verify(anchor=anchor)
    assert result.ok and result.anchor is not None and result.anchor["seq"] == anchor["seq"]
    attack(ws, f"DELETE FROM audit_events WHERE seq >= {anchor['seq']}")
    attack(ws, f"DELETE FROM audit_checkpoints WHERE seq >= {anchor['seq']}")
    (ws.stack.home / "keys" / "audit-checkpoint.json").unlink()
    kinds = {p.kind for p in admin.audit.verify(anchor=anchor).problems}
    assert "truncated" in kinds


def test_only_admins_and_only_anchors(
    remote: tuple[goldenpath.Workspace, str, dict[str, str]],
) -> None:
    admin, url, tokens = remote
    admin.audit.checkpoint()
    bob = {"Authorization": f"Bearer {tokens['bob']}"}
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    api = url + "/api/v1/audit"
    assert httpx.post(api + "/rotate-key", json={}, headers=bob).status_code == 403
    assert httpx.get(api + "/checkpoint", headers=bob).status_code == 403
    anchor = admin.audit.export_checkpoint()
    assert httpx.post(api + "/verify", json={"anchor": anchor}, headers=bob).status_code == 403
    for bad in ({"anchor": []}, {"anchor": {"seq": 1}}, {"anchor": {**anchor, "seq": "x"}}, {}):
        response = httpx.post(api + "/verify", json=bad, headers=alice)
        assert response.status_code == 422, response.text
    forged = {**anchor, "public_key": "zz"}
    assert httpx.post(api + "/verify", json={"anchor": forged}, headers=alice).status_code == 422
    with pytest.raises(goldenpath.InvalidInput, match="anchor"):
        admin.audit.verify(anchor={"seq": 1})
