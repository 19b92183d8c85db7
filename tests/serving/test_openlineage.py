"""OpenLineage export (issue 25 §7): the training runs of the served fraud project as run
events, checked against the OpenLineage model of ``openlineage-python`` itself, written to a
JSON Lines file and posted to a receiver on 127.0.0.1."""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import pkgutil
import threading
import typing
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import attr
import pytest
from openlineage.client import event_v2, generated
from openlineage.client.serde import Serde
from ulid import ULID

from goldenpath.workspace import Workspace
from tests.serving.test_cli_deploy import gp


@cache
def _schema_classes() -> dict[str, type]:
    """Every class the package models, by the schema URL it declares."""
    found: dict[str, type] = {}
    for module in pkgutil.iter_modules(generated.__path__):
        loaded = importlib.import_module(f"{generated.__name__}.{module.name}")
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if attr.has(cls) and hasattr(cls, "_get_schema"):
                found.setdefault(cls._get_schema(), cls)
    return found


def _convert(kind: Any, value: Any, name: str) -> Any:
    if name in ("facets", "inputFacets", "outputFacets"):
        assert isinstance(value, dict), name
        classes = _schema_classes()
        built = {}
        for key, facet in value.items():
            url = facet.get("_schemaURL")
            assert url in classes, f"facet {key}: {url} is not a facet the package models"
            built[key] = _build(classes[url], facet)
        return built
    options = [a for a in typing.get_args(kind) if a is not type(None)] or [kind]
    for option in options:
        if typing.get_origin(option) is list:
            (item,) = typing.get_args(option)
            assert isinstance(value, list), name
            return [_convert(item, v, name) for v in value]
        if inspect.isclass(option) and attr.has(option):
            return _build(option, value)
        if inspect.isclass(option) and issubclass(option, enum.Enum):
            return option(value)
    return value


def _build(cls: type, data: dict[str, Any]) -> Any:
    """``data`` as ``cls``: every required field present, no field the class lacks, each
    value of its declared kind, the class's validators run on construction."""
    attr.resolve_types(cls)
    left = set(data)
    given: dict[str, Any] = {}
    for field in attr.fields(cls):
        left.discard(field.name)
        if not field.init:
            continue
        if field.name not in data:
            assert field.default is not attr.NOTHING, f"{cls.__name__} needs {field.name}"
            continue
        given[field.alias] = _convert(field.type, data[field.name], field.name)
    assert not left, f"{cls.__name__} has no field(s) {sorted(left)}"
    return cls(**given)


def check_event(data: dict[str, Any]) -> Any:
    """An exported event against the package's model: it builds as a ``RunEvent`` whose
    schema URL is the one it states and which serialises back to exactly the same JSON."""
    event = _build(event_v2.RunEvent, data)
    assert event.schemaURL == data["schemaURL"]
    assert Serde.to_dict(event) == data
    return event


def test_exported_events_fit_the_openlineage_model(sws: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    sent = sws.lineage.export_openlineage(str(target))
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert sent == len(lines) >= 4  # START and COMPLETE for each of the two training runs
    for line in lines:
        check_event(line)
    finished = [r for r in sws.runs.list() if r.status == "finished"]
    by_run: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_run.setdefault(line["run"]["runId"], []).append(line)
    for run in finished:
        events = by_run[str(ULID.from_str(run.id).to_uuid())]  # the run's ULID as a UUID
        assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
        complete = events[1]
        assert complete["job"]["name"] == f"default.train.{run.experiment}"
        inputs = {(d["name"], d["facets"]["version"]["datasetVersion"]) for d in complete["inputs"]}
        assert ("datasets.transactions", "1") in inputs
        assert any(name.startswith("training_sets.") for name, _ in inputs)
        (output,) = complete["outputs"]
        model = run.tags["model_version"]
        assert (output["name"], output["facets"]["version"]["datasetVersion"]) == (
            f"models.{model.partition('@')[0]}",
            model.partition("@")[2],
        )


def test_a_malformed_event_is_refused_by_the_check(sws: Workspace) -> None:
    """The check can fail: a run id that is no UUID, a field the model lacks."""
    good = sws.lineage.openlineage_events(limit=1)[0]
    with pytest.raises(ValueError):
        check_event({**good, "run": {**good["run"], "runId": "not-a-uuid"}})
    with pytest.raises(AssertionError, match="no field"):
        check_event({**good, "surprise": 1})


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append((self.path, json.loads(self.rfile.read(length))))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Receiver.received
    finally:
        server.shutdown()
        server.server_close()


def test_events_are_posted_to_an_http_endpoint(
    sws: Workspace, receiver: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    url, received = receiver
    expected = sws.lineage.openlineage_events()
    assert sws.lineage.export_openlineage(url) == len(expected)
    assert [path for path, _ in received] == ["/api/v1/lineage"] * len(expected)
    bodies = [body for _, body in received]
    for body in bodies:
        check_event(body)
        # the client adds its own version as a run tag; the rest is what was exported
        assert body["run"]["facets"].pop("tags")["tags"][0]["key"] == "openlineage_client_version"
    assert bodies == expected


def test_the_cli_exports_and_refuses_a_target_it_cannot_write(
    serving_home: Path, tmp_path: Path
) -> None:
    target = tmp_path / "cli.jsonl"
    done = gp(serving_home, "openlineage", "export", "--to", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sent ") and target.read_text().count("\n") >= 4
    bad = gp(serving_home, "openlineage", "export", "--to", str(tmp_path / "no" / "x.jsonl"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: cannot write"), bad.stderr
    assert not (tmp_path / "no").exists()
    late = gp(serving_home, "openlineage", "export", "--to", str(target), "--since", "yesterday")
    assert late.returncode == 2 and "not an ISO-8601 time" in late.stderr
