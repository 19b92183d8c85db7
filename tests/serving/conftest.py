"""One workspace for the serving tests: the example fraud project trained twice (fraud@1 and
fraud@2), its features materialised, and fresh rows pushed for users 1..100 so online values
are live now. Deployments in tests use names of their own and are stopped after each test."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import goldenpath
from goldenpath.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "fraud"
PROJECT_FILES = ("gp.yaml", "train.py", "features.py", "transactions.csv")
PROJECT_FILES += ("transactions.contract.yaml",)
USERS = 100


def fresh_rows(start: int = 0, users: int = USERS) -> list[dict[str, Any]]:
    """One contract-valid transaction a minute old for each user 1..users."""
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    return [
        {
            "tx_id": f"tx_{900000 + start + i:06d}",
            "user_id": 1 + i,
            "amount": 20.0 + i,
            "currency": ("EUR", "USD", "GBP")[i % 3],
            "ts": now,
            "is_fraud": False,
        }
        for i in range(users)
    ]


@pytest.fixture(scope="session")
def serving_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("serving") / "home"
    project = home.parent / "fraud"
    project.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(EXAMPLE / name, project / name)
    with goldenpath.connect(home, actor="alice", create=True) as ws:
        ws.datasets.ingest(
            "transactions",
            project / "transactions.csv",
            contract=project / "transactions.contract.yaml",
        )
        ws.features.apply(project / "features.py")
        ws.training.train(project)
        ws.training.train(project, params=["C=0.05"])
        ws.features.materialize()
        ws.features.push("user_tx", fresh_rows())
    yield home
    # Whatever a failed test left running.
    for folder in (home / "deployments").glob("*"):
        from goldenpath.serving import local

        local.stop(folder, timeout=10)


@pytest.fixture
def sws(serving_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The serving workspace, acting as alice (its admin)."""
    monkeypatch.setenv("GP_HOME", str(serving_home))
    with goldenpath.connect(serving_home, actor="alice") as ws:
        yield ws


@pytest.fixture(scope="module")
def deployed(serving_home: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """fraud@1 deployed under a name of this test module's own; stopped afterwards."""
    name = "t-" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    os.environ["GP_HOME"] = str(serving_home)
    with goldenpath.connect(serving_home, actor="alice") as ws:
        info = ws.deployments.deploy("fraud@1", name[:60])
        yield info
        ws.deployments.stop(info.name)


def post(url: str, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes | str) else json.dumps(body)
    return httpx.post(url, content=content, timeout=10, **kwargs)


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is a problem+json of ``status`` (naming ``field``); its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc = response.json()
    assert doc["status"] == status and doc["detail"]
    if field is not None:
        assert doc.get("field") == field, doc
    return dict(doc)


def logged(ws: Workspace, request_id: str) -> dict[str, Any]:
    """The prediction ``request_id`` once the log has it: the server spools its queue every
    0.5 s, so a lookup made right after the answer can come before it."""
    from goldenpath.core.errors import NotFound

    deadline = time.monotonic() + 10
    while True:
        try:
            return ws.predictions.show(request_id)
        except NotFound:
            assert time.monotonic() < deadline, f"prediction {request_id} was never logged"
            time.sleep(0.1)


def v2_inputs(rows: int = 1, currency: str = "EUR") -> list[dict[str, Any]]:
    return [
        {"name": "currency", "shape": [rows, 1], "datatype": "BYTES", "data": [currency] * rows},
        {"name": "amount", "shape": [rows, 1], "datatype": "FP32", "data": [12.5] * rows},
        {"name": "tx_count_1h", "shape": [rows], "datatype": "FP32", "data": [1.0] * rows},
        {"name": "amount_mean_7d", "shape": [rows, 1], "datatype": "FP64", "data": [30.0] * rows},
    ]
