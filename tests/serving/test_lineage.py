"""Lineage queries (issue 25 §7) on the served fraud project: a prediction traced down to the
dataset version and event time of each served feature value, a dataset version traced to the
models, deployments and predictions that depend on it, a narrowed caller, the control plane's
HTTP API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import goldenpath
from goldenpath.client.remote import RemoteWorkspace
from goldenpath.core.errors import InvalidInput, NotFound
from goldenpath.workspace import Workspace
from tests.server.conftest import serving
from tests.serving.conftest import logged, post
from tests.serving.test_cli_deploy import gp

BODY = {"entities": {"user_id": 3}, "request": {"currency": "EUR"}}


def _offline_origins(ws: Workspace, user: int, at: datetime) -> dict[str, Any]:
    """Independently of the online store: from every version of ``transactions`` (read back
    from the offline log), the rows of ``user``, and what each served feature's origin must
    be at ``at`` (the winning row's version and time; each version in a window)."""
    rows = []
    newest = ws.datasets.get("transactions").version
    for version, table in ws.datasets.read_batches("transactions", after=None, upto=newest):
        for position, row in enumerate(table.to_pylist()):
            if row["user_id"] == user:
                ts = row["ts"].replace(tzinfo=UTC)
                rows.append((ts, version.version, position))
    live = [r for r in rows if r[0] <= at]
    winner = max(live)

    def window(seconds: int) -> tuple[list[str], str]:
        inside = [r for r in live if at - timedelta(seconds=seconds) < r[0]]
        versions = sorted({r[1] for r in inside})
        return [f"transactions@{v}" for v in versions], _iso(max(inside)[0])

    return {
        "amount": ([f"transactions@{winner[1]}"], _iso(winner[0])),
        "tx_count_1h": window(3600),
        "amount_mean_7d": window(7 * 86400),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def lineage_api(serving_home: Path) -> Iterator[dict[str, Any]]:
    """A deployment of fraud@2 of this module's own and two predictions it answered."""
    with goldenpath.connect(serving_home, actor="alice") as ws:
        info = ws.deployments.deploy("fraud@2", "lineage-api")
        try:
            answers = [post(f"{info.url}/v1/predict", BODY) for _ in range(2)]
            assert all(a.status_code == 200 for a in answers), answers[0].text
            ids = [a.json()["request_id"] for a in answers]
            for request_id in ids:
                logged(ws, request_id)
            yield {"name": info.name, "url": info.url, "ids": ids}
        finally:
            ws.deployments.stop(info.name)


def test_a_prediction_is_traced_to_each_served_values_dataset_version(
    sws: Workspace, lineage_api: dict[str, Any]
) -> None:
    request_id = lineage_api["ids"][0]
    record = logged(sws, request_id)
    found = sws.lineage.upstream(f"prediction:{request_id}")
    assert found.root["deployment"] == "lineage-api" and found.root["kind"] == "prediction"
    assert found.refs("deployment") == ["lineage-api"]
    assert found.refs("model_version") == ["fraud@2"]
    version = sws.models.get("fraud@2")
    assert [r["id"] for r in found.of_kind("run")] == [version.run_id]
    training = version.lineage["training_set"]["ref"]
    assert found.refs("training_set") == [training]
    assert found.refs("feature_view_version") == ["user_tx@1"]
    # The training set read transactions@1 through user_tx@1 (from its spec); the served
    # values came from the rows pushed later.
    assert "transactions@1" in found.refs("dataset_version")
    edges = {(e["from"], e["to"], e["relation"]) for e in found.edges}
    assert ("dataset_version:transactions@1", "feature_view_version:user_tx@1", "read_by") in edges
    assert (f"training_set:{training}", "model_version:fraud@2", "input_of") in edges
    assert ("model_version:fraud@2", f"prediction:{request_id}", "scored") in edges
    # Each served value: the dataset versions and event time it came from, as logged.
    expected = _offline_origins(sws, 3, datetime.fromisoformat(found.root["time"]))
    by_name = {f["feature"]: f for f in found.features or []}
    assert set(by_name) == set(expected)
    for name, (versions, event_time) in expected.items():
        entry = by_name[name]
        assert entry["view_version"] == "user_tx@1", entry
        assert (entry["dataset_versions"], entry["event_time"]) == (versions, event_time), name
        assert entry["resolved"] == "recorded"
        assert record["features"][name]["dataset_versions"] == versions
        assert record["features"][name]["event_time"] == event_time
    assert found.hidden == []


def test_a_dataset_version_lists_what_depends_on_it_with_counted_predictions(
    sws: Workspace, lineage_api: dict[str, Any]
) -> None:
    first = sws.lineage.downstream("transactions@1")
    assert {"fraud@1", "fraud@2"} <= set(first.refs("model_version"))
    assert "lineage-api" in first.refs("deployment")
    training = sws.models.get("fraud@2").lineage["training_set"]["ref"]
    edges = {(e["from"], e["to"], e["relation"]) for e in first.edges}
    assert ("feature_view_version:user_tx@1", f"training_set:{training}", "input_of") in edges
    assert (f"training_set:{training}", "model_version:fraud@2", "input_of") in edges
    counted = {d["deployment"]: d for d in (first.predictions or {})["deployments"]}
    assert counted["lineage-api"]["scored"] == 2  # this module's deployment answered twice
    # The version pushed for the serving tests: no model was trained on it, but the values
    # served to both predictions came from it.
    pushed = sws.lineage.upstream(f"prediction:{lineage_api['ids'][1]}").features or []
    (source,) = {v for f in pushed if f["feature"] == "amount" for v in f["dataset_versions"]}
    later = sws.lineage.downstream(source)
    assert later.refs("model_version") == [] and later.refs("training_set") == []
    assert "user_tx@1" in later.refs("feature_view_version")
    counted = {d["deployment"]: d for d in (later.predictions or {})["deployments"]}
    assert counted["lineage-api"] == {"deployment": "lineage-api", "scored": 0, "served_values": 2}
    # A view version's downstream: the predictions served its values are counted too.
    view = sws.lineage.downstream("view:user_tx@1")
    counted = {d["deployment"]: d for d in (view.predictions or {})["deployments"]}
    assert counted["lineage-api"] == {"deployment": "lineage-api", "scored": 2, "served_values": 2}
    # A model version's downstream: its deployments and their predictions.
    model = sws.lineage.downstream("model:fraud@2")
    assert "lineage-api" in model.refs("deployment")
    counted = {d["deployment"]: d for d in (model.predictions or {})["deployments"]}
    assert counted["lineage-api"]["scored"] == 2


def test_a_narrowed_caller_sees_only_what_it_may_read(
    sws: Workspace, serving_home: Path, lineage_api: dict[str, Any]
) -> None:
    """A token that may read predictions, deployments and models but no datasets, features
    or runs: those nodes are hidden, counted by kind, and a reference to one reads like a
    reference to nothing."""
    if "lineage-reader" not in {p.name for p in sws.principals.list()}:
        sws.principals.add("lineage-reader")
        sws.access.grant("viewer", principal="lineage-reader", project="default")
    token = sws.principals.create_token(
        "lineage-reader",
        expires_in="1h",
        scopes=["prediction.read", "deployment.read", "model.read"],
    ).secret
    with goldenpath.connect(serving_home, token=token) as narrow:
        assert isinstance(narrow, Workspace)
        found = narrow.lineage.upstream(f"prediction:{lineage_api['ids'][0]}")
        assert found.refs("model_version") == ["fraud@2"]
        for kind in ("dataset_version", "feature_view_version", "training_set", "run"):
            assert found.refs(kind) == [], kind
        hidden = {h["kind"]: h for h in found.hidden}
        # the run and training set of the model, the view and dataset versions of the values
        assert set(hidden) == {"dataset_version", "feature_view_version", "run", "training_set"}
        assert "feature.read" in hidden["training_set"]["reason"]
        assert all(
            f["dataset_versions"] == [] and f["view_version"] is None for f in found.features or []
        )
        assert all(f["hidden"] >= 1 for f in found.features or [])
        with pytest.raises(NotFound) as denied:
            narrow.lineage.downstream("transactions@1")
        with pytest.raises(NotFound) as missing:
            narrow.lineage.downstream("transactions@999")
        assert str(denied.value).replace("@1", "@N") == str(missing.value).replace("@999", "@N")


def test_lineage_over_the_control_plane_is_the_same(
    sws: Workspace, lineage_api: dict[str, Any]
) -> None:
    token = sws.principals.create_token("alice", expires_in="1h").secret
    request_id = lineage_api["ids"][0]
    with serving(sws) as url, RemoteWorkspace(url, token) as remote:
        here = sws.lineage.upstream(f"prediction:{request_id}").as_dict()
        assert remote.lineage.upstream(f"prediction:{request_id}").as_dict() == here
        there = remote.lineage.downstream("transactions@1").as_dict()
        assert there == sws.lineage.downstream("transactions@1").as_dict()
        with pytest.raises(InvalidInput, match="unknown kind"):
            remote.lineage.upstream("nope:thing@1")
        with pytest.raises(NotFound, match="no model fraud@99"):
            remote.lineage.downstream("model:fraud@99")


@pytest.mark.parametrize(
    ("ref", "code", "says"),
    [
        ("transactions", 2, "name the version: transactions@3"),
        ("nope:thing@1", 2, "unknown kind 'nope'"),
        ("prediction:123", 2, "a request id is a ULID"),
        ("model:fraud@x", 2, "not a version number"),
        ("transactions@999", 4, "no dataset transactions@999 that you may read"),
    ],
)
def test_bad_references_are_one_clear_line(
    serving_home: Path, ref: str, code: int, says: str
) -> None:
    done = gp(serving_home, "lineage", ref, "--downstream")
    assert done.returncode == code, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: ") and says in first, done.stderr
    assert done.stdout == ""


def test_the_cli_prints_the_chain_and_json(serving_home: Path, lineage_api: dict[str, Any]) -> None:
    request_id = lineage_api["ids"][0]
    done = gp(serving_home, "lineage", f"prediction:{request_id}")
    assert done.returncode == 0, done.stderr
    assert "model versions: fraud@2" in done.stdout
    assert "served feature values:" in done.stdout and "user_tx@1" in done.stdout
    as_json = gp(serving_home, "lineage", "transactions@1", "--downstream", "--json")
    assert as_json.returncode == 0, as_json.stderr
    parsed = json.loads(as_json.stdout)
    assert parsed["direction"] == "downstream" and "fraud@2" in [n["ref"] for n in parsed["nodes"]]


def test_the_limits_bound_a_walk_and_an_export(sws: Workspace) -> None:
    from goldenpath.core.limits import Limits
    from goldenpath.lineage.service import LineageService

    narrow = LineageService(
        sws.store,
        sws.access_control,
        sws.storage_root,
        sws.stack.home,
        Limits(lineage_edges_max=1, openlineage_runs_max=1),
    )
    cut = narrow.downstream("transactions@1")
    assert cut.truncated and not sws.lineage.downstream("transactions@1").truncated
    with pytest.raises(InvalidInput, match=r"limits\.openlineage_runs_max"):
        narrow.openlineage_events(limit=2)
    assert len({e["run"]["runId"] for e in narrow.openlineage_events(limit=1)}) == 1
