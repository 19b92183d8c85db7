"""A deployment whose online features live in Redis (a private redis-server of the test's own on
a free port, so that pausing it stalls no other test), with Redis paused: the request that
needs Redis answers 503 within ``limits.online_lookup_seconds``, and
the requests that do not (health, V2 infer, metrics) keep answering promptly meanwhile.

Redis is paused with ``CLIENT PAUSE`` from another connection (``DEBUG SLEEP`` is disabled on
this server: ``enable-debug-command no``). A pause cannot be lifted early (``CLIENT UNPAUSE``
waits behind it), so it is kept short, and the test waits until Redis answers again before it
ends: no later test meets a paused Redis. The workspace's keys are deleted afterwards.

A Redis that is gone (a private ``redis-server`` on a free port, stopped under the live
server) makes each lookup a 503 naming Redis, never a 500.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import goldenpath
from goldenpath.serving.local import free_port
from goldenpath.workspace import online_namespace
from tests.features.online.conftest import redis_or_skip
from tests.serving.conftest import EXAMPLE, PROJECT_FILES, fresh_rows, post, problem, v2_inputs

LOOKUP_SECONDS = 0.3  # GP_LIMIT_ONLINE_LOOKUP_SECONDS for the deployment
PAUSE_MS = 1500  # long enough to see the rest of the server answer, short for others' tests
# A request that needs no Redis answers within this while it is paused (with the lookup
# on the loop, they wait out the pause: over a second).
PROMPT_SECONDS = 0.6


@contextmanager
def _deployed_on(url: str, folder: Path, name: str) -> Iterator[dict[str, Any]]:
    """fraud@1 trained and deployed (as ``name``) on a workspace whose online store is the
    Redis at ``url``; its keys are deleted afterwards (if that Redis is still up)."""
    import redis

    home = folder / "home"
    project = folder / "fraud"
    project.mkdir()
    for file in PROJECT_FILES:
        shutil.copy(EXAMPLE / file, project / file)
    patch = pytest.MonkeyPatch()
    patch.setenv("GP_HOME", str(home))
    patch.setenv("GP_LIMIT_ONLINE_LOOKUP_SECONDS", str(LOOKUP_SECONDS))
    ws = goldenpath.connect(home, actor="alice", create=True, online=url)
    namespace = online_namespace(ws.stack.metadata)
    try:
        ws.datasets.ingest(
            "transactions",
            project / "transactions.csv",
            contract=project / "transactions.contract.yaml",
        )
        ws.features.apply(project / "features.py")
        ws.training.train(project)
        ws.features.materialize()
        ws.features.push("user_tx", fresh_rows())
        info = ws.deployments.deploy("fraud@1", name)
        try:
            yield {"url": info.url, "redis": url, "log": home / "deployments" / info.name}
        finally:
            ws.deployments.stop(info.name)
    finally:
        ws.close()
        patch.undo()
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        try:
            for key in client.scan_iter(match=f"{namespace}*", count=1000):
                client.unlink(key)
        except redis.ConnectionError:
            pass  # a private server, already stopped
        finally:
            client.close()


@contextmanager
def _private_redis(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on a free port of 127.0.0.1 (its URL and process):
    pausing or stopping it touches no other test's Redis."""
    import redis

    redis_or_skip()
    server_bin = shutil.which("redis-server")
    if server_bin is None:
        pytest.skip("redis-server is not installed")
    port = free_port("127.0.0.1")
    server = subprocess.Popen(
        [
            server_bin,
            *("--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--dir", str(folder), "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=1).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url, server
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()


@pytest.fixture(scope="module")
def redis_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """fraud@1 served from a private Redis (pausing the shared one would stall other tests
    running beside this one)."""
    folder = tmp_path_factory.mktemp("redis-serving")
    with (
        _private_redis(folder) as (url, _),
        _deployed_on(url, folder, "t-redis-stall") as found,
    ):
        yield found


def _pause(url: str, ms: int) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        assert client.execute_command("CLIENT", "PAUSE", str(ms)) in (b"OK", "OK", True)
    finally:
        client.close()


def _wait_unpaused(url: str) -> None:
    """Until Redis answers again (a pause ends on its own; nothing can end it sooner)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        client.ping()
    finally:
        client.close()


def _timed(call: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call()
    return time.perf_counter() - started, response


def test_a_paused_redis_fails_its_lookups_fast_and_stalls_nothing_else(
    redis_deployment: dict[str, Any],
) -> None:
    base, redis_url = redis_deployment["url"], redis_deployment["redis"]
    predict = {"entities": {"user_id": 3}, "request": {"currency": "EUR"}}
    infer = {"inputs": v2_inputs()}
    answer = post(f"{base}/v1/predict", predict)
    assert answer.status_code == 200, answer.text
    assert answer.json()["features"]["tx_count_1h"]["status"] == "present"
    assert post(f"{base}/v2/models/fraud/infer", infer).status_code == 200

    looked_up: dict[str, Any] = {}

    def needs_redis() -> None:
        looked_up["seconds"], looked_up["response"] = _timed(
            lambda: post(f"{base}/v1/predict", predict)
        )

    others: list[tuple[str, float, int]] = []
    _pause(redis_url, PAUSE_MS)
    paused_at = time.perf_counter()
    try:
        lookup = threading.Thread(target=needs_redis)
        lookup.start()
        time.sleep(0.05)  # the lookup is waiting on Redis now
        with httpx.Client(timeout=10) as client:
            while time.perf_counter() - paused_at < PAUSE_MS / 1000 - 0.3:
                for name, call in (
                    ("ready", lambda: client.get(f"{base}/v2/health/ready")),
                    ("infer", lambda: client.post(f"{base}/v2/models/fraud/infer", json=infer)),
                    ("metrics", lambda: client.get(f"{base}/metrics")),
                ):
                    seconds, response = _timed(call)
                    others.append((name, seconds, response.status_code))
        lookup.join(timeout=10)
    finally:
        _wait_unpaused(redis_url)
    # (b) While the lookup waited on Redis, the rest of the server answered, each promptly.
    assert len(others) >= 9, others
    assert all(status == 200 for _, _, status in others), others
    slowest = max(seconds for _, seconds, _ in others)
    assert slowest < PROMPT_SECONDS, sorted(others, key=lambda o: -o[1])[:3]
    # (a) The request that needs Redis: 503 problem+json within about the lookup's limit.
    doc = problem(looked_up["response"], 503, "features")
    assert "online_lookup_seconds" in doc["detail"] and f"{LOOKUP_SECONDS:g} s" in doc["detail"]
    assert looked_up["response"].headers["retry-after"] == "1"
    assert looked_up["seconds"] < LOOKUP_SECONDS + 0.5, looked_up["seconds"]
    # The server said why, once per abandoned lookup, in its log.
    log = (Path(redis_deployment["log"]) / "server.log").read_text(encoding="utf-8")
    assert "online feature lookup of user_tx abandoned after 0.3 s" in log
    # Redis back: the next lookups read it again, each its own entity's values (the abandoned
    # connection was dropped, so no lookup reads the reply another one left behind).
    for user in (3, 4, 3, 5):
        again = post(f"{base}/v1/predict", {**predict, "entities": {"user_id": user}})
        assert again.status_code == 200, again.text
        amount = again.json()["features"]["amount"]
        assert amount["status"] == "present" and amount["value"] == 19.0 + user


def test_an_unreachable_redis_is_a_503_that_says_so(tmp_path: Path) -> None:
    """A private redis-server serves the deployment, then stops: each lookup is a 503 naming
    Redis, the other routes answer, nothing is a 500."""
    with (
        _private_redis(tmp_path) as (url, server),
        _deployed_on(url, tmp_path, "t-redis-gone") as deployment,
    ):
        base = deployment["url"]
        predict = {"entities": {"user_id": 3}, "request": {"currency": "EUR"}}
        assert post(f"{base}/v1/predict", predict).status_code == 200
        server.terminate()
        server.wait(timeout=10)
        seconds, answer = _timed(lambda: post(f"{base}/v1/predict", predict))
        doc = problem(answer, 503, "features")
        assert "Redis online store unreachable" in doc["detail"], doc
        assert seconds < LOOKUP_SECONDS + 0.5, seconds
        infer = post(f"{base}/v2/models/fraud/infer", {"inputs": v2_inputs()})
        assert infer.status_code == 200, infer.text
