"""Policies as code: compiled at load, fail closed, approvals unblock an action once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import goldenpath
from goldenpath import InvalidInput, NotFound, PermissionDenied
from goldenpath.core.errors import Conflict, PolicyDenied
from tests.conftest import write

POLICIES = """\
policies:
  - name: prod-deploys-need-approval
    description: Production needs an approver's sign-off and a good model.
    actions: [deployment.create]
    when: 'object.environment == "prod"'
    allow: 'approved && object.model.metrics.roc_auc >= 0.8'
    message: deployments to prod need an approval and roc_auc >= 0.8
    approval: true
  - name: restricted-data-needs-approval
    actions: ["dataset.*"]
    when: 'object.classification == "restricted"'
    allow: approved
    message: restricted data needs an approver's sign-off
    approval: true
  - name: no-admin-for-agents
    actions: [access.grant]
    allow: 'object.role != "admin" || !object.principal.startsWith("bot")'
    message: agents never get admin
"""
PROD = {"environment": "prod", "model": {"metrics": {"roc_auc": 0.91}}}


@pytest.fixture
def org(ws: goldenpath.Workspace) -> Iterator[goldenpath.Workspace]:
    """Policies in place; bob contributes to 'fraud', carol approves there."""
    write_policies(ws, POLICIES)
    ws.access.create_project("fraud")
    for name, role in (("bob", "contributor"), ("carol", "approver")):
        ws.principals.add(name)
        ws.access.grant(role, name, project="fraud")
    yield ws


def write_policies(ws: goldenpath.Workspace, text: str) -> None:
    folder = ws.stack.home / "policies"
    folder.mkdir(exist_ok=True)
    write(folder / "main.yaml", text)


def as_(ws: goldenpath.Workspace, who: str) -> goldenpath.Workspace:
    return goldenpath.connect(ws.stack.home, metadata=ws.stack.metadata, actor=who, project="fraud")


def test_a_prod_deploy_is_denied_without_approval_and_allowed_after_one(
    org: goldenpath.Workspace,
) -> None:
    bob, carol = as_(org, "bob"), as_(org, "carol")
    with pytest.raises(PolicyDenied) as denied:
        bob.policies.enforce("deployment.create", "fraud-api", PROD, project="fraud")
    assert denied.value.policy == "prod-deploys-need-approval"
    assert "need an approval" in denied.value.message
    request = denied.value.request_id
    assert request and f"gp approve {request}" in (denied.value.hint or "")
    with pytest.raises(PolicyDenied) as again:  # asking twice reuses the pending request
        bob.policies.enforce("deployment.create", "fraud-api", PROD, project="fraud")
    assert again.value.request_id == request
    org.access.grant("approver", "bob", project="fraud")  # bob may approve, but not himself
    with pytest.raises(PermissionDenied, match="your own request"):
        as_(org, "bob").policies.approve(request)
    assert carol.policies.approve(request, reason="model card reviewed").status == "approved"
    with pytest.raises(Conflict, match="already approved"):
        carol.policies.approve(request)
    bob.policies.enforce("deployment.create", "fraud-api", PROD, project="fraud")  # allowed
    assert org.policies.get(request).status == "used"
    with pytest.raises(PolicyDenied):  # an approval is good for one action
        bob.policies.enforce("deployment.create", "fraud-api", PROD, project="fraud")
    staging = {**PROD, "environment": "staging"}
    bob.policies.enforce("deployment.create", "fraud-api", staging, project="fraud")
    actions = [e.action for e in org.audit.list(limit=20)]
    assert {"policy.deny", "approval.request", "approval.approve", "approval.use"} <= set(actions)


def test_a_weak_model_is_denied_even_with_approval(org: goldenpath.Workspace) -> None:
    weak = {"environment": "prod", "model": {"metrics": {"roc_auc": 0.6}}}
    with pytest.raises(PolicyDenied) as denied:
        as_(org, "bob").policies.enforce("deployment.create", "x", weak, project="fraud")
    as_(org, "carol").policies.approve(denied.value.request_id or "")
    with pytest.raises(PolicyDenied, match=r"roc_auc >= 0\.8"):
        as_(org, "bob").policies.enforce("deployment.create", "x", weak, project="fraud")


def test_restricted_data_ingest_waits_for_an_approver(
    org: goldenpath.Workspace, tmp_path: Path
) -> None:
    contract = write(tmp_path / "c.yaml", "classification: restricted\n")
    data = write(tmp_path / "d.csv", "id\n1\n")
    bob = as_(org, "bob")
    with pytest.raises(PolicyDenied, match="restricted data") as denied:
        bob.datasets.ingest("patients", data, contract=contract)
    assert org.datasets.list() == []  # nothing written
    as_(org, "carol").policies.approve(denied.value.request_id or "")
    assert bob.datasets.ingest("patients", data, contract=contract).version.ref == "patients@1"
    with pytest.raises(PolicyDenied):  # the contract stays attached; the next one needs sign-off
        bob.datasets.ingest("patients", data)


def test_grant_policies_apply_to_role_grants(org: goldenpath.Workspace) -> None:
    org.principals.add(
        "bot-1", kind="agent", owner="bob", allowed_actions=["dataset.read"], expires_in="1d"
    )
    with pytest.raises(PolicyDenied, match="agents never get admin"):
        org.access.grant("admin", "bot-1")
    org.access.grant("viewer", "bot-1", project="fraud")


def test_evaluation_errors_deny_and_name_the_policy(org: goldenpath.Workspace) -> None:
    # The 'when' of restricted-data-needs-approval reads object.classification: missing here.
    with pytest.raises(PolicyDenied, match=r"restricted-data-needs-approval.*no such member"):
        org.policies.enforce("dataset.ingest", "x", {"dataset": "x"}, project="fraud")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "policies:\n  - name: bad\n    actions: [x]\n    allow: 'approved &&'\n"
            "    message: m\n",
            "main.yaml: policy 'bad' (allow): CEL does not compile",
        ),
        (
            "policies:\n  - name: bad\n    actions: [x]\n    when: 'object.'\n    allow: 'true'\n"
            "    message: m\n",
            "policy 'bad' (when): CEL does not compile",
        ),
        (
            "policies:\n  - name: bad\n    actions: [x]\n    allow: 'true'\n    mesage: m\n",
            "main.yaml:5: policies.0.mesage",
        ),
        (
            "policies:\n  - name: Bad Name\n    actions: [x]\n    allow: 'true'\n    message: m\n",
            "main.yaml:2: policies.0.name",
        ),
    ],
)
def test_broken_policies_fail_at_load_with_name_and_line(
    ws: goldenpath.Workspace, text: str, expected: str
) -> None:
    write_policies(ws, text)
    with pytest.raises(InvalidInput) as caught:
        ws.policies.list()
    assert expected in caught.value.message


def test_gp_policy_test_and_list(org: goldenpath.Workspace, tmp_path: Path) -> None:
    gp = Path(sys.executable).parent / "gp"
    env = {
        **os.environ,
        "GP_HOME": str(org.stack.home),
        "GP_METADATA": org.stack.metadata,
        "GP_ACTOR": "alice",
    }
    sample = write(
        tmp_path / "s.json",
        json.dumps({"action": "deployment.create", "object": PROD, "approved": False}),
    )
    denied = subprocess.run(
        [str(gp), "policy", "test", "prod-deploys-need-approval", "--input", str(sample)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert denied.returncode == 3 and "deny" in denied.stdout
    write(sample, json.dumps({"action": "deployment.create", "object": PROD, "approved": True}))
    allowed = subprocess.run(
        [str(gp), "policy", "test", "prod-deploys-need-approval", "--input", str(sample)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert allowed.returncode == 0 and "allow" in allowed.stdout
    listed = subprocess.run(
        [str(gp), "policy", "list", "--json"], env=env, capture_output=True, text=True
    )
    assert [p["name"] for p in json.loads(listed.stdout)] == [
        "prod-deploys-need-approval",
        "restricted-data-needs-approval",
        "no-admin-for-agents",
    ]
    bad = write(tmp_path / "bad.json", "{not json")
    broken = subprocess.run(
        [str(gp), "policy", "test", "no-admin-for-agents", "--input", str(bad)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert broken.returncode == 2 and broken.stderr.startswith("error: ")


def test_a_policy_denial_over_http_carries_its_request(
    org: goldenpath.Workspace, tmp_path: Path
) -> None:
    from tests.server.conftest import serving

    with serving(org) as url:
        bob = goldenpath.connect(
            url, token=org.principals.create_token("bob").secret, project="fraud"
        )
        carol = goldenpath.connect(url, token=org.principals.create_token("carol").secret)
        contract = write(tmp_path / "c.yaml", "classification: restricted\n")
        data = write(tmp_path / "d.csv", "id\n1\n")
        with pytest.raises(PolicyDenied) as denied:
            bob.datasets.ingest("patients", data, contract=contract)
        assert denied.value.policy == "restricted-data-needs-approval"
        assert denied.value.request_id
        assert [a.id for a in carol.policies.approvals("pending")] == [denied.value.request_id]
        carol.policies.approve(denied.value.request_id)
        assert bob.datasets.ingest("patients", data, contract=contract).version.version == 1
        with pytest.raises(PolicyDenied) as held:
            bob.policies.check("deployment.create", "fraud-api@prod", PROD, project="fraud")
        carol.policies.approve(held.value.request_id or "")
        checked = bob.policies.check("deployment.create", "fraud-api@prod", PROD, project="fraud")
        assert checked.allowed and checked.evaluated == ("prod-deploys-need-approval",)


def test_an_external_deploy_is_checked_approved_once_and_audited(
    org: goldenpath.Workspace,
) -> None:
    bob, carol = as_(org, "bob"), as_(org, "carol")
    with pytest.raises(PolicyDenied) as denied:
        bob.policies.check("deployment.create", "fraud-api@prod", PROD, project="fraud")
    request = denied.value.request_id
    assert denied.value.policy == "prod-deploys-need-approval" and request
    carol.policies.approve(request)
    # The approver cannot carry the action out under the request she signed off.
    with pytest.raises(PolicyDenied) as own:
        carol.policies.check("deployment.create", "fraud-api@prod", PROD, project="fraud")
    assert own.value.request_id not in (None, request)
    decision = bob.policies.check("deployment.create", "fraud-api@prod", PROD, project="fraud")
    assert decision.allowed and decision.evaluated == ("prod-deploys-need-approval",)
    with pytest.raises(PolicyDenied):  # an approval is used once
        bob.policies.check("deployment.create", "fraud-api@prod", PROD, project="fraud")
    staging = {**PROD, "environment": "staging"}
    assert bob.policies.check(
        "deployment.create", "fraud-api@staging", staging, project="fraud"
    ).allowed
    events = [(e.actor, e.action) for e in org.audit.list(action="policy.")]
    assert events.count(("bob", "policy.allow")) == 2
    assert events.count(("bob", "policy.deny")) == 2


@pytest.mark.parametrize(
    ("action", "object_ref", "attributes", "project", "error", "match"),
    [
        ("Deploy!", "x", {}, "fraud", InvalidInput, "invalid action"),
        ("deployment", "x", {}, "fraud", InvalidInput, "invalid action"),
        ("deployment.create", "has space", {}, "fraud", InvalidInput, "invalid object"),
        ("deployment.create", "", {}, "fraud", InvalidInput, "invalid object"),
        ("deployment.create", "x" * 257, {}, "fraud", InvalidInput, "invalid object"),
        ("deployment.create", "x", [1], "fraud", InvalidInput, "JSON object"),
        ("deployment.create", "x", {"a": "b" * 70_000}, "fraud", InvalidInput, "larger"),
        ("deployment.create", "x", {}, "Bad Name", InvalidInput, "project name"),
        ("deployment.create", "x", {}, "nosuch", NotFound, "no project"),
        ("deployment.create", "x", {}, "default", PermissionDenied, "may not policy.read"),
    ],
)
def test_a_bad_check_is_refused_and_records_nothing(
    org: goldenpath.Workspace,
    action: str,
    object_ref: str,
    attributes: Any,
    project: str,
    error: type[Exception],
    match: str,
) -> None:
    # Only someone who may read every project learns that one does not exist.
    who = "alice" if error is NotFound else "bob"
    before = len(org.audit.list(limit=1000))
    with pytest.raises(error, match=match):
        as_(org, who).policies.check(action, object_ref, attributes, project=project)
    assert len(org.audit.list(limit=1000)) == before
    assert org.policies.approvals() == []


def test_gp_policy_check_denies_until_approved(org: goldenpath.Workspace, tmp_path: Path) -> None:
    gp = Path(sys.executable).parent / "gp"
    env = {**os.environ, "GP_HOME": str(org.stack.home), "GP_METADATA": org.stack.metadata}
    attributes = write(tmp_path / "model.json", json.dumps({"model": {"name": "fraud"}}))
    check = [
        str(gp),
        "-p",
        "fraud",
        "policy",
        "check",
        "deployment.create",
        "fraud-api@prod",
        "--attributes",
        str(attributes),
        "--attr",
        "environment=prod",
        "--attr",
        "model.metrics.roc_auc=0.91",
    ]
    denied = subprocess.run(check, env={**env, "GP_ACTOR": "bob"}, capture_output=True, text=True)
    assert denied.returncode == 3, denied.stderr
    assert "prod-deploys-need-approval" in denied.stderr
    request = json.loads(
        subprocess.run(
            [str(gp), "approvals", "list", "--json"],
            env={**env, "GP_ACTOR": "carol"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]
    assert request["attributes"]["model"] == {"name": "fraud", "metrics": {"roc_auc": 0.91}}
    assert f"gp approve {request['id']}" in denied.stderr
    subprocess.run(
        [str(gp), "approve", request["id"]],
        env={**env, "GP_ACTOR": "carol"},
        capture_output=True,
        check=True,
    )
    allowed = subprocess.run(check, env={**env, "GP_ACTOR": "bob"}, capture_output=True, text=True)
    assert allowed.returncode == 0, allowed.stderr
    assert "allow: deployment.create on fraud-api@prod" in allowed.stdout
    for bad, message in (
        (["--attr", "novalue"], "invalid --attr"),
        (["--attr", "environment.x=1"], "already a value"),
        (["--attributes", str(write(tmp_path / "list.json", "[1]"))], "JSON object"),
    ):
        refused = subprocess.run(
            [*check, *bad], env={**env, "GP_ACTOR": "bob"}, capture_output=True, text=True
        )
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr


def test_an_approval_covers_exactly_what_was_approved(org: goldenpath.Workspace) -> None:
    bob, carol = as_(org, "bob"), as_(org, "carol")
    with pytest.raises(PolicyDenied) as denied:
        bob.policies.check("deployment.create", "fraud-api@prod", PROD, project="fraud")
    approved = denied.value.request_id or ""
    carol.policies.approve(approved)
    other_model = {**PROD, "model": {"metrics": {"roc_auc": 0.95}, "version": 7}}
    with pytest.raises(PolicyDenied) as again:  # another model under the same name
        bob.policies.check("deployment.create", "fraud-api@prod", other_model, project="fraud")
    assert again.value.request_id not in (None, approved)
    with pytest.raises(PolicyDenied) as reused:  # asking again reuses the pending request
        bob.policies.check("deployment.create", "fraud-api@prod", other_model, project="fraud")
    assert reused.value.request_id == again.value.request_id
    reordered = {"model": PROD["model"], "environment": "prod"}  # same attributes
    assert bob.policies.check(
        "deployment.create", "fraud-api@prod", reordered, project="fraud"
    ).allowed
    statuses = {a.id: a.status for a in bob.policies.approvals()}
    assert statuses == {approved: "used", again.value.request_id: "pending"}
    # A secret in the attributes is never stored; the request still matches when asked again.
    leaky = {**PROD, "feature_store": "postgresql://svc:hunter2pw@db/features"}
    with pytest.raises(PolicyDenied) as first:
        bob.policies.check("deployment.create", "fraud-api@prod", leaky, project="fraud")
    with pytest.raises(PolicyDenied) as second:
        bob.policies.check("deployment.create", "fraud-api@prod", leaky, project="fraud")
    assert first.value.request_id == second.value.request_id
    stored = [a.attributes for a in bob.policies.approvals() if a.id == first.value.request_id]
    assert "hunter2pw" not in json.dumps(stored) and "svc:***@db" in json.dumps(stored)


def test_one_approval_allows_one_of_two_racing_actions(org: goldenpath.Workspace) -> None:
    """Policies run outside the transaction now: the approval is re-checked (and used)
    inside it, so two requests relying on one approval cannot both pass."""
    bob, carol = as_(org, "bob"), as_(org, "carol")
    for round_ in range(3):
        target = f"fraud-api-{round_}@prod"
        with pytest.raises(PolicyDenied) as denied:
            bob.policies.check("deployment.create", target, PROD, project="fraud")
        carol.policies.approve(denied.value.request_id or "")
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def act(
            start: threading.Barrier = start, target: str = target, outcomes: list[str] = outcomes
        ) -> None:
            with as_(org, "bob") as racer:
                start.wait()
                try:
                    racer.policies.check("deployment.create", target, PROD, project="fraud")
                    outcomes.append("allowed")
                except PolicyDenied:
                    outcomes.append("denied")

        threads = [threading.Thread(target=act) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["allowed", "denied"]
        assert len(org.audit.list(action="approval.use")) == round_ + 1


TWO_STEPS = (
    POLICIES
    + """\
  - name: prod-promotions-need-approval
    actions: [model.promote]
    when: 'object.environment == "prod"'
    allow: approved
    message: promotions in prod need an approval
    approval: true
