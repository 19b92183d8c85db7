"""/metrics in the Prometheus text format: per-version requests and latency, missing features,
prediction-log drops when its queue is full (counted, never blocking a request), and records
the log's flush could not append (dead-lettered, counted, shown in the status)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from goldenpath.core.ids import new_id
from goldenpath.serving.prediction_log import PredictionLog, dead_letters, flush_spool
from goldenpath.serving.spec import DeploymentSpec, folder_of
from goldenpath.workspace import Workspace
from tests.serving.conftest import logged, post
from tests.serving.test_cli_deploy import gp


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_per_version_missing_features_and_log_drops(
    sws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_LIMIT_PREDICTION_LOG_QUEUE_MAX", "5")
    info = sws.deployments.deploy("fraud@1", "metrics-api")
    try:
        rows = [{"entities": {"user_id": u}, "request": {"currency": "EUR"}} for u in range(1, 101)]
        for _ in range(5):
            assert post(f"{info.url}/v1/predict", rows).status_code == 200
        missing = {"entities": {"user_id": 424242}, "request": {"currency": "EUR"}}
        assert post(f"{info.url}/v1/predict", missing).status_code == 422
        samples = _samples(info.url)
        name = "metrics-api"
        ok = (
            "gp_requests_total",
            (("code", "200"), ("deployment", name), ("model_version", "1"), ("route", "predict")),
        )
        assert samples[ok] == 5
        assert (
            samples[
                (
                    "gp_predictions_total",
                    (("deployment", name), ("model_version", "1"), ("role", "primary")),
                )
            ]
            == 500
        )
        count = (
            "gp_request_duration_seconds_count",
            (("deployment", name), ("model_version", "1"), ("route", "predict")),
        )
        assert samples[count] == 6  # the five answers and the refused request, timed alike
        present = (
            "gp_online_features_total",
            (("deployment", name), ("model_version", "1"), ("status", "present")),
        )
        assert samples[present] == 1501  # 5 x 100 users x 3 features, and one known 0 count
        absent = (
            "gp_online_features_total",
            (("deployment", name), ("model_version", "1"), ("status", "missing")),
        )
        # the refused request's unknown user: no amount and no mean (its count is a known 0)
        assert samples[absent] == 2
        dropped = samples[("gp_prediction_log_dropped_total", (("deployment", name),))]
        assert 0 < dropped <= 495  # a queue of 5: most of 500 records in one burst are dropped
        refused = (
            "gp_requests_total",
            # counted against the version that refused it (its error rate in the status)
            (("code", "422"), ("deployment", name), ("model_version", "1"), ("route", "predict")),
        )
        assert samples[refused] == 1
    finally:
        sws.deployments.stop("metrics-api")


def test_an_invalid_logged_record_is_dead_lettered_counted_and_shown(
    sws: Workspace, serving_home: Path
) -> None:
    """The record the V2 version route once wrote (role ``candidate``) reaches a running
    deployment's spool; the flush keeps it beside the spool, ``/metrics`` counts it, and both
    the SDK's and ``gp deployments status`` say so."""
    name = "dead-letter-api"
    info = sws.deployments.deploy("fraud@1", name)
    try:
        folder = folder_of(serving_home, name)
        samples = _samples(info.url)
        assert samples[("gp_prediction_log_invalid_total", (("deployment", name),))] == 0
        answered = post(f"{info.url}/v1/predict", BODY_ONE)
        assert answered.status_code == 200
        request_id = new_id()
        with PredictionLog(folder / "spool") as plog:
            assert plog.submit(
                {
                    "request_id": request_id,
                    "time": 1_796_000_000_000_000,
                    "deployment": name,
                    "model": "fraud",
                    "model_version": 2,
                    "role": "candidate",
                    "returned": True,
                    "entities": {},
                    "request": {"amount": 1.0},
                    "features": {},
                    "contract_passed": True,
                    "contract": [],
                    "output": {"label": 0},
                    "latency_ms": 0.4,
                    "status": 200,
                }
            )
        # What the supervisor does every 5 s (flushes of one spool take turns, by a lock).
        flush_spool(folder / "spool", DeploymentSpec.read(folder).table_uri)
        (letter,) = dead_letters(folder / "spool")
        assert json.loads(letter["record"])["request_id"] == request_id
        assert "role must be one of" in letter["reason"]
        samples = _samples(info.url)
        assert samples[("gp_prediction_log_invalid_total", (("deployment", name),))] == 1
        assert sws.deployments.get(name).live["log_invalid"] == 1
        shown = gp(serving_home, "deployments", "status", name)
        assert shown.returncode == 0, shown.stderr
        assert "1 invalid record(s) or unreadable spool file(s) not appended" in shown.stdout
        assert f"deployments/{name}/spool.dead-letter/" in shown.stdout
        kept = logged(sws, answered.json()["request_id"])
        assert kept["role"] == "primary"  # the valid records of the same log are kept
    finally:
        sws.deployments.stop(name)


BODY_ONE = {"entities": {"user_id": 7}, "request": {"currency": "EUR"}}


def test_an_unreadable_spool_file_is_dead_lettered_counted_and_shown(
    sws: Workspace, serving_home: Path
) -> None:
    """A spool file the flush cannot read (here a directory under a batch's name) is moved
    into the dead letters and counted like an invalid record, not only logged."""
    name = "unreadable-spool-api"
    info = sws.deployments.deploy("fraud@1", name)
    try:
        folder = folder_of(serving_home, name)
        answered = post(f"{info.url}/v1/predict", BODY_ONE)
        assert answered.status_code == 200
        corrupt = folder / "spool" / f"{new_id()}.ndjson"
        corrupt.mkdir()
        flush_spool(folder / "spool", DeploymentSpec.read(folder).table_uri)
        assert not corrupt.exists()
        (letter,) = dead_letters(folder / "spool")
        assert letter["batch"] == corrupt.name and letter["record"] is None
        samples = _samples(info.url)
        assert samples[("gp_prediction_log_invalid_total", (("deployment", name),))] == 1
        assert sws.deployments.get(name).live["log_invalid"] == 1
        shown = gp(serving_home, "deployments", "status", name)
        assert shown.returncode == 0, shown.stderr
        assert "1 invalid record(s) or unreadable spool file(s) not appended" in shown.stdout
        assert logged(sws, answered.json()["request_id"])["role"] == "primary"
    finally:
        sws.deployments.stop(name)
