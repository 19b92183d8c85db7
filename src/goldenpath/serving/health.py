"""How each version of a deployment is doing, from its inference server's own counters.

``ws.deployments.health(name)`` scrapes the server's ``/metrics`` (``metrics.py``) and reads,
per model version, over the scoring routes (``/v1/predict`` and V2 ``/infer``):

- requests answered, and their rate since the server began serving the version
  (``gp_model_version_serving_since_seconds``: the counters start there);
- the error rate (answers other than 2xx; a request refused for a missing feature counts
  against the version that refused it) and the server-error rate (5xx) within it;
- latency p50 and p99, interpolated within the histogram's buckets as Prometheus'
  ``histogram_quantile`` does (so a figure is as fine as the buckets: 0.5 ms up to 5 ms);
- the shares of online feature values read that were missing and expired;
- the rows scored; a shadow answers no request, so its error rate is over its rows scored
  (the scorings that failed).

During a canary or shadow both versions are read from the same scrape, side by side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

SCORING_ROUTES = ("predict", "infer")


@dataclass(frozen=True)
class VersionHealth:
    """One version's figures since ``since`` (when this server began serving it)."""

    version: int
    role: str  # primary | canary | shadow | previous (still counted, no longer served)
    since: datetime | None
    requests: int
    requests_per_second: float | None
    rows_scored: int
    errors: int
    error_rate: float | None
    server_errors: int
    server_error_rate: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    feature_values: int
    missing_feature_rate: float | None
    expired_feature_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = None if self.since is None else self.since.isoformat()
        return data

    @property
    def line(self) -> str:
        """The figures in one line (``gp status``)."""
        if self.role == "shadow":  # answers no request: its rows scored and failures
            return (
                f"v{self.version} shadow: {self.rows_scored} rows scored, "
                f"errors {_percent(self.error_rate)}"
            )
        if not self.requests:
            return f"v{self.version} {self.role}: no requests yet"
        return (
            f"v{self.version} {self.role}: {_rate(self.requests_per_second)} req/s, "
            f"errors {_percent(self.error_rate)}, p99 {_ms(self.latency_p99_ms)}, "
            f"missing features {_percent(self.missing_feature_rate)}"
        )


@dataclass(frozen=True)
class DeploymentHealth:
    """A deployment's versions' figures, read at ``read_at``; ``unavailable`` says why there
    are none (not running, the server did not answer, it asks for a token)."""

    deployment: str
    read_at: datetime
    versions: list[VersionHealth] = field(default_factory=list)
    unavailable: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "read_at": self.read_at.isoformat(),
            "versions": [v.as_dict() for v in self.versions],
            "unavailable": self.unavailable,
        }

    @property
    def line(self) -> str:
        """Every answering version's figures, in one line."""
        if self.unavailable is not None:
            return f"health unavailable: {self.unavailable}"
        shown = [v for v in self.versions if v.role != "previous"] or self.versions
        return "; ".join(v.line for v in shown) or "no version loaded"


def unavailable(deployment: str, reason: str) -> DeploymentHealth:
    return DeploymentHealth(deployment, datetime.now(UTC), [], reason)


SCRAPE_SECONDS = 2.0


def scrape(
    deployment: str,
    url: str,
    roles: Mapping[int, str],
    *,
    token: str | None = None,
    cafile: str | None = None,
    timeout: float = SCRAPE_SECONDS,
) -> DeploymentHealth:
    """Read ``url`` (the server's ``/metrics``) into the deployment's figures; a server that
    does not answer (or refuses) is ``unavailable`` with the reason, never an exception."""
    import ssl

    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    verify: ssl.SSLContext | bool = True
    if cafile:
        verify = ssl.create_default_context(cafile=cafile)
    try:
        answer = httpx.get(url, headers=headers, timeout=timeout, verify=verify)
    except httpx.HTTPError as exc:
        return unavailable(deployment, f"the server did not answer {url}: {exc}")
    if answer.status_code in (401, 403):
        return unavailable(
            deployment,
            f"the server asks for a token with deployment.invoke ({answer.status_code}): "
            "set GP_TOKEN",
        )
    if answer.status_code != 200:
        return unavailable(deployment, f"{url} answered {answer.status_code}")
    return health_from_exposition(deployment, answer.text, roles)


