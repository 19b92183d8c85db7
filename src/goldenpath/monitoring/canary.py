"""Canary analysis: a canary against the primary on the same window (issue 25, §3).

Both versions answered clients in the window, so their rows are compared directly, not with a
reference: ``error_rate_delta`` (the canary's error rate minus the primary's), ``latency_p99_ratio``
(the canary's p99 over the primary's) and ``score_psi`` (the canary's scores over ten quantile
bins of the primary's scores). The window's result is ``pass``, ``fail`` (any figure over its
limit, :data:`LIMITS`) or ``not enough samples`` (either version below the minimum).
"""

from __future__ import annotations

import numpy as np

from goldenpath.monitoring import drift, verdicts
from goldenpath.registry.profiles import number_profile

PASS, FAIL = "pass", "fail"
SUBJECT = "canary"
LIMITS = {"error_rate_delta": 0.01, "latency_p99_ratio": 1.5, "score_psi": 0.2}
"""A canary fails a window when a figure is over its limit."""
LATENCY_SLACK_MS = 1.0  # a p99 within this of the primary's never fails (sub-ms noise)


def compare(
    primary_scores: list[float],
    canary_scores: list[float],
    primary_status: list[int],
    canary_status: list[int],
    primary_latency: list[float],
    canary_latency: list[float],
    *,
    min_samples: int = verdicts.MIN_SAMPLES,
) -> tuple[str, dict[str, float | None]]:
    """The window's result and its figures."""
    figures: dict[str, float | None] = {
        "error_rate_delta": None,
        "latency_p99_ratio": None,
        "score_psi": None,
    }
    if min(len(primary_status), len(canary_status)) < min_samples:
        return verdicts.NOT_ENOUGH, figures

    def errors(codes: list[int]) -> float:
        return sum(not 200 <= c < 300 for c in codes) / len(codes)

    delta = errors(canary_status) - errors(primary_status)
    figures["error_rate_delta"] = delta
    p99 = float(np.quantile(primary_latency, 0.99)) if primary_latency else None
    c99 = float(np.quantile(canary_latency, 0.99)) if canary_latency else None
    slow = False
    if p99 and c99 is not None:
        figures["latency_p99_ratio"] = c99 / p99
        slow = c99 / p99 > LIMITS["latency_p99_ratio"] and c99 - p99 > LATENCY_SLACK_MS
    reference = number_profile(np.asarray(primary_scores, dtype=np.float64))
    if reference["bins"] and canary_scores:
        found = drift.number_drift(reference, [], canary_scores)["psi"]
        figures["score_psi"] = found
    failed = (
        slow
        or delta > LIMITS["error_rate_delta"]
        or (figures["score_psi"] or 0.0) > LIMITS["score_psi"]
    )
    return (FAIL if failed else PASS), figures
