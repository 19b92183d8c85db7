"""A kill at any moment: the supervisor restarts a killed server; a killed supervisor takes
its server down with it, and the next gp deploy brings both back on the same port."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from goldenpath.serving import local
from goldenpath.workspace import Workspace
from tests.serving.conftest import post

BODY = {"entities": {"user_id": 9}, "request": {"currency": "USD"}}


def _state(home: Path, name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((home / "deployments" / name / "state.json").read_text())


def _wait(predicate, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_killed_server_is_restarted(sws: Workspace, serving_home: Path) -> None:
    info = sws.deployments.deploy("fraud@1", "kill-api")
    try:
        first = _state(serving_home, "kill-api")["pid"]
        os.kill(first, signal.SIGKILL)
        _wait(
            lambda: (
                _state(serving_home, "kill-api")["pid"] != first
                and httpx.get(f"{info.url}/v2/health/ready").status_code == 200
            )
        )
        assert post(f"{info.url}/v1/predict", BODY).status_code == 200
        status = sws.deployments.get("kill-api")
        assert status.status == "running" and status.live["restarts"] == 1
    finally:
        sws.deployments.stop("kill-api")


def test_a_killed_supervisor_takes_its_server_down_and_deploy_recovers(
    sws: Workspace, serving_home: Path
) -> None:
    info = sws.deployments.deploy("fraud@1", "orphan-api")
    folder = serving_home / "deployments" / "orphan-api"
    try:
        supervisor = local.supervisor_pid(folder)
        assert supervisor is not None
        os.kill(supervisor, signal.SIGKILL)
        _wait(lambda: local.port_free("127.0.0.1", info.port))  # the server exited too
        assert sws.deployments.get("orphan-api").status == "down"
        again = sws.deployments.deploy("fraud@1", "orphan-api")
        assert again.port == info.port and again.status == "running"
        assert post(f"{info.url}/v1/predict", BODY).status_code == 200
    finally:
        sws.deployments.stop("orphan-api")


def test_stop_drains_the_requests_in_flight(sws: Workspace) -> None:
    import socket
    import threading

    info = sws.deployments.deploy("fraud@1", "drain-api")
    body = json.dumps(BODY).encode()
    sock = socket.create_connection((info.host, info.port))
    try:
        head = f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body[:10])
        stopping = threading.Thread(target=sws.deployments.stop, args=("drain-api",))
        stopping.start()
        time.sleep(1.0)  # the supervisor has passed SIGTERM on; the server is draining
        sock.sendall(body[10:])
        sock.settimeout(10)
        answer = sock.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 200"), answer
        stopping.join(30)
        assert not stopping.is_alive()
    finally:
        sock.close()
    assert sws.deployments.get("drain-api").status == "stopped"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{info.url}/v2/health/live")
