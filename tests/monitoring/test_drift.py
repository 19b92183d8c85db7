"""The drift statistics against scipy on fixed data, and the verdicts on effect sizes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from goldenpath.monitoring import drift, verdicts
from goldenpath.registry.profiles import number_profile, text_profile

RNG = np.random.default_rng(20261207)
REFERENCE = RNG.normal(50.0, 10.0, 5_000)


def test_bins_follow_the_profile_and_the_outer_ones_are_open() -> None:
    profile = number_profile(REFERENCE)
    edges = profile["bins"]["edges"]
    # The profile's own counts are what numpy's histogram gives over its edges.
    assert drift.bin_counts(edges, REFERENCE).tolist() == profile["bins"]["counts"]
    below, above = edges[0] - 100.0, edges[-1] + 100.0
    counts = drift.bin_counts(edges, np.array([below, above, edges[-1]]))
    assert counts[0] == 1 and counts[-1] == 2 and counts.sum() == 3


def test_psi_matches_its_formula_on_the_reference_bins() -> None:
    profile = number_profile(REFERENCE)
    current = RNG.normal(55.0, 10.0, 3_000)
    ref = np.asarray(profile["bins"]["counts"], dtype=float)
    cur, _ = np.histogram(
        np.clip(current, REFERENCE.min(), REFERENCE.max()), profile["bins"]["edges"]
    )
    r, c = ref / ref.sum(), cur / cur.sum()
    expected = float(np.sum((c - r) * np.log(c / r)))
    found = drift.number_drift(profile, REFERENCE[:1000].tolist(), current.tolist())
    assert found["psi"] == pytest.approx(expected, rel=1e-9)
    assert 0.1 < expected < 0.6  # half a standard deviation moves PSI past "warning"
    same = drift.number_drift(profile, REFERENCE[:1000].tolist(), REFERENCE[::2].tolist())
    assert same["psi"] is not None and same["psi"] < 0.01


def test_psi_takes_epsilon_for_an_empty_bin() -> None:
    value = drift.psi([10, 10, 0], [10, 10, 10])
    r = np.array([0.5, 0.5, drift.EPSILON])
    c = np.array([1 / 3, 1 / 3, 1 / 3])
    assert math.isfinite(value)
    assert value == pytest.approx(float(np.sum((c - r) * np.log(c / r))))


def test_wasserstein_and_ks_match_scipy() -> None:
    u = RNG.normal(0.0, 1.0, 1_000)
    v = RNG.normal(0.3, 1.2, 2_500)
    assert drift.wasserstein(u, v) == pytest.approx(stats.wasserstein_distance(u, v), rel=1e-9)
    d, p = drift.ks(u, v)
    expected = stats.ks_2samp(u, v, method="asymp")
    assert d == pytest.approx(expected.statistic, rel=1e-12)
    en = len(u) * len(v) / (len(u) + len(v))
    assert p == pytest.approx(stats.kstwobign.sf(math.sqrt(en) * d), rel=1e-9, abs=1e-300)
    assert p == pytest.approx(expected.pvalue, abs=0.01)
    close = RNG.normal(0.0, 1.0, 2_000)
    _, p2 = drift.ks(u, close)
    assert p2 == pytest.approx(stats.ks_2samp(u, close, method="asymp").pvalue, abs=0.02)


def test_wasserstein_is_scaled_by_the_reference_std() -> None:
    profile = number_profile(REFERENCE)
    shifted = REFERENCE[:1000] + 20.0  # two standard deviations
    found = drift.number_drift(profile, REFERENCE[:1000].tolist(), shifted.tolist())
    assert found["wasserstein"] == pytest.approx(20.0 / profile["std"], rel=1e-6)


def test_jensen_shannon_over_top_categories_and_other_matches_scipy() -> None:
    training = pd.Series(
        ["EUR"] * 500 + ["USD"] * 300 + ["GBP"] * 150 + [f"c{i}" for i in range(50)]
    )
    profile = text_profile(training)  # 50 top categories: 3 currencies, 47 of the c's; 3 "other"
    assert profile["other_count"] == 3
    served = ["EUR"] * 100 + ["USD"] * 200 + ["CHF"] * 50
    buckets, ref, cur = drift.category_counts(profile, served)
    assert buckets[-1] == drift.OTHER and cur[-1] == 50 and ref[-1] == 3
    found = drift.category_drift(profile, training[:1000].tolist(), served)
    assert found["js_distance"] == pytest.approx(jensenshannon(ref, cur, base=2), rel=1e-9)
    # Without the other bucket the 50 CHF would vanish and the distance shrink.
    without = jensenshannon(ref[:-1], cur[:-1], base=2)
    assert found["js_distance"] > without + 0.05
    assert found["unseen_share"] == pytest.approx(50 / 350)
    same = drift.category_drift(profile, training.tolist(), training.tolist() * 2)
    assert same["js_distance"] is not None and same["js_distance"] < 1e-6
    assert same["unseen_share"] == 0.0


def test_no_values_give_no_figures() -> None:
    profile = number_profile(REFERENCE)
    assert drift.number_drift(profile, [], []) == {
        "psi": None,
        "wasserstein": None,
        "ks_pvalue": None,
    }
    assert drift.category_drift(text_profile(pd.Series(["a"])), ["a"], [None]) == {
        "js_distance": None,
        "unseen_share": None,
    }


def test_verdicts_read_effect_sizes_and_need_a_minimum_sample() -> None:
    assert verdicts.verdict("psi", 0.25, 500) == verdicts.DRIFT
    assert verdicts.verdict("psi", 0.15, 500) == verdicts.WARNING
    assert verdicts.verdict("psi", 0.05, 500) == verdicts.OK
    assert verdicts.verdict("psi", 0.9, 99) == verdicts.NOT_ENOUGH
    # A p-value is evidence only, however small.
    assert verdicts.verdict("ks_pvalue", 1e-30, 10_000) == verdicts.INFO
    assert verdicts.worst([verdicts.OK, verdicts.INFO, verdicts.DRIFT]) == verdicts.DRIFT
    assert verdicts.worst([verdicts.NOT_ENOUGH] * 3) == verdicts.NOT_ENOUGH
