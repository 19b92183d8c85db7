"""What ``gp deploy`` checks about what it will serve: a model whose feature view has no fresh
online value (the quickstart's sample data ends weeks before today, past the 30-day TTL) is
deployed with a warning under dev, refused under prod with nothing changed, and deployed
silently once values are fresh; the curl line it prints runs as it is."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

import goldenpath
from goldenpath.serving.deploy_checks import StaleFeaturesWarning
from goldenpath.store.tables import audit_events, deployments
from goldenpath.workspace import online_namespace
from tests.features.online.conftest import REDIS_URL, redis_or_skip
from tests.serving.conftest import EXAMPLE, PROJECT_FILES, post
from tests.serving.test_cli_deploy import gp

USERS_IN_SAMPLE = 491  # distinct user_id in docs/examples/fraud/transactions.csv


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def stale_home(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The example project trained and materialised, and nothing pushed: every online value
    of user_tx is older than its 30-day TTL (on each online store)."""
    online = "sqlite" if request.param == "sqlite" else redis_or_skip()
    home = tmp_path_factory.mktemp(f"stale-{request.param}") / "home"
    project = home.parent / "fraud"
    project.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(EXAMPLE / name, project / name)
    with goldenpath.connect(home, actor="alice", online=online, create=True) as ws:
        namespace = online_namespace(ws.stack.metadata)
        ws.datasets.ingest(
            "transactions",
            project / "transactions.csv",
            contract=project / "transactions.contract.yaml",
        )
        ws.features.apply(project / "features.py")
        ws.training.train(project)
        ws.features.materialize()
    yield home
    from goldenpath.serving import local

    for folder in (home / "deployments").glob("*"):
        local.stop(folder, timeout=10)
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(online)
        for key in client.scan_iter(match=namespace + "*", count=1000):
            client.unlink(key)
        client.close()


def _counts(home: Path) -> tuple[int, int]:
    with goldenpath.connect(home, actor="alice") as ws, ws.store.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(deployments)).scalar_one(),
            conn.execute(select(func.count()).select_from(audit_events)).scalar_one(),
        )


def test_a_dev_deploy_over_expired_features_warns_and_says_what_to_run(
    stale_home: Path, tmp_path: Path
) -> None:
    deployed = gp(stale_home, "deploy", "fraud@1", "--name", "stale-api", "--json", cwd=tmp_path)
    try:
        assert deployed.returncode == 0, deployed.stderr
        warning = (
            f"warning: feature view user_tx has no fresh online values (0 of "
            f"{USERS_IN_SAMPLE} entities fresh, ttl 30d)"
        )
        assert warning in " ".join(deployed.stderr.split()), deployed.stderr
        assert "gp features materialize user_tx" in deployed.stderr
        assert "gp features push user_tx FILE" in deployed.stderr
        info = json.loads(deployed.stdout)
        assert info["status"] == "running"
        with goldenpath.connect(stale_home, actor="alice") as ws:
            assert ws.stack.online == ("sqlite" if "stale-sqlite" in str(stale_home) else REDIS_URL)
        assert info["freshness"] == [
            {
                "view": "user_tx",
                "features": ["amount", "amount_mean_7d", "tx_count_1h"],
                "materialized": True,
                "entities_checked": USERS_IN_SAMPLE,
                "entities_fresh": 0,
                "more": False,
                "ttl_seconds": 30 * 86_400,
                "fresh": False,
                "sample": info["freshness"][0]["sample"],
            }
        ]
        assert len(info["warnings"]) == 1
        # What the warning predicted: the example request meets an expired feature.
        example = info["example"]
        answer = post(f"{info['url']}{example['path']}", example["body"])
        assert answer.status_code == 422 and "(expired)" in answer.text
    finally:
        gp(stale_home, "deployments", "stop", "stale-api")


def test_the_sdk_warns_as_python_warns(stale_home: Path) -> None:
    with goldenpath.connect(stale_home, actor="alice") as ws:
        with pytest.warns(StaleFeaturesWarning, match=f"0 of {USERS_IN_SAMPLE} entities fresh"):
            info = ws.deployments.deploy("fraud@1", "stale-sdk")
        try:
            assert info.warnings and "gp features push user_tx FILE" in info.warnings[0]
            assert info.freshness is not None and info.freshness[0]["fresh"] is False
        finally:
            ws.deployments.stop("stale-sdk")


def test_a_prod_deploy_over_expired_features_is_refused_with_nothing_changed(
    stale_home: Path, tmp_path: Path
) -> None:
    before = _counts(stale_home)
    refused = gp(
        stale_home, "deploy", "fraud@1", "--name", "stale-prod", "--stage", "prod", cwd=tmp_path
    )
    assert refused.returncode == 5, refused.stderr
    text = " ".join(refused.stderr.split())
    assert "error: prod deployment stale-prod refused" in text, text
    assert f"user_tx: 0 of {USERS_IN_SAMPLE} entities fresh, ttl 30d" in text
    assert "hint: refresh first, then deploy again: gp features materialize user_tx" in text
    assert "Traceback" not in refused.stderr
    assert _counts(stale_home) == before
    assert not (stale_home / "deployments" / "stale-prod").exists()
    with goldenpath.connect(stale_home, actor="alice") as ws:
        assert "stale-prod" not in [d.name for d in ws.deployments.list()]


def test_fresh_features_deploy_silently_and_the_printed_curl_runs(
    serving_home: Path, tmp_path: Path
) -> None:
    """The serving workspace pushed fresh rows for users 1..100."""
    deployed = gp(serving_home, "deploy", "fraud@1", "--name", "curl-api", cwd=tmp_path)
    try:
        assert deployed.returncode == 0, deployed.stderr
        assert "warning" not in deployed.stderr, deployed.stderr
        assert re.search(r"features: user_tx fresh for 100 of \d+ entities", deployed.stdout)
        line = next(x for x in deployed.stdout.splitlines() if x.startswith("try: curl -s -X POST"))
        command = line.removeprefix("try: ")
        assert "{...}" not in command and "..." not in command
        words = shlex.split(command)
        body = json.loads(words[words.index("-d") + 1])
        assert set(body) == {"entities", "request"}
        assert 1 <= body["entities"]["user_id"] <= 100  # a fresh entity, as its key's type
        assert body["request"]["currency"] in ("EUR", "USD", "GBP")  # the signature's field
        url = next(w for w in words if w.startswith("http://127.0.0.1:"))
        answer = httpx.post(url, content=body and json.dumps(body), timeout=10)
        assert answer.status_code == 200, answer.text
        assert all(f["status"] == "present" for f in answer.json()["features"].values())
        if shutil.which("curl"):  # the line itself, as a user pastes it
            ran = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
            assert ran.returncode == 0, ran.stderr
            assert json.loads(ran.stdout)["model"] == "fraud"
    finally:
        gp(serving_home, "deployments", "stop", "curl-api")
