"""Versions behind one deployment: a swap under load fails no request; a canary is sticky by
entity; a shadow is scored and logged but never answers; promote and rollback move traffic;
a prod deployment needs what its policy asks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from goldenpath.core.errors import Conflict, PolicyDenied
from goldenpath.registry.service import GatesFailed
from goldenpath.serving.traffic import bucket
from goldenpath.workspace import Workspace
from tests.serving.conftest import post

BODY = {"entities": {"user_id": 7}, "request": {"currency": "EUR"}}


def _version(url: str, user: int) -> int:
    body = {"entities": {"user_id": user}, "request": {"currency": "EUR"}}
    response = post(f"{url}/v1/predict", body)
    assert response.status_code == 200, response.text
    return int(response.json()["model_version"])


def test_swap_under_load_fails_no_request(sws: Workspace) -> None:
    info = sws.deployments.deploy("fraud@1", "swap-api")
    try:
        statuses: Counter[int] = Counter()
        versions: Counter[int] = Counter()
        stop = threading.Event()

        def client() -> None:
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    try:
                        r = http.post(f"{info.url}/v1/predict", json=BODY)
                    except httpx.HTTPError as exc:  # a refused connection counts as a failure
                        statuses[type(exc).__name__] += 1  # type: ignore[index]
                        continue
                    statuses[r.status_code] += 1
                    if r.status_code == 200:
                        versions[r.json()["model_version"]] += 1

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        swapped = sws.deployments.deploy("fraud@2", "swap-api")
        assert swapped.primary_version == 2 and swapped.previous_version == 1
        time.sleep(0.5)
        back = sws.deployments.rollback("swap-api")
        assert back.primary_version == 1
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        assert set(statuses) == {200}, statuses
        assert versions[1] > 0 and versions[2] > 0, versions
        assert sum(statuses.values()) > 100
    finally:
        sws.deployments.stop("swap-api")


def test_canary_is_sticky_by_entity_then_promote_and_rollback(sws: Workspace) -> None:
    info = sws.deployments.deploy("fraud@1", "canary-api")
    try:
        with pytest.raises(Conflict, match="must differ"):
            sws.deployments.deploy("fraud@1", "canary-api", canary=10)
        canary = sws.deployments.deploy("fraud@2", "canary-api", canary=30)
        assert (canary.primary_version, canary.candidate_version) == (1, 2)
        assert canary.candidate_mode == "canary" and canary.canary_percent == 30
        seen = {user: _version(info.url, user) for user in range(1, 61)}
        for user, version in seen.items():
            assert version == (2 if bucket({"user_id": user}) < 30 else 1)
            assert _version(info.url, user) == version  # sticky
        share = sum(v == 2 for v in seen.values()) / len(seen)
        assert 0.1 < share < 0.5
        metrics = httpx.get(f"{info.url}/metrics").text
        assert 'role="canary"' in metrics and 'model_version="2"' in metrics
        back = sws.deployments.rollback("canary-api")
        assert back.candidate_version is None and back.primary_version == 1
        assert {_version(info.url, u) for u in range(1, 30)} == {1}
        sws.deployments.deploy("fraud@2", "canary-api", canary=50)
        # Promoting goes through the registry's gates: fraud@2 (C=0.05) may regress.
        try:
            promoted = sws.deployments.promote("canary-api", reason="canary looked fine")
        except GatesFailed:
            pytest.skip("fraud@2 did not pass the no-regression gate on this data")
        assert promoted.primary_version == 2 and promoted.candidate_version is None
        assert sws.models.get("fraud@champion").version == 2
        assert {_version(info.url, u) for u in range(1, 30)} == {2}
        events = [e["action"] for e in sws.deployments.get("canary-api", events=True).events or []]
        assert events == ["deploy", "canary", "rollback", "canary", "promote"]
    finally:
        sws.deployments.stop("canary-api")


def test_shadow_is_logged_never_returned(sws: Workspace) -> None:
    info = sws.deployments.deploy("fraud@1", "shadow-api")
    try:
        sws.deployments.deploy("fraud@2", "shadow-api", shadow=True)
        answers = [
            post(
                f"{info.url}/v1/predict",
                {"entities": {"user_id": u}, "request": {"currency": "EUR"}},
            )
            for u in range(1, 21)
        ]
        assert {a.json()["model_version"] for a in answers} == {1}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            logged = sws.predictions.tail("shadow-api", 100)
            if sum(p["role"] == "shadow" for p in logged) >= 20:
                break
            time.sleep(0.2)
        shadows = [p for p in logged if p["role"] == "shadow"]
        assert len(shadows) >= 20 and all(
            not p["returned"] and p["model_version"] == 2 for p in shadows
        )
        primary = [p for p in logged if p["role"] == "primary"]
        answered = {a.json()["request_id"] for a in answers}
        assert answered <= {p["request_id"] for p in primary}
    finally:
        sws.deployments.stop("shadow-api")


def test_a_prod_deployment_needs_its_policy_approval(sws: Workspace, serving_home: Path) -> None:
    policies = serving_home / "policies"
    policies.mkdir(exist_ok=True)
    (policies / "deploys.yaml").write_text(
        """policies:
  - name: prod-deploys-need-approval
    actions: [deployment.create]
    when: 'object.environment == "prod"'
    allow: 'approved && object.model.metrics.roc_auc >= 0.5'
    message: deployments to prod need an approval
    approval: true
""",
        encoding="utf-8",
    )
    try:
        with pytest.raises(PolicyDenied, match="prod-deploys-need-approval") as denied:
            sws.deployments.deploy("fraud@1", "prod-api", stage="prod")
        with pytest.raises(Exception, match="no deployment"):
            sws.deployments.get("prod-api")
        request_id = str(denied.value.hint).rsplit(" ", 1)[-1]
        import goldenpath

        if not any(p.name == "carol" for p in sws.principals.list()):
            sws.principals.add("carol")
            sws.access.grant("approver", "carol")
        with goldenpath.connect(serving_home, actor="carol") as carol:
            carol.policies.approve(request_id)
        info = sws.deployments.deploy("fraud@1", "prod-api", stage="prod")
        assert info.stage == "prod" and info.status == "running"
        sws.deployments.stop("prod-api")
        # The approval was for fraud@1: fraud@2 needs one of its own.
        with pytest.raises(PolicyDenied):
            sws.deployments.deploy("fraud@2", "prod-api", stage="prod")
    finally:
        (policies / "deploys.yaml").unlink()
