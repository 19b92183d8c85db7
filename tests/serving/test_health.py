"""Per-version health from the inference server's own counters: ``ws.deployments.health``,
``gp deployments status`` (a canary beside its primary) and ``gp status`` (one line per
deployment), against a real served deployment that answered known requests."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from goldenpath.serving.health import DeploymentHealth, VersionHealth, _quantile
from goldenpath.serving.traffic import bucket
from goldenpath.workspace import Workspace
from tests.serving.test_cli_deploy import gp

NAME = "health-api"
EXPIRED_USER = 398  # in the sample data, not pushed: its amount is past the 30-day TTL
UNKNOWN_USER = 424242  # not in the store at all


def _predict(client: httpx.Client, url: str, user: int) -> int:
    body = {"entities": {"user_id": user}, "request": {"currency": "EUR"}}
    return client.post(f"{url}/v1/predict", json=body).status_code


def test_health_per_version_then_side_by_side_during_a_canary(
    sws: Workspace, serving_home: Path
) -> None:
    before = datetime.now(UTC)
    info = sws.deployments.deploy("fraud@1", NAME)
    try:
        fresh = sws.deployments.health(NAME)
        assert isinstance(fresh, DeploymentHealth) and fresh.unavailable is None
        [idle] = fresh.versions
        assert (idle.version, idle.role, idle.requests) == (1, "primary", 0)
        assert idle.error_rate is None and idle.latency_p99_ms is None
        assert idle.since is not None and before <= idle.since <= datetime.now(UTC)
        assert fresh.line == "v1 primary: no requests yet"

        with httpx.Client(timeout=10) as client:
            assert [_predict(client, info.url, u) for u in range(1, 11)] == [200] * 10
            assert _predict(client, info.url, UNKNOWN_USER) == 422
            assert _predict(client, info.url, EXPIRED_USER) == 422
            assert client.get(f"{info.url}/v2/health/ready").status_code == 200  # not scoring
        read = sws.deployments.health(NAME)
        [v1] = read.versions
        assert isinstance(v1, VersionHealth)
        assert (v1.requests, v1.errors, v1.server_errors) == (12, 2, 0)
        assert v1.error_rate == pytest.approx(2 / 12) and v1.server_error_rate == 0
        # 12 requests x 3 features: the unknown user misses its amount and its 7-day mean
        # (its 1-hour count is a known 0), the expired user's amount is expired and its mean
        # missing.
        assert v1.feature_values == 36
        assert v1.missing_feature_rate == pytest.approx(3 / 36)
        assert v1.expired_feature_rate == pytest.approx(1 / 36)
        assert v1.latency_p50_ms is not None and v1.latency_p99_ms is not None
        assert 0 < v1.latency_p50_ms <= v1.latency_p99_ms < 2_500
        assert v1.since is not None
        elapsed = (read.read_at - v1.since).total_seconds()
        assert v1.requests_per_second == pytest.approx(12 / elapsed)

        sws.deployments.deploy("fraud@2", NAME, canary=50)
        users = range(1, 101)
        with httpx.Client(timeout=10) as client:
            assert {_predict(client, info.url, u) for u in users} == {200}
        to_canary = sum(1 for u in users if bucket({"user_id": u}) < 50)
        assert 0 < to_canary < 100
        split = sws.deployments.health(NAME)
        assert [(v.version, v.role) for v in split.versions] == [(1, "primary"), (2, "canary")]
        primary, canary = split.versions
        assert primary.requests == 12 + 100 - to_canary and primary.errors == 2
        assert canary.requests == to_canary and canary.errors == 0
        assert canary.missing_feature_rate == 0 and canary.expired_feature_rate == 0
        assert canary.feature_values == 3 * to_canary
        # rows scored: the two refused requests scored none
        assert (primary.rows_scored, canary.rows_scored) == (10 + 100 - to_canary, to_canary)

        shown = gp(serving_home, "deployments", "status", NAME, env={"COLUMNS": "200"})
        assert shown.returncode == 0, shown.stderr
        lines = [" ".join(w for w in x.split() if w != "│") for x in shown.stdout.splitlines()]
        header = next(x for x in lines if "v1 (primary)" in x)
        assert "v2 (canary)" in header
        assert header.index("v1 (primary)") < header.index("v2 (canary)")
        requests_row = next(x for x in lines if x.split()[:1] == ["requests"])
        assert requests_row.split()[1:] == [str(primary.requests), str(canary.requests)]
        errors_row = next(x for x in lines if x.startswith("error rate"))
        assert errors_row.split()[2:] == [f"{2 / primary.requests * 100:.1f}%", "0.0%"]
        as_json = json.loads(gp(serving_home, "deployments", "status", NAME, "--json").stdout)
        versions = as_json["health"]["versions"]
        assert [(v["version"], v["role"], v["requests"]) for v in versions] == [
            (1, "primary", primary.requests),
            (2, "canary", canary.requests),
        ]
        # gp status: the counts, and each deployment in one line with its versions' health.
        status = json.loads(gp(serving_home, "status", "--json").stdout)
        counts = status["counts"]
        assert counts["models"] == len(sws.models.list())
        assert counts["model_versions"] >= 2 and counts["runs"] >= 2
        views = [e for e in sws.features.list() if e.kind in ("feature_view", "on_demand")]
        assert counts["feature_views"] == len([e for e in views if not e.removed]) >= 1
        assert counts["deployments"] == len(sws.deployments.list())
        [line] = [d for d in status["deployments"] if d["name"] == NAME]
        assert line["status"] == "running"
        assert line["serving"] == "fraud@1, canary 50% fraud@2"
        assert line["health"].startswith("v1 primary: ") and "; v2 canary: " in line["health"]
        assert f"errors {2 / primary.requests * 100:.1f}%" in line["health"]
        text = gp(serving_home, "status", env={"COLUMNS": "400"})
        assert text.returncode == 0, text.stderr
        row = next(x for x in text.stdout.splitlines() if x.startswith(f"  {NAME} (running, "))
        assert "v1 primary: " in row and "v2 canary: " in row and "req/s" in row
        assert row.endswith("missing features 0.0%")  # the canary's, last
    finally:
        sws.deployments.stop(NAME)
    stopped = sws.deployments.health(NAME)
    assert stopped.versions == [] and stopped.unavailable == "the deployment is stopped"


def test_quantiles_interpolate_within_buckets_as_prometheus_does() -> None:
    # 10 requests: 4 under 1 ms, 4 more under 2 ms, 2 more under 5 ms
    buckets = {0.001: 4.0, 0.002: 8.0, 0.005: 10.0, float("inf"): 10.0}
    assert _quantile(0.5, buckets) == pytest.approx(1.25)  # rank 5: a quarter into (1, 2]
    assert _quantile(0.99, buckets) == pytest.approx(2 + 3 * (9.9 - 8) / 2)
    assert _quantile(0.2, buckets) == pytest.approx(0.5)  # from 0 within the first bucket
    over = {0.001: 0.0, float("inf"): 3.0}
    assert _quantile(0.5, over) == pytest.approx(1.0)  # beyond the last bound: that bound
    assert _quantile(0.5, {0.001: 0.0, float("inf"): 0.0}) is None


def test_a_server_that_asks_for_tokens_is_read_with_one(sws: Workspace) -> None:
    info = sws.deployments.deploy("fraud@1", "health-token-api", require_token=True)
    try:
        refused = sws.deployments.health(info.name)
        assert refused.versions == []
        assert refused.unavailable is not None
        assert "asks for a token with deployment.invoke (401): set GP_TOKEN" in refused.unavailable
        assert refused.line.startswith("health unavailable: the server asks for a token")
        token = sws.principals.create_token("alice", expires_in="1h").secret
        headers = {"Authorization": f"Bearer {token}"}
        body = {"entities": {"user_id": 5}, "request": {"currency": "EUR"}}
        assert httpx.post(f"{info.url}/v1/predict", json=body, headers=headers).status_code == 200
        read = sws.deployments.health(info.name, token=token)
        assert read.unavailable is None
        assert [(v.version, v.requests, v.errors) for v in read.versions] == [(1, 1, 0)]
    finally:
        sws.deployments.stop(info.name)


def test_a_shadow_is_read_by_the_rows_it_scored(sws: Workspace) -> None:
    info = sws.deployments.deploy("fraud@1", "health-shadow-api")
    try:
        sws.deployments.deploy("fraud@2", info.name, shadow=True)
        with httpx.Client(timeout=10) as client:
            assert [_predict(client, info.url, u) for u in range(1, 6)] == [200] * 5
        deadline = time.monotonic() + 10
        while True:  # the shadow scores after each answer is sent
            read = sws.deployments.health(info.name)
            if read.versions[-1].rows_scored == 5 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        primary, shadow = read.versions
        assert (primary.role, primary.requests, primary.rows_scored) == ("primary", 5, 5)
        assert (shadow.role, shadow.requests, shadow.rows_scored) == ("shadow", 0, 5)
        assert shadow.error_rate == 0 and shadow.feature_values == 15
        assert shadow.line == "v2 shadow: 5 rows scored, errors 0.0%"
    finally:
        sws.deployments.stop(info.name)
