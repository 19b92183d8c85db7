"""The inference server's Prometheus metrics (``GET /metrics``, text exposition format).

Per model version: requests by route and status code, errors, latency, rows scored, rows in
and out of the training data's contract, missing online features; and for the server: the
requests refused for overload and the prediction-log records dropped because its queue was
full. Each server has its own registry (no process-global state, so tests can run several).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: half the exposition, nothing a query uses

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Milliseconds matter here: the budget is p99 under 5 ms.
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ServerMetrics:
    """The metrics of one inference server (``deployment`` is a constant label)."""

    def __init__(self, deployment: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        labels = ["deployment", "model_version", "route"]
        self.requests = Counter(
            "gp_requests", "Requests answered, by status code", [*labels, "code"], registry=r
        )
        self.latency = Histogram(
            "gp_request_duration_seconds",
            "Time from the request's arrival to its answer",
            labels,
            buckets=BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "gp_errors", "Requests that failed inside the server (5xx)", labels, registry=r
        )
        self.rows = Counter(
            "gp_predictions", "Rows scored", ["deployment", "model_version", "role"], registry=r
        )
        self.contract = Counter(
            "gp_contract_rows",
            "Scored rows checked against the training data's contract, by result",
            ["deployment", "model_version", "result"],
            registry=r,
        )
        self.features = Counter(
            "gp_online_features",
            "Online feature values read, by status (present, missing, expired)",
            ["deployment", "model_version", "status"],
            registry=r,
        )
        self.overload = Counter(
            "gp_overload_refusals",
            "Requests refused with 429 (too many in flight)",
            ["deployment"],
            registry=r,
        )
        self.log_dropped = Counter(
            "gp_prediction_log_dropped",
            "Predictions not logged: the log's queue was full",
            ["deployment"],
            registry=r,
        )
        self.inflight = Gauge(
            "gp_requests_in_flight", "Requests being worked on", ["deployment"], registry=r
        )
        self.deployment = deployment

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
