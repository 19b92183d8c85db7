"""Uploads over real HTTP cannot take the server down (issue 11, point 2).

Parsing and writing run in a warm worker process: a worker killed mid-write, or crashed by a
native library, fails that one upload with a problem document; the server keeps answering,
the dataset keeps its last recorded version, and the next upload works.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import goldenpath
from goldenpath.core.limits import Limits
from goldenpath.server.app import create_app
from tests.server.conftest import serving

PROBLEM = "application/problem+json"


def upload(url: str, token: str, name: str, filename: str, content: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/datasets/{name}/versions",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (filename, content)},
        timeout=120,
    )


def admin_token(ws: goldenpath.Workspace) -> str:
    return ws.principals.create_token("alice", expires_in="1h").secret


def deep_json(depth: int = 5_000) -> bytes:
    return ('{"a": ' + "[" * depth + "1" + "]" * depth + "}\n").encode()


def assert_alive(url: str) -> None:
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200


def test_a_worker_killed_mid_write_fails_that_upload_and_the_server_lives(
    ws: goldenpath.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "a.csv"
    first.write_text("id\n1\n2\n")
    ws.datasets.ingest("tx", first)
    token = admin_token(ws)
    marker = tmp_path / "reached"
    # The worker (a child of this process) stops after its Delta commit, before recording the
    # version: the worst moment to die.
    monkeypatch.setenv("GP_FAULT_POINT", "ingest.after-data-commit")
    monkeypatch.setenv("GP_FAULT_MARKER", str(marker))
    app = create_app(ws.stack, ws.store)
    with serving(ws, app) as url, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(upload, url, token, "tx", "b.csv", b"id\n3\n")
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert time.monotonic() < deadline, "the upload never reached the worker"
            time.sleep(0.05)
        monkeypatch.delenv("GP_FAULT_POINT")  # the replacement worker must not stop there
        killed = app.state.uploads.pids()
        assert len(killed) == 1
        os.kill(killed[0], signal.SIGKILL)
        response = pending.result(timeout=60)

        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["title"] == "BackendUnavailable" and "SIGKILL" in problem["detail"]
        assert_alive(url)
        versions = httpx.get(
            f"{url}/api/v1/datasets/tx/versions",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        assert [v["version"] for v in versions] == [1]

        second = upload(url, token, "tx", "c.csv", b"id\n4\n")
        assert second.status_code == 201, second.text
        assert second.json()["version"]["version"] == 2
        assert killed[0] not in app.state.uploads.pids()
    # The killed worker's Delta commit (row 3) was undone before the next write.
    assert sorted(r["id"] for r in ws.datasets.read("tx@2").to_pylist()) == [1, 2, 4]
    assert ws.datasets.read("tx@1").num_rows == 2


def test_a_native_crash_in_the_worker_fails_one_upload_and_the_server_lives(
    local_ws: goldenpath.Workspace,
) -> None:
    """With the nesting limit lifted, JSON nested 5,000 deep still segfaults the Delta writer
    (exit 139 in-process): in the worker it is one failed request."""
    ws = local_ws
    lifted = dataclasses.replace(ws.stack, limits=Limits(nesting_depth_max=100_000))
    token = admin_token(ws)
    with serving(ws, create_app(lifted, ws.store)) as url:
        crashed = upload(url, token, "deep", "deep.jsonl", deep_json())
        assert crashed.status_code == 422, crashed.text
        assert crashed.headers["content-type"] == PROBLEM
        assert "crashed the worker" in crashed.json()["detail"]
        assert "signal SIG" in crashed.json()["detail"]
        assert_alive(url)
        fine = upload(url, token, "fine", "f.csv", b"id\n1\n")
        assert fine.status_code == 201, fine.text
    assert [d.name for d in ws.datasets.list()] == ["fine"]


@pytest.mark.parametrize(
    ("filename", "content", "words"),
    [
        ("deep.jsonl", deep_json(), "more than 32 levels deep"),
        ("wide.csv", (",".join(f"c{i}" for i in range(20_000)) + "\n").encode(), "columns"),
        (
            "bomb.csv.gz",
            gzip.compress(b"id,text\n" + b"1," + b"0" * 5_000_000 + b"\n"),
            "expands more than 100 times",
        ),
        ("bomb.csv", gzip.compress(b"id\n" + b"1\n" * 2_000_000), "expands more than 100 times"),
    ],
    ids=["deep-json", "wide-csv", "gzip-bomb", "gzip-bomb-named-csv"],
)
def test_hostile_uploads_get_a_422_and_the_server_lives(
    local_ws: goldenpath.Workspace, filename: str, content: bytes, words: str
) -> None:
    ws = local_ws
    token = admin_token(ws)
    with serving(ws) as url:
        response = upload(url, token, "hostile", filename, content)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert words in response.json()["detail"]
        assert_alive(url)
    assert ws.datasets.list() == []


def test_an_upload_past_its_time_limit_is_stopped_and_the_server_lives(
    local_ws: goldenpath.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``limits.upload_seconds_max``: a worker that does not answer in time is killed; the
    upload fails with a 422 naming the limit, nothing is recorded, and the next one works."""
    token = admin_token(local_ws)
    marker = tmp_path / "reached"
    # The worker stalls after its Delta commit (a stand-in for a pathologically slow file).
    monkeypatch.setenv("GP_FAULT_POINT", "ingest.after-data-commit")
    monkeypatch.setenv("GP_FAULT_MARKER", str(marker))
    stack = dataclasses.replace(local_ws.stack, limits=Limits(upload_seconds_max=3.0))
    app = create_app(stack, local_ws.store)
    with serving(local_ws, app) as url, ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        pending = pool.submit(upload, url, token, "tx", "a.csv", b"id\n1\n")
        while not marker.exists():
            assert time.monotonic() - started < 60, "the upload never reached the worker"
            time.sleep(0.05)
        monkeypatch.delenv("GP_FAULT_POINT")  # the replacement worker must not stall
        response = pending.result(timeout=60)
        assert response.status_code == 422, response.text
        assert "limits.upload_seconds_max" in response.json()["detail"]
        assert_alive(url)
        assert upload(url, token, "tx", "b.csv", b"id\n2\n").status_code == 201
    assert [v.version for v in local_ws.datasets.history("tx")] == [1]
    assert local_ws.datasets.read("tx").column("id").to_pylist() == [2]
