"""A prod deployment changes only through the prod policies: a stage change and every swap ask
them, and a rollback restores only a version that served the deployment in that stage before
(anything else is a deploy, with its policies). Through the SDK and the gp CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import goldenpath
from goldenpath.core.errors import PolicyDenied
from goldenpath.registry.service import GatesFailed
from goldenpath.workspace import Workspace
from tests.serving.conftest import post
from tests.serving.test_cli_deploy import gp

# fraud@1 may go to prod without a sign-off; any other version needs an approver's.
ONLY_V1 = """policies:
  - name: prod-deploys-need-approval
    actions: [deployment.create]
    when: 'object.environment == "prod"'
    allow: 'approved || object.model.version == 1'
    message: deployments to prod need an approval
    approval: true
"""
# Every prod change needs a sign-off.
APPROVED_ONLY = ONLY_V1.replace("approved || object.model.version == 1", "approved")
BODY = {"entities": {"user_id": 7}, "request": {"currency": "EUR"}}


@pytest.fixture
def policy(serving_home: Path) -> Iterator[Path]:
    folder = serving_home / "policies"
    folder.mkdir(exist_ok=True)
    path = folder / "prod-governance.yaml"
    path.write_text(ONLY_V1, encoding="utf-8")
    yield path
    path.unlink()


def _answering(url: str) -> int:
    response = post(f"{url}/v1/predict", BODY)
    assert response.status_code == 200, response.text
    return int(response.json()["model_version"])


def _champion_moves(sws: Workspace) -> list[int | None]:
    return [a.to_version for a in sws.models.alias_history("fraud") if a.alias == "champion"]


def _approve(serving_home: Path, sws: Workspace, denied: PolicyDenied) -> None:
    request_id = str(denied.hint).rsplit(" ", 1)[-1]
    if not any(p.name == "carol" for p in sws.principals.list()):
        sws.principals.add("carol")
        sws.access.grant("approver", "carol")
    with goldenpath.connect(serving_home, actor="carol") as carol:
        carol.policies.approve(request_id)


def test_a_stage_change_of_a_prod_deployment_asks_the_prod_policies(
    sws: Workspace, policy: Path
) -> None:
    info = sws.deployments.deploy("fraud@1", "gov-stage", stage="prod")
    try:
        # Relabelling it dev while swapping in an unapproved version: the prod policy decides.
        with pytest.raises(PolicyDenied, match="prod-deploys-need-approval"):
            sws.deployments.deploy("fraud@2", "gov-stage", stage="dev")
        # Relabelling alone (same version) is a change of a prod deployment too.
        policy.write_text(APPROVED_ONLY, encoding="utf-8")
        with pytest.raises(PolicyDenied, match="prod-deploys-need-approval"):
            sws.deployments.deploy("fraud@1", "gov-stage", stage="dev")
        now = sws.deployments.get("gov-stage")
        assert (now.stage, now.primary_version, now.generation) == ("prod", 1, info.generation)
        assert _answering(info.url) == 1
    finally:
        sws.deployments.stop("gov-stage")


def test_a_rollback_restores_only_what_served_in_this_stage(
    sws: Workspace, serving_home: Path, policy: Path
) -> None:
    # fraud@2 served this deployment in dev only; then it became prod with fraud@1.
    info = sws.deployments.deploy("fraud@2", "gov-back")
    try:
        promoted = sws.deployments.deploy("fraud@1", "gov-back", stage="prod")
        assert (promoted.stage, promoted.previous_version) == ("prod", 2)
        with pytest.raises(PolicyDenied, match="prod-deploys-need-approval") as denied:
            sws.deployments.rollback("gov-back")
        now = sws.deployments.get("gov-back")
        assert (now.primary_version, now.generation) == (1, promoted.generation)
        assert _answering(info.url) == 1
        # Signed off, the same rollback goes through (it is a deploy of fraud@2 to prod).
        _approve(serving_home, sws, denied.value)
        back = sws.deployments.rollback("gov-back")
        assert (back.stage, back.primary_version, back.previous_version) == ("prod", 2, 1)
        assert _answering(info.url) == 2
        # fraud@1 has served this deployment in prod: rolling back to it asks no policy, even
        # one that would now deny it.
        policy.write_text(APPROVED_ONLY, encoding="utf-8")
        again = sws.deployments.rollback("gov-back")
        assert again.primary_version == 1
        assert _answering(info.url) == 1
    finally:
        sws.deployments.stop("gov-back")


def test_the_cli_cannot_relabel_or_roll_back_past_the_prod_policies(
    sws: Workspace, serving_home: Path, policy: Path
) -> None:
    info = sws.deployments.deploy("fraud@2", "gov-cli")
    try:
        sws.deployments.deploy("fraud@1", "gov-cli", stage="prod")
        relabel = gp(serving_home, "deploy", "fraud@2", "--name", "gov-cli", "--stage", "dev")
        assert relabel.returncode == 3, relabel.stderr
        assert "prod-deploys-need-approval" in relabel.stderr, relabel.stderr
        rollback = gp(serving_home, "deployments", "rollback", "gov-cli")
        assert rollback.returncode == 3, rollback.stderr
        assert "prod-deploys-need-approval" in rollback.stderr, rollback.stderr
        now = sws.deployments.get("gov-cli")
        assert (now.stage, now.primary_version) == ("prod", 1)
        assert _answering(info.url) == 1
    finally:
        sws.deployments.stop("gov-cli")


def test_promoting_a_prod_canary_asks_the_prod_policies_again(
    sws: Workspace, serving_home: Path, policy: Path
) -> None:
    sws.deployments.deploy("fraud@1", "gov-promote", stage="prod")
    try:
        with pytest.raises(PolicyDenied) as denied:
            sws.deployments.deploy("fraud@2", "gov-promote", canary=10)
        _approve(serving_home, sws, denied.value)
        canary = sws.deployments.deploy("fraud@2", "gov-promote", canary=10)
        assert (canary.primary_version, canary.candidate_version) == (1, 2)
        champion = _champion_moves(sws)
        # A sign-off for 10% of the traffic is not one for all of it.
        with pytest.raises(PolicyDenied, match="prod-deploys-need-approval"):
            sws.deployments.promote("gov-promote", reason="looked fine")
        now = sws.deployments.get("gov-promote")
        assert (now.primary_version, now.candidate_version) == (1, 2)
        assert _champion_moves(sws) == champion  # refused before the registry moved the alias
    finally:
        sws.deployments.stop("gov-promote")


def _approval_status(sws: Workspace, request_id: str) -> str:
    return next(a.status for a in sws.policies.approvals() if a.id == request_id)


def test_a_prod_promotion_the_gates_refuse_leaves_its_approval_unspent(
    sws: Workspace, serving_home: Path, policy: Path
) -> None:
    sws.deployments.deploy("fraud@1", "gov-gates", stage="prod")
    card = sws.models.card("fraud@2")
    try:
        with pytest.raises(PolicyDenied) as denied:
            sws.deployments.deploy("fraud@2", "gov-gates", canary=10)
        _approve(serving_home, sws, denied.value)
        sws.deployments.deploy("fraud@2", "gov-gates", canary=10)
        # Full traffic needs a sign-off of its own: asked for and given.
        with pytest.raises(PolicyDenied) as denied:
            sws.deployments.promote("gov-gates", reason="looked fine")
        request_id = str(denied.value.request_id)
        _approve(serving_home, sws, denied.value)
        # Then the card gate fails (no owners): nothing is promoted, the approval is unused.
        sws.models.update_card("fraud@2", {"owners": ""})
        with pytest.raises(GatesFailed, match="card"):
            sws.deployments.promote("gov-gates", reason="looked fine")
        assert _approval_status(sws, request_id) == "approved"
        now = sws.deployments.get("gov-gates")
        assert (now.primary_version, now.candidate_version) == (1, 2)
        # The card fixed, the same approval carries the promotion, and is spent by it.
        sws.models.update_card("fraud@2", {"owners": card["owners"]})
        promoted = sws.deployments.promote("gov-gates", reason="looked fine")
        assert (promoted.primary_version, promoted.candidate_version) == (2, None)
        assert _approval_status(sws, request_id) == "used"
    finally:
        sws.models.update_card("fraud@2", {"owners": card["owners"]})
        sws.deployments.stop("gov-gates")


MODEL_POLICY = """policies:
  - name: prod-promotions-need-approval
    actions: [model.promote]
    when: 'object.environment == "prod"'
    allow: approved
    message: promotions in prod need an approval
    approval: true