"""
)
PROMOTE = {"environment": "prod", "model": "fraud"}


def test_a_hold_spends_its_approval_only_with_the_action_that_completes_it(
    org: goldenpath.Workspace,
) -> None:
    """A change checked by two actions' policies (a prod promotion: the deployment's, then the
    model's) spends the first's approval only when the second allows it too."""
    write_policies(org, TWO_STEPS)
    bob, carol = as_(org, "bob"), as_(org, "carol")
    with pytest.raises(PolicyDenied) as denied:
        bob.policies.hold("deployment.create", "api@prod", PROD, project="fraud")
    first = denied.value.request_id or ""
    carol.policies.approve(first)
    held = bob.policies.hold("deployment.create", "api@prod", PROD, project="fraud")
    assert held.approval == first and org.policies.get(first).status == "approved"
    # The second action's policy refuses: the first approval is left as it was.
    with pytest.raises(PolicyDenied) as second:
        bob.policies.enforce("model.promote", "fraud@2", PROMOTE, project="fraud", holds=[held])
    assert org.policies.get(first).status == "approved"
    carol.policies.approve(second.value.request_id or "")
    bob.policies.enforce("model.promote", "fraud@2", PROMOTE, project="fraud", holds=[held])
    assert org.policies.get(first).status == "used"
    assert org.policies.get(second.value.request_id or "").status == "used"
    assert len(org.audit.list(action="approval.use")) == 2


def test_a_hold_whose_approval_was_used_meanwhile_is_asked_again_and_spends_nothing(
    org: goldenpath.Workspace,
) -> None:
    write_policies(org, TWO_STEPS)
    bob, carol = as_(org, "bob"), as_(org, "carol")
    with pytest.raises(PolicyDenied) as denied:
        bob.policies.hold("deployment.create", "api@prod", PROD, project="fraud")
    carol.policies.approve(denied.value.request_id or "")
    held = bob.policies.hold("deployment.create", "api@prod", PROD, project="fraud")
    with pytest.raises(PolicyDenied) as second:
        bob.policies.enforce("model.promote", "fraud@2", PROMOTE, project="fraud")
    carol.policies.approve(second.value.request_id or "")
    # Another request of bob's uses the first approval before the promotion completes.
    bob.policies.enforce("deployment.create", "api@prod", PROD, project="fraud")
    with pytest.raises(PolicyDenied, match="prod-deploys-need-approval"):
        bob.policies.enforce("model.promote", "fraud@2", PROMOTE, project="fraud", holds=[held])
    # The promotion's own approval was not spent with the refused change.
    assert org.policies.get(second.value.request_id or "").status == "approved"
