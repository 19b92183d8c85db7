"""Drift statistics, in numpy alone: served values against a version's reference profile.

Numbers (and the prediction score):

- **PSI** (population stability index) over the reference's quantile bins
  (``registry/profiles.py``: ~10 bins of equal reference share). The outer bins are open, so a
  served value below the reference's minimum counts in the first bin and one above its
  maximum in the last. ``PSI = sum((c - r) * ln(c / r))`` over the bins' shares, where an
  empty bin's share (on either side) is taken as :data:`EPSILON` (1e-4) so that the logarithm
  stays finite: a bin the reference never filled but traffic fills then adds about
  ``c * ln(c / 1e-4)``, a large but finite number.
- **Wasserstein distance** (earth mover's, p = 1) between the reference's sample (its first
  1,000 rows) and the served values, divided by the reference's standard deviation so it
  reads in "standard deviations moved" whatever the unit (a constant reference, std 0, is not
  scaled).
- **KS p-value** (two-sample Kolmogorov-Smirnov, the asymptotic Kolmogorov distribution) of the
  same two: evidence only. At thousands of rows every test rejects a difference nobody cares
  about, so verdicts never use it (``verdicts.py``).

Categories:

- **Jensen-Shannon distance** (base 2: 0 for the same distribution, 1 for disjoint ones)
  between the reference's shares of its top categories plus one "other" bucket (the rest of
  training's values) and the served values' shares of the same buckets.
- **Unseen share**: the share of served values never seen in training, i.e. neither one of
  the reference's top categories nor in its sample. Exact when the reference counts no
  "other" values (its categories all fit the top list); otherwise a value of training's long
  tail that missed the sample counts as unseen too (an upper bound).

Missing values (None, NaN) are left out of every distribution: the quality rates count them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

EPSILON = 1e-4
"""The share an empty bin is given in PSI, on either side (documented in docs/monitoring.md)."""
OTHER = "__other__"


def _finite(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    return array[np.isfinite(array)]


def bin_counts(edges: Sequence[float], values: np.ndarray) -> np.ndarray:
    """How many ``values`` fall in each bin of ``edges``: ``[e_i, e_i+1)``, the last closed,
    the outer two open-ended (``len(edges) - 1`` bins; one bin for a single edge)."""
    edges_array = np.asarray(edges, dtype=np.float64)
    bins = max(edges_array.size - 1, 1)
    index = np.searchsorted(edges_array[1:-1], values, side="right")
    return np.bincount(index, minlength=bins)[:bins]


def psi(
    reference_counts: Sequence[float] | np.ndarray, current_counts: Sequence[float] | np.ndarray
) -> float:
    """The population stability index of two count vectors over the same bins."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.shape != cur.shape or ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError("psi needs two non-empty count vectors of the same length")
    r = np.maximum(ref / ref.sum(), EPSILON)
    c = np.maximum(cur / cur.sum(), EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def wasserstein(u: np.ndarray, v: np.ndarray) -> float:
    """The 1-Wasserstein distance between two samples' empirical distributions."""
    u, v = np.sort(_finite(u)), np.sort(_finite(v))
    if not u.size or not v.size:
        raise ValueError("wasserstein needs two non-empty samples")
    points = np.concatenate([u, v])
    points.sort(kind="mergesort")
    gaps = np.diff(points)
    u_cdf = np.searchsorted(u, points[:-1], side="right") / u.size
    v_cdf = np.searchsorted(v, points[:-1], side="right") / v.size
    return float(np.sum(np.abs(u_cdf - v_cdf) * gaps))


def ks(u: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """The two-sample Kolmogorov-Smirnov statistic D and its asymptotic p-value:
    ``Q(sqrt(n m / (n + m)) * D)``, Q the Kolmogorov distribution's survival function."""
    u, v = np.sort(_finite(u)), np.sort(_finite(v))
    if not u.size or not v.size:
        raise ValueError("ks needs two non-empty samples")
    points = np.concatenate([u, v])
    d = float(
        np.max(
            np.abs(
                np.searchsorted(u, points, side="right") / u.size
                - np.searchsorted(v, points, side="right") / v.size
            )
        )
    )
    return d, kolmogorov_sf(math.sqrt(u.size * v.size / (u.size + v.size)) * d)


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution: ``2 sum_k (-1)^(k-1) exp(-2 k^2 x^2)``."""
    if x <= 0:
        return 1.0
    if x < 0.2:  # the series converges slowly here; the value is 1 to 1e-15 anyway
        return 1.0
    k = np.arange(1, 101, dtype=np.float64)
    terms = 2.0 * (-1.0) ** (k - 1) * np.exp(-2.0 * k * k * x * x)
    return float(min(max(terms.sum(), 0.0), 1.0))


def jensen_shannon(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """The Jensen-Shannon distance (base 2, in [0, 1]) of two count or share vectors."""
    a = np.asarray(p, dtype=np.float64)
    b = np.asarray(q, dtype=np.float64)
    if a.shape != b.shape or a.sum() <= 0 or b.sum() <= 0:
        raise ValueError("jensen_shannon needs two non-empty vectors of the same length")
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2.0

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return float(math.sqrt(max((kl(a) + kl(b)) / 2.0, 0.0)))


def number_drift(
    profile: Mapping[str, Any], sample: Sequence[Any], values: Sequence[Any]
) -> dict[str, float | None]:
    """``psi``, ``wasserstein`` (scaled by the reference's std) and ``ks_pvalue`` of served
    ``values`` against a number profile and its reference ``sample``; None where a side has
    no values."""
    current = _finite(values)
    bins = profile.get("bins")
    out: dict[str, float | None] = {"psi": None, "wasserstein": None, "ks_pvalue": None}
    if not current.size or not bins:
        return out
    out["psi"] = psi(bins["counts"], bin_counts(bins["edges"], current))
    reference = _finite([v for v in sample if v is not None])
    if reference.size:
        std = float(profile.get("std") or 0.0)
        out["wasserstein"] = wasserstein(reference, current) / (std if std > 0 else 1.0)
        out["ks_pvalue"] = ks(reference, current)[1]
    return out


def category_counts(
    profile: Mapping[str, Any], values: Sequence[Any]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The buckets (the reference's top categories, then :data:`OTHER`), the reference's
    counts in them and the served ``values``' counts."""
    top = [str(t["value"]) for t in profile.get("top", [])]
    position = {value: i for i, value in enumerate(top)}
    reference = np.array(
        [float(t["count"]) for t in profile.get("top", [])] + [float(profile.get("other_count", 0))]
    )
    current = np.zeros(len(top) + 1)
    for value in values:
        if value is None:
            continue
        current[position.get(str(value), len(top))] += 1
    return [*top, OTHER], reference, current


def category_drift(
    profile: Mapping[str, Any], sample: Sequence[Any], values: Sequence[Any]
) -> dict[str, float | None]:
    """``js_distance`` over the top categories plus "other", and ``unseen_share``, of served
    ``values`` against a text profile and its reference ``sample``."""
    present = [str(v) for v in values if v is not None]
    out: dict[str, float | None] = {"js_distance": None, "unseen_share": None}
    if not present:
        return out
    _, reference, current = category_counts(profile, present)
    if reference.sum() > 0:
        out["js_distance"] = jensen_shannon(reference, current)
    seen = {str(t["value"]) for t in profile.get("top", [])}
    seen.update(str(v) for v in sample if v is not None)
    out["unseen_share"] = sum(1 for v in present if v not in seen) / len(present)
    return out
