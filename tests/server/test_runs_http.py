"""Runs over real HTTP (uvicorn on 127.0.0.1): the remote SDK's ``ws.runs`` logs from a
notebook with a token and reads what the local SDK reads; permissions and bad input answer
problem+json."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

import goldenpath
from goldenpath import Workspace
from goldenpath.client.remote import RemoteActiveRun, RemoteWorkspace
from goldenpath.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.server.conftest import serving


@dataclass
class Served:
    url: str
    ws: Workspace
    alice: str  # admin
    vera: str  # viewer on the default project
    eve: str  # no grant


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("runs-http")
    ws = goldenpath.connect(base / "home", actor="alice", create=True)
    assert isinstance(ws, Workspace)
    ws.principals.add("vera")
    ws.principals.add("eve")
    ws.access.grant("viewer", "vera", project="default")
    tokens = {
        n: ws.principals.create_token(n, expires_in="1h").secret for n in ("alice", "vera", "eve")
    }
    with serving(ws) as url:
        yield Served(url, ws, tokens["alice"], tokens["vera"], tokens["eve"])
    ws.close()


def _remote(served: Served, token: str) -> RemoteWorkspace:
    remote = goldenpath.connect(served.url, token=token)
    assert isinstance(remote, RemoteWorkspace)
    return remote


def test_a_notebook_logs_a_run_over_http_with_a_token(served: Served) -> None:
    with _remote(served, served.alice) as remote:
        with remote.runs.start(experiment="remote", params={"model": "lgbm"}, seed=3) as run:
            assert isinstance(run, RemoteActiveRun)
            run.log_param("max_depth", 4)
            run.log_metric("roc_auc", 0.88, step=1)
            run.log_metric("roc_auc", 0.9, step=2)
            run.log_metrics({"loss": float("nan")})
            run.set_tag("team", "risk")
            sum(range(100_000))
        local = served.ws.runs.get(run.id)
        assert local.status == "finished" and local.experiment == "remote"
        assert local.params == {"max_depth": "4", "model": "lgbm"}
        assert local.metrics == {"loss": None, "roc_auc": 0.9}
        assert local.tags == {"team": "risk"} and local.seed == 3
        assert local.created_by == "alice" and local.cpu_s is not None and local.cpu_s > 0
        assert remote.runs.get(run.id) == local
        assert remote.runs.get(run.id[:12]) == local
        listed = remote.runs.list("metrics.roc_auc > 0.5", order_by="metrics.roc_auc desc")
        assert listed == served.ws.runs.list(
            "metrics.roc_auc > 0.5", order_by="metrics.roc_auc desc"
        )
        assert [r.id for r in remote.runs.list(experiment="remote")] == [run.id]
        with remote.runs.start(experiment="remote", params={"model": "rf"}) as other:
            other.log_metric("roc_auc", 0.7)
        compared = remote.runs.compare(run.id, other.id)
        assert compared == served.ws.runs.compare(run.id, other.id)
        assert {p["key"]: p["differs"] for p in compared.params} == {
            "max_depth": True,
            "model": True,
        }


def test_a_failure_in_a_remote_with_block_is_kept(served: Served) -> None:
    with _remote(served, served.alice) as remote:
        with pytest.raises(ZeroDivisionError), remote.runs.start() as run:
            run.log_metric("partial", 1.0)
            _ = 1 / 0
        info = remote.runs.get(run.id)
    assert info.status == "failed" and info.metrics == {"partial": 1.0}
    assert info.error is not None and info.error["step"] == "notebook"
    assert info.error["message"] == "ZeroDivisionError: division by zero"
    assert "_ = 1 / 0" in info.error["traceback"]


def test_permissions_are_the_services(served: Served) -> None:
    with served.ws.runs.start("visible") as run:
        run.log_metric("roc_auc", 0.5)
    with _remote(served, served.vera) as vera:
        assert vera.runs.get(run.id).name == "visible"
        assert run.id in [r.id for r in vera.runs.list()]
        with pytest.raises(PermissionDenied, match=r"may not run\.write"):
            vera.runs.start()
    open_run = served.ws.runs.start("open")
    with httpx.Client(base_url=served.url + "/api/v1") as client:
        as_vera = {"Authorization": f"Bearer {served.vera}"}
        denied = client.post(
            f"/runs/{open_run.id}/log",
            json={"metrics": [{"key": "x", "value": 1}]},
            headers=as_vera,
        )
        assert denied.status_code == 403
        assert denied.headers["content-type"] == "application/problem+json"
        ended = client.post(f"/runs/{open_run.id}/end", json={}, headers=as_vera)
        assert ended.status_code == 403
        as_eve = {"Authorization": f"Bearer {served.eve}"}
        assert client.get("/runs", headers=as_eve).status_code == 403
        assert client.get(f"/runs/{run.id}", headers=as_eve).status_code == 404  # as if missing
        assert client.get("/runs").status_code == 401
    open_run.end()
    assert served.ws.runs.get(open_run.id).metrics == {}


def test_bad_input_answers_problem_json_and_writes_nothing(served: Served) -> None:
    run = served.ws.runs.start("target")
    auth = {"Authorization": f"Bearer {served.alice}"}
    with httpx.Client(base_url=served.url + "/api/v1", headers=auth) as client:
        bad = client.get("/runs", params={"filter": "metrics.x > 1; DROP TABLE runs"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert "bad filter at position 14" in bad.json()["detail"]
        assert client.get("/runs", params={"limit": 50_000}).status_code == 422
        huge = {f"m{i}": i for i in range(1_001)}
        too_many = client.post(f"/runs/{run.id}/log", json={"params": huge})
        assert too_many.status_code == 422
        assert "at most 1,000 (limits.run_log_entries_max)" in too_many.json()["detail"]
        long_key = client.post(f"/runs/{run.id}/log", json={"params": {"k" * 251: 1}})
        assert long_key.status_code == 422
        mixed = {"params": {"ok": 1}, "metrics": [{"key": "bad\nkey", "value": 1}]}
        assert client.post(f"/runs/{run.id}/log", json=mixed).status_code == 422
        unknown = client.post(f"/runs/{run.id}/log", json={"params": {}, "extra": 1})
        assert unknown.status_code == 422
        big_body = client.post(
            f"/runs/{run.id}/log",
            json={"tags": {"t": "x" * 4_000}, "params": {"p": "y" * 2_000_000}},
        )
        assert big_body.status_code == 413
        missing = client.get("/runs/01ZZZZZZZZZZZZ")
        assert (
            missing.status_code == 404
            and missing.json()["hint"] == "see the runs with: gp runs list"
        )
        # Metrics as JSON: null is NaN.
        nan = client.post(f"/runs/{run.id}/log", json={"metrics": [{"key": "n", "value": None}]})
        assert nan.status_code == 200 and nan.json()["id"] == run.id
        assert client.post(f"/runs/{run.id}/end", json={"status": "done"}).status_code == 422
        assert client.post(f"/runs/{run.id}/end", json={}).status_code == 200
        again = client.post(f"/runs/{run.id}/log", json={"metrics": [{"key": "x", "value": 1}]})
        assert again.status_code == 409 and "has finished" in again.json()["detail"]
    info = served.ws.runs.get(run.id)
    assert info.params == {} and info.metrics == {"n": None} and info.status == "finished"
    assert math.isnan(float("nan"))


def test_the_remote_sdk_refuses_artifacts_and_raises_our_errors(served: Served) -> None:
    with _remote(served, served.alice) as remote:
        with remote.runs.start() as run:
            with pytest.raises(InvalidInput, match="an artifact is not sent over HTTP"):
                run.log_text("notes.txt", "x")
            with pytest.raises(InvalidInput, match="not sent over HTTP"):
                run.add_input("dataset_version", "x", "y")
        with pytest.raises(Conflict, match="has ended"):
            run.log_metric("late", 1.0)
        with pytest.raises(NotFound, match="no run"):
            remote.runs.get("01ZZZZZZZZZZZZ")
        with pytest.raises(InvalidInput, match="not a run id"):
            remote.runs.get("../../audit/events")
        with pytest.raises(InvalidInput, match="bad filter"):
            remote.runs.list("metrics.x >")
