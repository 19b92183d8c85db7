"""Security settings on a redeploy: --require-token on a swap is enforced from the new
generation with no failed request; a swap that would change the bind address or TLS is
refused with nothing changed; status says what the server enforces; --insecure-bind is kept
on a swap like the host it allowed."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from goldenpath.core.errors import Conflict
from goldenpath.serving.spec import DeploymentSpec
from goldenpath.workspace import Workspace
from tests.serving.conftest import post
from tests.serving.test_cli_deploy import gp
from tests.serving.test_security import _principal

BODY = {"entities": {"user_id": 5}, "request": {"currency": "EUR"}}


def test_require_token_on_a_swap_is_enforced_at_once(sws: Workspace, serving_home: Path) -> None:
    info = sws.deployments.deploy("fraud@1", "sec-swap")
    try:
        url = f"{info.url}/v1/predict"
        assert post(url, BODY).status_code == 200
        token = _principal(sws, "sec-caller", "viewer")
        statuses: Counter[int] = Counter()
        stop = threading.Event()

        def client() -> None:  # a caller with a token: it never sees a failed request
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    r = http.post(url, json=BODY, headers={"Authorization": f"Bearer {token}"})
                    statuses[r.status_code] += 1

        thread = threading.Thread(target=client)
        thread.start()
        try:
            swapped = gp(serving_home, "deploy", "fraud@2", "--name", "sec-swap", "--require-token")
            assert swapped.returncode == 0, swapped.stderr
            anonymous = post(url, BODY)
            assert anonymous.status_code == 401, anonymous.text
        finally:
            stop.set()
            thread.join()
        assert set(statuses) == {200} and sum(statuses.values()) > 0, statuses
        status = gp(serving_home, "deployments", "status", "sec-swap", env={"COLUMNS": "200"})
        assert f"http on 127.0.0.1:{info.port}, tokens required" in status.stdout, status.stdout
        live = sws.deployments.get("sec-swap").live["enforced"]
        assert live == {"host": "127.0.0.1", "port": info.port, "tls": False, "require_token": True}
    finally:
        sws.deployments.stop("sec-swap")
    stopped = gp(serving_home, "deployments", "status", "sec-swap", env={"COLUMNS": "200"})
    assert "nothing: no server is running" in stopped.stdout, stopped.stdout


def test_a_swap_cannot_move_the_bind_address_or_tls(sws: Workspace, tmp_path: Path) -> None:
    info = sws.deployments.deploy("fraud@1", "sec-bind")
    try:
        with pytest.raises(Conflict, match="a swap cannot change --host"):
            sws.deployments.deploy("fraud@2", "sec-bind", host="0.0.0.0", insecure_bind=True)
        cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
        cert.write_text("x")
        key.write_text("x")
        with pytest.raises(Conflict, match="--tls-cert, --tls-key"):
            sws.deployments.deploy("fraud@2", "sec-bind", tls_cert=cert, tls_key=key)
        now = sws.deployments.get("sec-bind")
        assert (now.generation, now.host, now.primary_version) == (info.generation, "127.0.0.1", 1)
        assert "tls_cert" not in now.settings
        # What a restarted server would read (the supervisor restarts it from spec.json).
        folder = sws.stack.home / "deployments" / "sec-bind"
        assert DeploymentSpec.read(folder).host == "127.0.0.1"
        assert DeploymentSpec.read(folder).tls_cert is None
        # Through the CLI: a clear error, exit 5, nothing changed.
        refused = gp(
            sws.stack.home, "deploy", "fraud@2", "--name", "sec-bind", "--host", "127.0.0.2"
        )
        assert refused.returncode == 5, refused.stderr
        assert "stop it first" in refused.stderr and "Traceback" not in refused.stderr
        assert sws.deployments.get("sec-bind").generation == info.generation
    finally:
        sws.deployments.stop("sec-bind")


def test_insecure_bind_is_kept_on_a_swap(sws: Workspace) -> None:
    info = sws.deployments.deploy("fraud@1", "sec-open", host="0.0.0.0", insecure_bind=True)
    try:
        assert info.settings["insecure_bind"] and info.settings["require_token"]
        swapped = sws.deployments.deploy("fraud@2", "sec-open")
        assert swapped.primary_version == 2 and swapped.settings["insecure_bind"]
        assert swapped.live["enforced"]["host"] == "0.0.0.0"
        assert post(f"http://127.0.0.1:{info.port}/v1/predict", BODY).status_code == 401
    finally:
        sws.deployments.stop("sec-open")
