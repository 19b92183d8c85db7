"""``gp deploy`` and friends as a user runs them (the real command, in a subprocess)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import goldenpath
from goldenpath.core.errors import GoldenpathError
from goldenpath.workspace import Workspace
from tests.infra.test_kubernetes import FakeApiServer, fake_api  # noqa: F401 (a fixture)

GP = [str(Path(sys.executable).parent / "gp")]


def gp(home: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    environment = {**os.environ, "GP_HOME": str(home), "GP_ACTOR": "alice", **(env or {})}
    return subprocess.run(
        [*GP, *args], capture_output=True, text=True, env=environment, cwd=cwd, timeout=120
    )


def test_deploy_curl_status_tail_stop(serving_home: Path, tmp_path: Path) -> None:
    # --target is the flag form of the stack's runtime: it wins, and is what is recorded.
    deployed = gp(
        serving_home,
        "deploy",
        "fraud@1",
        "--name",
        "cli-api",
        "--target",
        "local",
        cwd=tmp_path,
        env={"GP_RUNTIME": "kubernetes"},
    )
    assert deployed.returncode == 0, deployed.stderr
    assert "cli-api: serving fraud@1 at http://127.0.0.1:" in deployed.stdout
    try:
        status = json.loads(gp(serving_home, "deployments", "status", "cli-api", "--json").stdout)
        assert status["status"] == "running" and status["primary_version"] == 1
        assert status["runtime"] == "local"
        answer = httpx.post(
            f"{status['url']}/v1/predict",
            json={"entities": {"user_id": 3}, "request": {"currency": "GBP"}},
        )
        assert answer.status_code == 200
        request_id = answer.json()["request_id"]
        # The server spools its log every 0.5 s: a `gp` that starts fast can ask before that.
        deadline = time.monotonic() + 10
        while (shown := gp(serving_home, "predictions", "show", request_id, "--json")).returncode:
            assert "no prediction" in shown.stderr and time.monotonic() < deadline, shown.stderr
            time.sleep(0.2)
        record = json.loads(shown.stdout)
        assert record["request_id"] == request_id and record["model_version"] == 1
        assert record["entities"] == {"user_id": 3} and record["request"] == {"currency": "GBP"}
        assert record["features"]["amount"]["source"] == "user_tx@1"
        assert record["output"] == answer.json()["prediction"]
        # Without --json: one line per field, nested values as JSON (never a Python repr).
        text = gp(serving_home, "predictions", "show", request_id, env={"COLUMNS": "400"})
        assert text.returncode == 0, text.stderr
        lines = dict(line.split(None, 1) for line in text.stdout.splitlines())
        assert lines["request_id"] == request_id
        assert json.loads(lines["entities"]) == {"user_id": 3}
        assert json.loads(lines["request"]) == {"currency": "GBP"}
        assert json.loads(lines["output"]) == record["output"]
        assert json.loads(lines["features.amount"]) == record["features"]["amount"]
        assert "{'" not in text.stdout and "None" not in text.stdout, text.stdout
        tail = gp(serving_home, "predictions", "tail", "cli-api", env={"COLUMNS": "200"})
        assert request_id in tail.stdout
        logs = gp(serving_home, "deployments", "logs", "cli-api")
        assert "serving cli-api on 127.0.0.1" in logs.stdout
    finally:
        stopped = gp(serving_home, "deployments", "stop", "cli-api")
    assert stopped.returncode == 0 and "cli-api: stopped" in stopped.stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{status['url']}/v2/health/live")
    # The log was flushed into the Delta table at stop: still found.
    with goldenpath.connect(serving_home, actor="alice") as ws:
        assert ws.predictions.show(request_id)["request_id"] == request_id
    assert (serving_home / "storage" / "predictions" / "cli-api" / "_delta_log").is_dir()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fraud@1", "--name", "Bad Name"], "deployment name"),
        (["fraud@1", "--name", "x-api", "--host", "0.0.0.0"], "needs TLS"),
        (["fraud@1", "--name", "x-api", "--dry-run"], "--target kubernetes"),
        (["fraud@1", "--name", "x-api", "--target", "docker"], "local or kubernetes"),
        (["fraud@1", "--name", "x-api", "--target", "kubernetes", "--shadow"], "--shadow: for"),
    ],
)
def test_bad_deploys_are_refused_with_nothing_changed(
    serving_home: Path, args: list[str], message: str
) -> None:
    result = gp(serving_home, "deploy", *args)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (serving_home / "deployments" / "x-api").exists()


@pytest.mark.parametrize(
    ("ref", "options", "message"),
    [
        ("fraud@9", {}, "has no version 9"),
        ("fraud@1", {"canary": 150}, "--canary must be"),
        ("fraud@1", {"canary": 10, "shadow": True}, "exclude each other"),
        ("fraud@1", {"canary": 10}, "needs a running deployment"),
        ("fraud@1", {"host": "example.com"}, "must be an IP address"),
        ("fraud@1", {"stage": "qa"}, "dev or prod"),
        ("fraud@1", {"tls_cert": "nope.pem"}, "TLS needs both"),
        ("fraud@1", {"port": 70000}, "--port must be"),
        ("fraud@1", {"features": "missing.py"}, "no such file"),
    ],
)
def test_bad_deploys_in_the_sdk(
    sws: Workspace, serving_home: Path, ref: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(GoldenpathError, match=re.escape(message)):
        sws.deployments.deploy(ref, "x-api", **options)
    assert not (serving_home / "deployments" / "x-api").exists()
    assert "x-api" not in {d.name for d in sws.deployments.list()}


def test_kubernetes_dry_run_renders_manifests(serving_home: Path) -> None:
    result = gp(
        serving_home,
        "deploy",
        "fraud@1",
        "--name",
        "k-api",
        "--target",
        "kubernetes",
        "--dry-run",
        "-o",
        "yaml",
    )
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    kserve = gp(
        serving_home,
        "deploy",
        "fraud@1",
        "--name",
        "k-api",
        "--target",
        "kubernetes",
        "--dry-run",
        "-o",
        "json",
        env={"GP_SERVING": "kserve"},
    )
    assert [i["kind"] for i in json.loads(kserve.stdout)["items"]] == ["InferenceService"]
    assert not (serving_home / "deployments" / "k-api").exists()


def test_kubernetes_apply_goes_through_server_side_apply(
    serving_home: Path,
    tmp_path: Path,
    fake_api: FakeApiServer,  # noqa: F811
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": fake_api.url}}],
                "users": [{"name": "me", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
                "current-context": "fake",
            }
        )
    )
    result = gp(
        serving_home,
        "deploy",
        "fraud@1",
        "--name",
        "k-api",
        "--target",
        "kubernetes",
        "--kubeconfig",
        str(kubeconfig),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "applied Deployment/k-api",
        "applied Service/k-api",
        "applied HorizontalPodAutoscaler/k-api",
    ]
    patches = [r for r in fake_api.requests if r.method == "PATCH"]
    assert len(patches) == 3
    assert all(r.content_type == "application/apply-patch+yaml" for r in patches)
    assert all(r.query["fieldManager"] == ["goldenpath"] for r in patches)


def test_deploy_shows_its_steps_on_a_terminal_plain_when_piped_none_under_json(
    serving_home: Path, tmp_path: Path
) -> None:
    from tests.cli.test_progress import environment, on_terminal

    env = {**environment(serving_home), "GP_ACTOR": "alice"}
    steps = ["checks", "principal", "start", "health"]
    code, out, terminal = on_terminal(
        [*GP, "deploy", "fraud@1", "--name", "steps-api"], env, cwd=tmp_path
    )
    try:
        assert code == 0, terminal
        assert "steps-api: serving fraud@1" in out
        assert "deploy: checks" in terminal and "deploy: health" in terminal  # live lines
        assert "\x1b[" in terminal
        # Each step's line once it ends, in order.
        ended = [re.search(rf"  {step} +\d+\.\d\ds", terminal) for step in steps]
        assert all(ended), terminal
        assert [m.start() for m in ended if m] == sorted(m.start() for m in ended if m)
        # Piped (a swap to the same version): one plain line per step, and its time.
        piped = gp(serving_home, "deploy", "fraud@1", "--name", "steps-api", cwd=tmp_path)
        assert piped.returncode == 0, piped.stderr
        lines = [x for x in piped.stderr.splitlines() if x.startswith("  ")]
        assert [x.split()[0] for x in lines] == steps, piped.stderr
        assert all(re.fullmatch(r"  \w+ +\d+\.\d\ds", x) for x in lines), lines
        assert "\x1b[" not in piped.stderr
        quiet = gp(serving_home, "deploy", "fraud@1", "--name", "steps-api", "--json", cwd=tmp_path)
        assert quiet.returncode == 0, quiet.stderr
        assert json.loads(quiet.stdout)["name"] == "steps-api"
        assert not any(x.split()[:1] in ([s] for s in steps) for x in quiet.stderr.splitlines())
    finally:
        gp(serving_home, "deployments", "stop", "steps-api")