"""


def test_a_prod_promotion_the_model_policies_refuse_leaves_the_deployment_approval_unspent(
    sws: Workspace, serving_home: Path, policy: Path
) -> None:
    """Full traffic asks two sets of policies: the deployment's, then the model's. The first
    one's approval is spent only with the second's consent."""
    sws.deployments.deploy("fraud@1", "gov-two", stage="prod")
    model_policy = policy.parent / "prod-promotions.yaml"
    try:
        with pytest.raises(PolicyDenied) as denied:
            sws.deployments.deploy("fraud@2", "gov-two", canary=10)
        _approve(serving_home, sws, denied.value)
        sws.deployments.deploy("fraud@2", "gov-two", canary=10)
        with pytest.raises(PolicyDenied) as denied:
            sws.deployments.promote("gov-two", reason="looked fine")
        deployment_request = str(denied.value.request_id)
        _approve(serving_home, sws, denied.value)
        model_policy.write_text(MODEL_POLICY, encoding="utf-8")
        with pytest.raises(PolicyDenied, match="prod-promotions-need-approval") as refused:
            sws.deployments.promote("gov-two", reason="looked fine")
        assert _approval_status(sws, deployment_request) == "approved"
        now = sws.deployments.get("gov-two")
        assert (now.primary_version, now.candidate_version) == (1, 2)
        _approve(serving_home, sws, refused.value)
        promoted = sws.deployments.promote("gov-two", reason="looked fine")
        assert (promoted.primary_version, promoted.candidate_version) == (2, None)
        assert _approval_status(sws, deployment_request) == "used"
        assert _approval_status(sws, str(refused.value.request_id)) == "used"
    finally:
        model_policy.unlink(missing_ok=True)
        sws.deployments.stop("gov-two")
