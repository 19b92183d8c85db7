"""Deny by default: two principals on two projects can each act only on their own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

import goldenpath
from goldenpath import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from goldenpath.core.clock import utcnow
from goldenpath.store.tables import principals, tokens
from tests.conftest import write


@pytest.fixture
def org(ws: goldenpath.Workspace, tmp_path: Path) -> Iterator[goldenpath.Workspace]:
    """Admin alice; bob contributes to 'fraud' (team risk), carol to 'churn' (team growth)."""
    ws.access.create_project("fraud", team="risk")
    ws.access.create_project("churn", team="growth")
    for name, project in (("bob", "fraud"), ("carol", "churn")):
        ws.principals.add(name)
        ws.access.grant("contributor", name, project=project)
    yield ws


def as_(ws: goldenpath.Workspace, who: str, project: str = "default") -> goldenpath.Workspace:
    return goldenpath.connect(ws.stack.home, metadata=ws.stack.metadata, actor=who, project=project)


def data(tmp_path: Path) -> Path:
    return write(tmp_path / "d.csv", "id,amount\n1,2.0\n")


def test_each_principal_acts_only_on_its_own_project(
    org: goldenpath.Workspace, tmp_path: Path
) -> None:
    with as_(org, "bob", "fraud") as bob, as_(org, "carol", "churn") as carol:
        bob.datasets.ingest("fraud_tx", data(tmp_path))
        carol.datasets.ingest("churn_users", data(tmp_path))
        assert [d.name for d in bob.datasets.list()] == ["fraud_tx"]
        assert [d.name for d in carol.datasets.list()] == ["churn_users"]
        for call in (
            lambda: bob.datasets.read("churn_users"),
            lambda: bob.datasets.get("churn_users@1"),
            lambda: bob.datasets.history("churn_users"),
            lambda: bob.datasets.head("churn_users"),
            lambda: bob.datasets.profile("churn_users"),
            lambda: bob.datasets.quarantine("churn_users"),
        ):
            # A dataset bob may not read answers as a missing one (no existence oracle).
            with pytest.raises(NotFound, match="no dataset named 'churn_users'"):
                call()
        with pytest.raises(PermissionDenied, match="'bob' may not dataset"):
            bob.datasets.ingest("churn_users", data(tmp_path))
        with pytest.raises(PermissionDenied, match=r"dataset\.write on project 'default'"):
            as_(org, "bob").datasets.ingest("elsewhere", data(tmp_path))
        assert [p.name for p in bob.access.projects()] == ["fraud"]
    assert {d.name for d in org.datasets.list()} == {"fraud_tx", "churn_users"}


def test_team_grants_cover_the_teams_projects(org: goldenpath.Workspace, tmp_path: Path) -> None:
    org.access.create_project("fraud-eu", team="risk")
    org.principals.add("dave")
    org.access.grant("viewer", "dave", team="risk")
    with as_(org, "bob", "fraud-eu") as bob, pytest.raises(PermissionDenied):
        bob.datasets.ingest("eu_tx", data(tmp_path))
    as_(org, "alice", "fraud-eu").datasets.ingest("eu_tx", data(tmp_path))
    with as_(org, "dave") as dave:
        assert dave.datasets.read("eu_tx").num_rows == 1
        with pytest.raises(PermissionDenied):
            dave.datasets.ingest("eu_tx", data(tmp_path))


def test_only_admins_manage_principals_and_workspace_things(org: goldenpath.Workspace) -> None:
    with as_(org, "bob") as bob:
        for call in (
            lambda: bob.principals.add("eve"),
            lambda: bob.principals.list(),
            lambda: bob.audit.list(),
            lambda: bob.audit.verify(),
            lambda: bob.audit.checkpoint(),
            lambda: bob.access.create_project("mine"),
            lambda: bob.access.grant("contributor", "bob", project="churn"),
            lambda: bob.principals.create_token("carol"),
        ):
            with pytest.raises(PermissionDenied):
                call()


def test_maintainers_delegate_only_project_roles(org: goldenpath.Workspace) -> None:
    org.principals.add("erin")
    org.access.grant("maintainer", "bob", project="fraud")
    with as_(org, "bob") as bob:
        bob.access.grant("viewer", "erin", project="fraud")
        with pytest.raises(PermissionDenied):
            bob.access.grant("approver", "erin", project="fraud")
        with pytest.raises(PermissionDenied):
            bob.access.grant("viewer", "erin", project="churn")
        with pytest.raises(PermissionDenied):
            bob.access.grant("admin", "bob")
    assert {(g.role, g.scope_name) for g in org.access.list(principal="erin")} == {
        ("viewer", "fraud")
    }


def test_tokens_authenticate_scope_expire_and_revoke(org: goldenpath.Workspace) -> None:
    full = org.principals.create_token("bob", expires_in="1d")
    scoped = org.principals.create_token("bob", expires_in="1d", scopes=["dataset.read"])
    assert full.secret.startswith("gp_") and len(full.secret) == 46
    home, meta = org.stack.home, org.stack.metadata
    with goldenpath.connect(home, metadata=meta, token=full.secret, project="fraud") as bob:
        assert bob.actor.name == "bob"
        assert bob.access_control.allowed("dataset.write", "fraud")
    with goldenpath.connect(home, metadata=meta, token=scoped.secret) as reader:
        assert reader.access_control.allowed("dataset.read", "fraud")
        assert not reader.access_control.allowed("dataset.write", "fraud")
    org.principals.revoke_token(full.info.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        goldenpath.connect(home, metadata=meta, token=full.secret)
    with org.store.begin() as conn:
        conn.execute(
            update(tokens)
            .where(tokens.c.id == scoped.info.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(Unauthenticated, match="expired"):
        goldenpath.connect(home, metadata=meta, token=scoped.secret)
    for bad in ("", "gp_short", "gp_" + "x" * 43):
        with pytest.raises(Unauthenticated, match="invalid token"):
            goldenpath.connect(home, metadata=meta, token=bad)
    assert [t.revoked_at is not None for t in org.principals.tokens("bob")] == [True, False]


def test_a_disabled_principal_is_locked_out(org: goldenpath.Workspace) -> None:
    token = org.principals.create_token("carol").secret
    org.principals.disable("carol")
    with pytest.raises(Unauthenticated, match="disabled"):
        goldenpath.connect(org.stack.home, metadata=org.stack.metadata, token=token)
    with as_(org, "carol") as carol:
        assert not carol.access_control.allowed("dataset.read", "churn")


def test_agents_are_narrow_owned_and_expiring(org: goldenpath.Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="an agent needs"):
        org.principals.add("bot", kind="agent")
    with pytest.raises(InvalidInput, match="at most 90 days"):
        org.principals.add(
            "bot", kind="agent", owner="bob", allowed_actions=["dataset.read"], expires_in="91d"
        )
    with pytest.raises(InvalidInput, match="unknown allowed action"):
        org.principals.add(
            "bot", kind="agent", owner="bob", allowed_actions=["do.anything"], expires_in="1d"
        )
    agent = org.principals.add(
        "bot", kind="agent", owner="bob", allowed_actions=["dataset.read"], expires_in="7d"
    )
    assert agent.owner == "bob" and agent.expires_at is not None
    org.access.grant("contributor", "bot", project="fraud")  # the role says more than allowed
    as_(org, "bob", "fraud").datasets.ingest("fraud_tx", data(tmp_path))
    with as_(org, "bot", "fraud") as bot:
        assert bot.datasets.read("fraud_tx").num_rows == 1
        with pytest.raises(PermissionDenied):
            bot.datasets.ingest("fraud_tx", data(tmp_path))
    token = org.principals.create_token("bot", expires_in="30d")
    assert token.info.expires_at <= agent.expires_at  # never outlives the agent
    # The agent's own expiry counts, not only its token's (they are different columns of one
    # joined row: this once read the token's expiry as the agent's).
    token = org.principals.create_token("bot", expires_in="1h")
    with org.store.begin() as conn:
        conn.execute(
            update(principals)
            .where(principals.c.name == "bot")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(Unauthenticated, match="disabled or expired"):
        goldenpath.connect(org.stack.home, metadata=org.stack.metadata, token=token.secret)


def test_unknown_principals_and_bad_grants(org: goldenpath.Workspace) -> None:
    with pytest.raises(Unauthenticated, match="no principal named 'mallory'"):
        as_(org, "mallory")
    with pytest.raises(NotFound, match="no principal named 'zed'"):
        org.access.grant("viewer", "zed", project="fraud")
    with pytest.raises(NotFound, match="no project named 'nope'"):
        org.access.grant("viewer", "bob", project="nope")
    with pytest.raises(InvalidInput, match="unknown role"):
        org.access.grant("owner", "bob", project="fraud")
    with pytest.raises(goldenpath.Conflict):
        org.principals.add("bob")
    with pytest.raises(NotFound):
        org.access.revoke("viewer", "bob", project="fraud")
