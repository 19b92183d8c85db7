"""Tokens only narrow: a token creates tokens within its scopes and lifetime, revoked with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

import goldenpath
from goldenpath import InvalidInput, PermissionDenied, Unauthenticated
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import PolicyDenied
from goldenpath.store.tables import tokens
from tests.conftest import write
from tests.server.conftest import serving


@pytest.fixture
def org(ws: goldenpath.Workspace) -> Iterator[goldenpath.Workspace]:
    """Admin alice; bob contributes to 'fraud'; 'pipeline' is a service account on it."""
    ws.access.create_project("fraud", team="risk")
    for name, kind in (("bob", "user"), ("pipeline", "service")):
        ws.principals.add(name, kind=kind)  # type: ignore[arg-type]
        ws.access.grant("contributor", name, project="fraud")
    yield ws


def connect(ws: goldenpath.Workspace, token: str) -> goldenpath.Workspace:
    return goldenpath.connect(ws.stack.home, metadata=ws.stack.metadata, token=token)


def test_a_token_creates_only_narrower_tokens_revoked_with_it(org: goldenpath.Workspace) -> None:
    reader = org.principals.create_token("bob", expires_in="1d", scopes=["dataset.read"])
    with connect(org, reader.secret) as bob:
        # The reported attack: a dataset.read token minting an unscoped ten-year token.
        with pytest.raises(PermissionDenied, match=r"scope\(s\) it does not have: dataset\.write"):
            bob.principals.create_token("bob", scopes=["dataset.read", "dataset.write"])
        with pytest.raises(InvalidInput, match="at most 90 days"):
            bob.principals.create_token("bob", expires_in="3650d")
        with pytest.raises(PermissionDenied, match="cannot live longer"):
            bob.principals.create_token("bob", expires_in="2d")
        child = bob.principals.create_token("bob")  # no scopes asked: the parent's
        assert child.info.scopes == ["dataset.read"]
        assert child.info.parent == reader.info.id
        assert child.info.expires_at <= reader.info.expires_at
        narrower = bob.principals.create_token("bob", expires_in="1h", scopes=[])
        assert narrower.info.scopes == []
    with connect(org, child.secret) as via_child:
        assert via_child.access_control.allowed("dataset.read", "fraud")
        assert not via_child.access_control.allowed("dataset.write", "fraud")
        grandchild = via_child.principals.create_token("bob", expires_in="1h")
        assert grandchild.info.parent == child.info.id
    with connect(org, narrower.secret) as nothing:
        assert not nothing.access_control.allowed("dataset.read", "fraud")
        with pytest.raises(PermissionDenied):
            nothing.principals.create_token("bob", scopes=["dataset.read"])

    org.principals.revoke_token(reader.info.id)
    for secret in (reader.secret, child.secret, grandchild.secret, narrower.secret):
        with pytest.raises(Unauthenticated, match="revoked"):
            connect(org, secret)
    revoke = org.audit.list(action="token.revoke")[0]
    assert sorted(revoke.details["descendants"]) == sorted(
        [child.info.id, grandchild.info.id, narrower.info.id]
    )
    listed = {t.id: t for t in org.principals.tokens("bob")}
    assert listed[grandchild.info.id].parent == child.info.id
    assert all(t.revoked_at is not None for t in listed.values())


def test_revoking_a_child_leaves_its_parent(org: goldenpath.Workspace) -> None:
    parent = org.principals.create_token("bob", expires_in="1d")
    with connect(org, parent.secret) as bob:
        child = bob.principals.create_token("bob", expires_in="1h")
        bob.principals.revoke_token(child.info.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        connect(org, child.secret)
    connect(org, parent.secret).close()


def test_a_revoked_parent_cannot_create_a_child_in_flight(org: goldenpath.Workspace) -> None:
    """Authenticated, then revoked before it creates: the check inside the transaction holds."""
    parent = org.principals.create_token("bob", expires_in="1d")
    with connect(org, parent.secret) as bob:
        org.principals.revoke_token(parent.info.id)
        with pytest.raises(Unauthenticated, match="revoked"):
            bob.principals.create_token("bob", expires_in="1h")
    assert [t.id for t in org.principals.tokens("bob")] == [parent.info.id]


def test_racing_creates_and_revokes_leave_no_live_child(org: goldenpath.Workspace) -> None:
    """Threads create children while the parent is revoked: none outlives the revocation."""
    for _ in range(3):
        parent = org.principals.create_token("bob", expires_in="1d")
        bob = connect(org, parent.secret)
        start = threading.Barrier(4)

        def mint(bob: goldenpath.Workspace = bob, start: threading.Barrier = start) -> None:
            start.wait()
            for _ in range(3):
                try:
                    bob.principals.create_token("bob", expires_in="1h")
                except Unauthenticated:
                    return

        def revoke(parent_id: str = parent.info.id, start: threading.Barrier = start) -> None:
            start.wait()
            org.principals.revoke_token(parent_id)

        threads = [threading.Thread(target=mint) for _ in range(3)]
        threads.append(threading.Thread(target=revoke))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        bob.close()
        with org.store.connect() as conn:
            live = conn.execute(
                select(tokens.c.id).where(
                    (tokens.c.parent_id == parent.info.id) & tokens.c.revoked_at.is_(None)
                )
            ).all()
        assert live == []


def test_admins_issue_service_tokens_that_outlive_their_own(org: goldenpath.Workspace) -> None:
    admin = org.principals.create_token("alice", expires_in="1h", scopes=["token.manage"])
    with connect(org, admin.secret) as alice:
        service = alice.principals.create_token("pipeline", expires_in="60d")
        assert service.info.parent is None and service.info.scopes is None
        assert service.info.expires_at - utcnow() > timedelta(days=59)
        with pytest.raises(InvalidInput, match="at most 90 days"):
            alice.principals.create_token("pipeline", expires_in="91d")
    org.principals.revoke_token(admin.info.id)
    with connect(org, service.secret) as pipeline:
        assert pipeline.access_control.allowed("dataset.write", "fraud")
    bob_token = org.principals.create_token("bob", expires_in="1h").secret
    with connect(org, bob_token) as bob, pytest.raises(PermissionDenied, match=r"token\.manage"):
        bob.principals.create_token("pipeline")


def test_the_lifetime_limit_is_configurable_and_binds_everyone(
    org: goldenpath.Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_LIMIT_TOKEN_LIFETIME_MAX_DAYS", "7")
    with goldenpath.connect(org.stack.home, metadata=org.stack.metadata, actor="alice") as alice:
        assert alice.stack.limits.token_lifetime_max_days == 7
        with pytest.raises(InvalidInput, match="at most 7 days") as raised:
            alice.principals.create_token("pipeline", expires_in="8d")
        assert "GP_LIMIT_TOKEN_LIFETIME_MAX_DAYS" in (raised.value.hint or "")
        default = alice.principals.create_token("pipeline")  # 30 days asked by default: 7
        assert timedelta(days=6) < default.info.expires_at - utcnow() <= timedelta(days=7)


def test_token_creation_is_under_policy(org: goldenpath.Workspace) -> None:
    (org.stack.home / "policies").mkdir(exist_ok=True)
    write(
        org.stack.home / "policies" / "tokens.yaml",
        "policies:\n"
        "  - name: short-service-tokens\n"
        "    actions: [token.create]\n"
        "    allow: 'object.expires_in_seconds <= 604800'\n"
        "    message: tokens live at most a week here\n",
    )
    with pytest.raises(PolicyDenied, match="short-service-tokens"):
        org.principals.create_token("pipeline", expires_in="30d")
    assert org.principals.create_token("pipeline", expires_in="7d").info.principal == "pipeline"


def test_agents_follow_the_same_rule(org: goldenpath.Workspace) -> None:
    org.principals.add(
        "triage-bot", kind="agent", owner="bob", allowed_actions=["dataset.read"], expires_in="30d"
    )
    org.access.grant("viewer", "triage-bot", project="fraud")
    issued = org.principals.create_token("triage-bot", expires_in="1d", scopes=["dataset.read"])
    with connect(org, issued.secret) as bot:
        with pytest.raises(PermissionDenied, match=r"dataset\.write"):
            bot.principals.create_token("triage-bot", scopes=["dataset.write"])
        with pytest.raises(PermissionDenied, match="cannot live longer"):
            bot.principals.create_token("triage-bot", expires_in="2d")
        child = bot.principals.create_token("triage-bot", expires_in="1h")
    org.principals.revoke_token(issued.info.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        connect(org, child.secret)


def test_tokens_only_narrow_over_http(org: goldenpath.Workspace) -> None:
    reader = org.principals.create_token("bob", expires_in="1d", scopes=["dataset.read"])
    with serving(org) as url:
        api = url + "/api/v1/tokens"

        def post(body: dict[str, object], secret: str = reader.secret) -> httpx.Response:
            return httpx.post(api, json=body, headers={"Authorization": f"Bearer {secret}"})

        wider = post({"scopes": ["dataset.write"]})
        assert wider.status_code == 403 and "dataset.write" in wider.json()["detail"]
        assert post({}).json()["scopes"] == ["dataset.read"]
        assert post({"expires_in": "3650d"}).status_code == 422
        assert post({"expires_in": "2d"}).status_code == 403
        child = post({"expires_in": "1h"}).json()
        assert child["parent"] == reader.info.id
        with goldenpath.connect(url, token=reader.secret) as remote:
            made = remote.principals.create_token("bob", expires_in="1h")
            assert made.info.parent == reader.info.id and made.info.scopes == ["dataset.read"]
            with pytest.raises(PermissionDenied):
                remote.principals.create_token("bob", scopes=["token.manage"])
            remote.principals.revoke_token(reader.info.id)
        for secret in (child["token"], made.secret):
            gone = httpx.get(url + "/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
            assert gone.status_code == 401 and "revoked" in gone.json()["detail"]


@pytest.mark.e2e
def test_tokens_only_narrow_in_the_cli(org: goldenpath.Workspace, tmp_path: Path) -> None:
    reader = org.principals.create_token("bob", expires_in="1d", scopes=["dataset.read"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env.update(GP_HOME=str(org.stack.home), GP_METADATA=org.stack.metadata, GP_TOKEN=reader.secret)
    gp = str(Path(sys.executable).parent / "gp")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [gp, "tokens", *args], env=env, capture_output=True, text=True, timeout=120
        )

    wider = run("create", "--scope", "dataset.write")
    assert wider.returncode == 3 and "dataset.write" in wider.stderr, wider.stderr
    longer = run("create", "--expires", "3650d")
    assert longer.returncode == 2 and "at most 90 days" in longer.stderr, longer.stderr
    made = run("create", "--expires", "1h", "--json")
    assert made.returncode == 0, made.stderr
    child = json.loads(made.stdout)
    assert child["parent"] == reader.info.id and child["scopes"] == ["dataset.read"]
    assert run("revoke", reader.info.id).returncode == 0
    with pytest.raises(Unauthenticated, match="revoked"):
        connect(org, child["token"])
    assert "Traceback" not in wider.stderr + longer.stderr