def health_from_exposition(
    deployment: str, text: str, roles: Mapping[int, str], read_at: datetime | None = None
) -> DeploymentHealth:
    """The figures of ``deployment`` in a ``/metrics`` text; ``roles`` maps the versions the
    deployment serves now to their role (others seen in the counters are ``previous``)."""
    from prometheus_client.parser import text_string_to_metric_families

    read_at = read_at or datetime.now(UTC)
    samples = [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("deployment") == deployment
    ]
    versions = {int(v) for v in roles}
    for _, labels, _ in samples:
        number = labels.get("model_version", "")
        if number.isdigit():
            versions.add(int(number))
    found = [
        _version(number, roles.get(number, "previous"), samples, read_at)
        for number in sorted(versions, key=lambda n: (n not in roles, n))
    ]
    return DeploymentHealth(deployment, read_at, found)


def _version(
    number: int, role: str, samples: Sequence[tuple[str, dict[str, str], float]], read_at: datetime
) -> VersionHealth:
    label = str(number)
    mine = [(n, labels, v) for n, labels, v in samples if labels.get("model_version") == label]
    scoring = [(n, labels, v) for n, labels, v in mine if labels.get("route") in SCORING_ROUTES]
    requests = errors = server_errors = rows = shadow_failures = 0
    buckets: dict[float, float] = {}
    since: datetime | None = None
    features: dict[str, float] = {}
    for name, labels, value in scoring:
        if name == "gp_requests_total":
            code = int(labels.get("code", "0") or 0)
            requests += int(value)
            if not 200 <= code < 300:
                errors += int(value)
            if code >= 500:
                server_errors += int(value)
        elif name == "gp_request_duration_seconds_bucket":
            edge = float(labels["le"])
            buckets[edge] = buckets.get(edge, 0.0) + value
    for name, labels, value in mine:
        if name == "gp_predictions_total":
            rows += int(value)
        elif name == "gp_errors_total" and labels.get("route") == "shadow":
            shadow_failures += int(value)
        elif name == "gp_online_features_total":
            features[labels["status"]] = features.get(labels["status"], 0.0) + value
        elif name == "gp_model_version_serving_since_seconds":
            since = datetime.fromtimestamp(value, UTC)
    values = int(sum(features.values()))
    if role == "shadow":  # scored after the answers it never gives: its rows and failures
        errors, total = shadow_failures, rows
    else:
        total = requests
    seconds = (read_at - since).total_seconds() if since is not None else None
    return VersionHealth(
        version=number,
        role=role,
        since=since,
        requests=requests,
        requests_per_second=requests / seconds if seconds and seconds > 0 else None,
        rows_scored=rows,
        errors=errors,
        error_rate=errors / total if total else None,
        server_errors=server_errors,
        server_error_rate=server_errors / requests if requests else None,
        latency_p50_ms=_quantile(0.5, buckets),
        latency_p99_ms=_quantile(0.99, buckets),
        feature_values=values,
        missing_feature_rate=features.get("missing", 0.0) / values if values else None,
        expired_feature_rate=features.get("expired", 0.0) / values if values else None,
    )


def _quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """``histogram_quantile(q)`` over cumulative ``buckets`` (upper bound -> count), in
    milliseconds: linear within the bucket holding the rank; the last finite bound when the
    rank falls in ``+Inf``."""
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] <= 0:
        return None
    total = buckets[edges[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for edge in edges:
        count = buckets[edge]
        if count >= rank:
            if math.isinf(edge):
                return lower * 1000
            if count == below:
                return edge * 1000
            return (lower + (edge - lower) * (rank - below) / (count - below)) * 1000
        lower, below = edge, count
    return lower * 1000


def roles_of(primary: int, candidate: int | None, mode: str | None) -> dict[int, str]:
    """The role of each version a deployment serves now."""
    roles = {primary: "primary"}
    if candidate is not None:
        roles[candidate] = mode or "canary"
    return roles


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def figures(version: VersionHealth) -> list[str]:
    """One version's figures as the cells of a table column (``gp deployments status``)."""
    return [
        f"v{version.version} ({version.role})",
        str(version.requests),
        _rate(version.requests_per_second),
        str(version.rows_scored),
        _percent(version.error_rate),
        _percent(version.server_error_rate),
        _ms(version.latency_p50_ms),
        _ms(version.latency_p99_ms),
        _percent(version.missing_feature_rate),
        _percent(version.expired_feature_rate),
        "-" if version.since is None else version.since.isoformat(timespec="seconds"),
    ]


FIGURE_NAMES = (
    "version",
    "requests",
    "requests/s",
    "rows scored",
    "error rate",
    "5xx rate",
    "latency p50",
    "latency p99",
    "missing features",
    "expired features",
    "since",
)
