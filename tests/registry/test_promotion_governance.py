"""What guards champion: removing it outside a promotion needs what --force needs (so a
maintainer cannot empty it and then pass the no-regression gate as "no champion yet"); the
policies on model.promote are asked before every alias move and see which alias moves; a
forced promotion still meets them and their approvals."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from sqlalchemy import select

import goldenpath
from goldenpath import InvalidInput, PermissionDenied
from goldenpath.core.errors import PolicyDenied
from goldenpath.registry.service import GatesFailed
from goldenpath.store.tables import audit_events
from tests.conftest import write
from tests.registry.conftest import NUMERIC, fitted, frame
from tests.registry.test_service import as_
from tests.server.conftest import serving

NO_REGRESSION = {"no_regression": {"metric": "roc_auc", "margin": 0.01}}


def _champion_and_a_worse_candidate(ws: goldenpath.Workspace) -> None:
    """fraud@1 (good) is champion; fraud@2 was trained on shuffled labels."""
    model, validation = fitted("gradient_boosting")
    ws.models.register(
        "fraud", model, validation=validation, label="label", task="classification",
        gates=NO_REGRESSION,
    )  # fmt: skip
    ws.models.promote("fraud@1")
    data = frame()
    worse = data.assign(label=np.random.default_rng(3).permutation(data["label"].to_numpy()))
    bad, _ = fitted("logistic_regression", worse)
    ws.models.register(
        "fraud", bad, validation=data[NUMERIC].assign(label=data["label"]), label="label",
        task="classification", gates=NO_REGRESSION,
    )  # fmt: skip


def test_a_maintainer_cannot_remove_champion_over_http_to_skip_the_gate(
    ws: goldenpath.Workspace,
) -> None:
    _champion_and_a_worse_candidate(ws)
    maintainer = as_(ws, "mia", "maintainer")
    token = ws.principals.create_token("mia", expires_in="1h").secret
    with serving(ws) as url:
        answer = httpx.post(
            f"{url}/api/v1/models/fraud/aliases",
            json={"alias": "champion", "delete": True},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "model.promote_force" in answer.json()["detail"]
        with (
            goldenpath.connect(url, token=token) as remote,
            pytest.raises(PermissionDenied, match=r"model\.promote_force"),
        ):
            remote.models.delete_alias("fraud", "champion", reason="cleanup")
    assert ws.models.get("fraud@champion").version == 1
    with pytest.raises(GatesFailed, match="vs champion fraud@1"):
        maintainer.models.promote("fraud@2")
    assert ws.models.get("fraud@champion").version == 1
    # Other aliases are still a maintainer's to remove.
    maintainer.models.alias("fraud@2", "challenger")
    assert maintainer.models.delete_alias("fraud", "challenger").from_version == 2
    maintainer.close()


def test_removing_champion_is_a_forced_change_with_a_reason(ws: goldenpath.Workspace) -> None:
    _champion_and_a_worse_candidate(ws)
    with pytest.raises(InvalidInput, match="needs a reason"):
        ws.models.delete_alias("fraud", "champion")
    assert ws.models.get("fraud@champion").version == 1
    move = ws.models.delete_alias("fraud", "champion", reason="incident 7: fraud@1 leaks")
    assert (move.from_version, move.to_version, move.forced) == (1, None, True)
    assert ws.models.alias_history("fraud")[-1].reason == "incident 7: fraud@1 leaks"
    with ws.store.connect() as conn:
        event = conn.execute(
            select(audit_events).where(audit_events.c.action == "model.alias_delete")
        ).one()
    details = json.loads(event.details) if isinstance(event.details, str) else event.details
    assert details["forced"] is True and details["reason"].startswith("incident 7")


def test_promotion_policies_see_every_alias_move(ws: goldenpath.Workspace) -> None:
    folder = ws.stack.home / "policies"
    folder.mkdir(exist_ok=True)
    write(
        folder / "aliases.yaml",
        "policies:\n"
        "  - name: champion-stays\n"
        "    actions: [model.promote]\n"
        '    when: \'object.alias == "champion" && object.change == "delete"\'\n'
        "    allow: approved\n"
        "    message: removing champion needs a sign-off\n"
        "    approval: true\n"
        "  - name: staging-holds-only-newer\n"
        "    actions: [model.promote]\n"
        "    when: 'object.alias == \"staging\"'\n"
        "    allow: 'object.version > object.aliases.champion'\n"
        "    message: staging must be newer than champion\n",
    )
    _champion_and_a_worse_candidate(ws)
    with pytest.raises(PolicyDenied, match="staging-holds-only-newer"):
        ws.models.alias("fraud@1", "staging")
    assert ws.models.alias("fraud@2", "staging").to_version == 2
    with pytest.raises(PolicyDenied, match="champion-stays") as denied:
        ws.models.delete_alias("fraud", "champion", reason="try")
    assert ws.models.get("fraud@champion").version == 1
    approver = as_(ws, "carol", "approver")
    approver.policies.approve(denied.value.request_id)
    assert ws.models.delete_alias("fraud", "champion", reason="try").from_version == 1
    approver.close()


def test_force_overrides_gates_never_a_policy(ws: goldenpath.Workspace) -> None:
    folder = ws.stack.home / "policies"
    folder.mkdir(exist_ok=True)
    write(
        folder / "forced.yaml",
        "policies:\n"
        "  - name: forced-needs-approval\n"
        "    actions: [model.promote]\n"
        "    when: object.forced\n"
        "    allow: approved\n"
        "    message: a forced promotion needs an approver's sign-off\n"
        "    approval: true\n",
    )
    _champion_and_a_worse_candidate(ws)
    with pytest.raises(PolicyDenied, match="forced-needs-approval") as denied:
        ws.models.promote("fraud@2", force=True, reason="drill")
    assert ws.models.get("fraud@champion").version == 1
    request = ws.policies.approvals()[0]
    assert request.attributes["forced"] is True and request.attributes["gates_passed"] is False
    approver = as_(ws, "carol", "approver")
    approver.policies.approve(denied.value.request_id)
    done = ws.models.promote("fraud@2", force=True, reason="drill")
    assert done.forced and ws.models.get("fraud@champion").version == 2
    approver.close()
