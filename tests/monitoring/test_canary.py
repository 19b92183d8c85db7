"""Canary analysis on fixed data: pass, fail on each figure, not enough samples."""

from __future__ import annotations

import numpy as np

from goldenpath.monitoring import canary, verdicts

RNG = np.random.default_rng(3)
SCORES = RNG.beta(2, 5, 400).tolist()
OK = [200] * 400
FAST = [2.0] * 400


def test_a_canary_like_its_primary_passes() -> None:
    result, figures = canary.compare(
        SCORES, RNG.beta(2, 5, 300).tolist(), OK, [200] * 300, FAST, [2.1] * 300
    )
    assert result == canary.PASS, figures
    assert figures["error_rate_delta"] == 0.0 and figures["score_psi"] < canary.LIMITS["score_psi"]


def test_each_figure_over_its_limit_fails_the_window() -> None:
    errors = [200] * 290 + [500] * 10  # 3.3% against 0%
    assert canary.compare(SCORES, SCORES[:300], OK, errors, FAST, FAST[:300])[0] == canary.FAIL
    slow = [2.0] * 290 + [40.0] * 10
    result, figures = canary.compare(SCORES, SCORES[:300], OK, OK[:300], FAST, slow)
    assert result == canary.FAIL and figures["latency_p99_ratio"] > 1.5
    shifted = RNG.beta(5, 2, 300).tolist()
    result, figures = canary.compare(SCORES, shifted, OK, OK[:300], FAST, FAST[:300])
    assert result == canary.FAIL and figures["score_psi"] > 0.2
    # Sub-millisecond noise in p99 never fails a canary.
    tiny = canary.compare(SCORES, SCORES[:300], OK, OK[:300], [0.2] * 400, [0.5] * 300)
    assert tiny[0] == canary.PASS


def test_too_few_rows_on_either_side_judge_nothing() -> None:
    result, figures = canary.compare(SCORES, SCORES[:50], OK, OK[:50], FAST, FAST[:50])
    assert result == verdicts.NOT_ENOUGH and set(figures.values()) == {None}
