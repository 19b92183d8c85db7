"""A deployment acts as itself: a service principal created at deploy (owned by the deployer,
granted only the serving role), whose grants its inference server re-reads every
``limits.deployment_grants_reload_seconds``. Revoking or disabling it stops its feature reads
(503, said in gp deployments status); revoking the deployer does not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import goldenpath
from goldenpath.core.errors import Conflict
from goldenpath.governance.roles import ROLES, SERVING_ROLE
from goldenpath.serving.service import principal_name
from goldenpath.workspace import Workspace
from tests.serving.conftest import post, problem, v2_inputs

PREDICT = {"entities": {"user_id": 3}, "request": {"currency": "EUR"}}
RELOAD_SECONDS = 0.5


@pytest.fixture
def reloading(sws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The serving workspace, whose inference servers re-read their grants twice a second."""
    monkeypatch.setenv("GP_LIMIT_DEPLOYMENT_GRANTS_RELOAD_SECONDS", str(RELOAD_SECONDS))
    yield sws


def until(check: Callable[[], Any], seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "the server did not change within the time"
        time.sleep(0.1)


def test_a_deployment_acts_as_its_own_principal_and_stops_when_it_is_revoked(
    reloading: Workspace,
) -> None:
    ws = reloading
    info = ws.deployments.deploy("fraud@1", "t-identity")
    try:
        own = principal_name("t-identity")
        assert info.settings["principal"] == own == "deploy-t-identity"
        principal = next(p for p in ws.principals.list() if p.name == own)
        assert principal.kind == "service" and principal.owner == "alice"
        grants = [(g.role, g.scope_kind, g.scope_name) for g in ws.access.list(principal=own)]
        assert grants == [(SERVING_ROLE, "project", info.project)]
        assert not {"deployment.deploy", "dataset.write"} & ROLES[SERVING_ROLE]
        assert post(f"{info.url}/v1/predict", PREDICT).status_code == 200

        ws.access.revoke(SERVING_ROLE, own, project=info.project)
        refused = until(
            lambda: (r := post(f"{info.url}/v1/predict", PREDICT)).status_code == 503 and r
        )
        doc = problem(refused, 503, "features")
        assert "may not read online features" in doc["detail"], doc
        assert until(lambda: ws.deployments.get("t-identity").live["identity"])
        assert "revoked" in ws.deployments.get("t-identity").live["identity"]
        # What needs no feature still answers.
        infer = post(f"{info.url}/v2/models/fraud/infer", {"inputs": v2_inputs()})
        assert infer.status_code == 200, infer.text

        ws.access.grant(SERVING_ROLE, own, project=info.project)
        until(lambda: post(f"{info.url}/v1/predict", PREDICT).status_code == 200)
        until(lambda: ws.deployments.get("t-identity").live["identity"] is None)

        ws.principals.disable(own)
        until(lambda: post(f"{info.url}/v1/predict", PREDICT).status_code == 503)
        assert "disabled" in until(lambda: ws.deployments.get("t-identity").live["identity"])
        log = ws.deployments.logs("t-identity")
        assert f"the deployment's principal {own} is disabled or expired" in log
    finally:
        ws.deployments.stop("t-identity")


def test_revoking_the_deployer_leaves_the_deployment_serving(
    reloading: Workspace, serving_home: Any
) -> None:
    ws = reloading
    project = ws.models.get("fraud@1").project
    ws.principals.add("deployer-dan")
    ws.access.grant("maintainer", "deployer-dan", project=project)
    with goldenpath.connect(serving_home, actor="deployer-dan") as dan:
        info = dan.deployments.deploy("fraud@1", "t-identity-dan")
    try:
        principal = next(p for p in ws.principals.list() if p.name == "deploy-t-identity-dan")
        assert principal.owner == "deployer-dan"
        ws.access.revoke("maintainer", "deployer-dan", project=project)
        time.sleep(RELOAD_SECONDS * 4)  # a few re-reads of the grants
        answer = post(f"{info.url}/v1/predict", PREDICT)
        assert answer.status_code == 200, answer.text
    finally:
        ws.deployments.stop("t-identity-dan")


def test_a_principal_of_the_name_that_is_not_the_deployments_own_is_refused(
    sws: Workspace,
) -> None:
    sws.principals.add("deploy-t-squatted", kind="service")
    with pytest.raises(Conflict, match="not deployment t-squatted's own"):
        sws.deployments.deploy("fraud@1", "t-squatted")
    assert "t-squatted" not in [d.name for d in sws.deployments.list()]


def test_a_long_deployment_name_gets_a_valid_unique_principal_name() -> None:
    long_a, long_b = "a" * 62 + "x", "a" * 62 + "y"
    names = {principal_name(long_a), principal_name(long_b)}
    assert len(names) == 2
    assert all(len(n) <= 63 and n.startswith("deploy-") for n in names)
