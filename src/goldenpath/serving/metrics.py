"""The inference server's Prometheus metrics (``GET /metrics``, text exposition format).

Per model version: requests by route and status code, errors, latency, rows scored, rows in
and out of the training data's contract, missing online features; and for the server: the
requests refused for overload, when each version began to be served here (so a reader can
turn counts into rates), the prediction-log records dropped because its queue was
full, and the records the log could not keep because they did not fit its schema (the
supervisor's flush puts them in the dead-letter folder; read at scrape). Each server has its
own registry (no process-global state, so tests can run several).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: half the exposition, nothing a query uses

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Milliseconds matter here: the budget is p99 under 5 ms.
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class _LogInvalid(Collector):
    """``gp_prediction_log_invalid_total``: a counter whose value is read when scraped."""

    NAME = "gp_prediction_log_invalid"
    HELP = "Predictions the log could not keep (not JSON, or not its schema): see dead letters"

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.NAME, self.HELP, labels=["deployment"])

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.NAME, self.HELP, labels=["deployment"])
        family.add_metric([self._metrics.deployment], float(self._metrics.log_invalid()))
        yield family


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
            "Requests refused with 429 (too many in flight, or bodies being received)",
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
        self.reading = Gauge(
            "gp_request_bodies_receiving",
            "Request bodies being received (not yet holding a scoring slot)",
            ["deployment"],
            registry=r,
        )
        self.serving_since = Gauge(
            "gp_model_version_serving_since_seconds",
            "When this server began serving the version (Unix time): the start of its counters",
            ["deployment", "model_version"],
            registry=r,
        )
        self._since: set[int] = set()
        self.deployment = deployment
        # Set by the server to its prediction log's count (PredictionLog.invalid_total).
        self.log_invalid: Callable[[], int] = lambda: 0
        r.register(_LogInvalid(self))

    def serving(self, versions: Iterable[int]) -> None:
        """Note the versions now loaded: each one's start time is set the first time seen (a
        version served, swapped out and back keeps its counters, so keeps its start)."""
        for version in versions:
            if version not in self._since:
                self._since.add(version)
                self.serving_since.labels(self.deployment, str(version)).set(time.time())

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
