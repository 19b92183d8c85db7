"""No existence oracle across projects (issue 22, §5): a principal without a role on a project
cannot tell its run ids, model names and dataset names from missing ones. Each answers
exactly like a missing object (404, the same body but for the name asked), over HTTP and
through the SDK; a reference (``rerun_of``) needs read access too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import goldenpath
from goldenpath import NotFound
from tests.conftest import write
from tests.registry.conftest import fitted
from tests.server.conftest import serving


@dataclass
class World:
    url: str
    home: Path
    mallory: str  # a viewer on default, no role on secret
    run: str  # a run in secret
    missing_run: str  # an id no run has


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("oracle")
    home = base / "home"
    with goldenpath.connect(home, actor="alice", create=True) as ws:
        ws.access.create_project("secret")
        ws.principals.add("mallory")
        ws.access.grant("viewer", "mallory", project="default")
        mallory = ws.principals.create_token("mallory", expires_in="1h").secret
    with goldenpath.connect(home, actor="alice", project="secret") as ws:
        ws.datasets.ingest("hidden_ds", write(base / "d.csv", "id,amount\n1,2.0\n"))
        model, validation = fitted("random_forest")
        ws.models.register(
            "hidden_model", model, validation=validation, label="label", task="classification"
        )
        run = ws.runs.create("r").id
    missing = ("0" if run[-1] != "0" else "1").join([run[:-1], ""])
    with goldenpath.connect(home, actor="alice") as ws, serving(ws) as url:
        yield World(url, home, mallory, run, missing)


def _get(world: World, path: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.mallory}"}
    return httpx.get(f"{world.url}/api/v1{path}", headers=headers, timeout=30)


def _same(existing: httpx.Response, missing: httpx.Response, name: str, other: str) -> None:
    assert existing.status_code == missing.status_code == 404, (existing.text, missing.text)
    assert existing.headers["content-type"] == missing.headers["content-type"]
    assert existing.json() == {
        k: (v.replace(other, name) if isinstance(v, str) else v) for k, v in missing.json().items()
    }


@pytest.mark.parametrize(
    ("path", "name", "other"),
    [
        ("/datasets/{}", "hidden_ds", "absent_ds"),
        ("/datasets/{}/versions", "hidden_ds", "absent_ds"),
        ("/datasets/{}?version=1", "hidden_ds", "absent_ds"),
        ("/datasets/{}/head", "hidden_ds", "absent_ds"),
        ("/models/{}", "hidden_model", "absent_mdl"),
        ("/models/{}@1", "hidden_model", "absent_mdl"),
    ],
)
def test_an_unreadable_name_answers_like_a_missing_one_over_http(
    world: World, path: str, name: str, other: str
) -> None:
    _same(_get(world, path.format(name)), _get(world, path.format(other)), name, other)


def test_an_unreadable_run_answers_like_a_missing_one(world: World) -> None:
    for path in ("/runs/{}", "/runs/{}/compare/{}"):
        existing = _get(world, path.format(world.run, world.run))
        missing = _get(world, path.format(world.missing_run, world.missing_run))
        _same(existing, missing, world.run, world.missing_run)
    # A prefix that only an unreadable run matches is "no run", not "more than one".
    _same(
        _get(world, f"/runs/{world.run[:8]}"),
        _get(world, "/runs/ZZZZZZZZ"),
        world.run[:8],
        "ZZZZZZZZ",
    )


def test_rerun_of_needs_read_access_to_the_run(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.mallory}", "X-GP-Project": "default"}

    def start(rerun_of: str) -> httpx.Response:
        return httpx.post(
            f"{world.url}/api/v1/runs",
            json={"name": "again", "rerun_of": rerun_of},
            headers=headers,
            timeout=30,
        )

    with goldenpath.connect(world.home, actor="alice") as ws:
        ws.access.grant("contributor", "mallory", project="default")
    try:
        _same(start(world.run), start(world.missing_run), world.run, world.missing_run)
    finally:
        with goldenpath.connect(world.home, actor="alice") as ws:
            ws.access.revoke("contributor", "mallory", project="default")


def test_the_sdk_local_and_remote_says_not_found(world: World) -> None:
    with goldenpath.connect(world.url, token=world.mallory) as remote:
        with pytest.raises(NotFound, match="no run"):
            remote.runs.get(world.run)
        with pytest.raises(NotFound, match="no model named 'hidden_model'"):
            remote.models.get("hidden_model")
        with pytest.raises(NotFound, match="no dataset named 'hidden_ds'"):
            remote.datasets.get("hidden_ds")
    local: Any
    with goldenpath.connect(world.home, actor="mallory") as local:
        for call in (
            lambda: local.runs.get(world.run),
            lambda: local.models.get("hidden_model@1"),
            lambda: local.datasets.get("hidden_ds@1"),
            lambda: local.datasets.history("hidden_ds"),
        ):
            with pytest.raises(NotFound):
                call()
