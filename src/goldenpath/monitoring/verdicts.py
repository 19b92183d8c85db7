"""Verdicts: effect sizes against thresholds, never p-values.

At a million rows every significance test rejects a difference nobody would act on, so a
verdict reads how *large* a change is. The defaults (docs/monitoring.md):

========================  ===========  ===========
metric                    warning  >   drift  >
========================  ===========  ===========
``psi``                   0.1          0.2
``js_distance``           0.1          0.2
``unseen_share``          0.01         0.05
========================  ===========  ===========

``wasserstein`` and ``ks_pvalue`` are evidence shown beside them (verdict ``info``). Below
:data:`MIN_SAMPLES` rows of a version in a window every verdict is ``not enough samples``
and nothing fires, so a handful of requests never raises drift.
"""

from __future__ import annotations

from collections.abc import Iterable

OK, WARNING, DRIFT, INFO = "ok", "warning", "drift", "info"
NOT_ENOUGH = "not enough samples"
MIN_SAMPLES = 100
"""Rows of a version in a window below which nothing is judged."""
THRESHOLDS: dict[str, tuple[float, float]] = {
    "psi": (0.1, 0.2),
    "js_distance": (0.1, 0.2),
    "unseen_share": (0.01, 0.05),
}
"""metric -> (warning above, drift above)."""
_RANK = {NOT_ENOUGH: 0, INFO: 0, OK: 1, "pass": 1, WARNING: 2, DRIFT: 3, "fail": 3}


def verdict(metric: str, value: float | None, samples: int, min_samples: int = MIN_SAMPLES) -> str:
    """The verdict on one figure of a window of ``samples`` rows."""
    if samples < min_samples:
        return NOT_ENOUGH
    limits = THRESHOLDS.get(metric)
    if limits is None or value is None:
        return INFO
    warning, drift = limits
    if value > drift:
        return DRIFT
    if value > warning:
        return WARNING
    return OK


def worst(verdicts: Iterable[str]) -> str:
    """The most severe of ``verdicts`` (``ok`` for none judged; ``not enough samples`` when
    every one is)."""
    found = list(verdicts)
    if found and all(v == NOT_ENOUGH for v in found):
        return NOT_ENOUGH
    judged = [v for v in found if v not in (NOT_ENOUGH, INFO)]
    return max(judged, key=_RANK.__getitem__) if judged else OK
