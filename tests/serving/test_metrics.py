"""/metrics in the Prometheus text format: per-version requests and latency, missing features,
and prediction-log drops when its queue is full (counted, never blocking a request)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from goldenpath.workspace import Workspace
from tests.serving.conftest import post


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
        assert samples[count] == 5
        present = (
            "gp_online_features_total",
            (("deployment", name), ("model_version", "1"), ("status", "present")),
        )
        assert samples[present] == 1500
        absent = (
            "gp_online_features_total",
            (("deployment", name), ("model_version", "1"), ("status", "missing")),
        )
        assert samples[absent] == 3  # the refused request's three features count as missing
        dropped = samples[("gp_prediction_log_dropped_total", (("deployment", name),))]
        assert 0 < dropped <= 495  # a queue of 5: most of 500 records in one burst are dropped
        refused = (
            "gp_requests_total",
            (("code", "422"), ("deployment", name), ("model_version", ""), ("route", "predict")),
        )
        assert samples[refused] == 1
    finally:
        sws.deployments.stop("metrics-api")
