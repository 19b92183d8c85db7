"""The training data's contract, checked on each served row (counted, never refused).

A request the model can take (the signature's types) may still lie outside the data the model
learned from: an amount above the contract's maximum, a currency it never saw. Each row's
model inputs are checked against the column rules of the contract of the dataset the model
was trained on (``nullable``, ``min``, ``max``, ``allowed``, ``regex``; rules over a whole
table, like ``unique`` or ``mean``, do not apply to one row). The result goes into the
prediction log and the ``gp_contract_rows_total`` metric: the out-of-contract rate the monitor
alerts on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from goldenpath.data.contracts import Contract

Check = Callable[[np.ndarray], np.ndarray]  # [N, 1] feed -> [N] bool "broken"


@dataclass(frozen=True)
class RowChecks:
    """The checks that apply to a model's inputs: ``(input, rule, broken?)``."""

    checks: tuple[tuple[str, str, Check], ...]

    def __bool__(self) -> bool:
        return bool(self.checks)

    def run(self, feeds: Mapping[str, np.ndarray], rows: int) -> list[list[str]]:
        """Per row, the rules it breaks (``"amount: max 20000"``); empty lists when none."""
        failed: list[list[str]] = [[] for _ in range(rows)]
        for name, rule, broken in self.checks:
            feed = feeds.get(name)
            if feed is None:
                continue
            for index in np.flatnonzero(broken(feed)):
                failed[int(index)].append(f"{name}: {rule}")
        return failed


def row_checks(contract: Contract | None, inputs: list[tuple[str, str]]) -> RowChecks:
    """The row-level rules of ``contract`` on the model's ``inputs`` (name, float|string)."""
    if contract is None:
        return RowChecks(())
    checks: list[tuple[str, str, Check]] = []

    def add(name: str, rule: str, broken: Check) -> None:
        checks.append((name, rule, broken))

    for name, kind in inputs:
        rules = contract.columns.get(name)
        if rules is None:
            continue
        if kind == "float":
            if not rules.nullable:
                add(name, "not null", _is_nan)
            if isinstance(rules.min, int | float):
                add(name, f"min {rules.min}", _below(float(rules.min)))
            if isinstance(rules.max, int | float):
                add(name, f"max {rules.max}", _above(float(rules.max)))
            if rules.allowed is not None:
                numbers = np.array([float(v) for v in rules.allowed if isinstance(v, int | float)])
                add(name, "allowed values", _not_in_numbers(numbers))
        else:
            if not rules.nullable:
                add(name, "not null", _is_empty)
            if rules.allowed is not None:
                allowed = frozenset(str(v) for v in rules.allowed)
                add(name, f"allowed values ({', '.join(sorted(allowed)[:5])})", _not_in(allowed))
            if rules.regex is not None:
                add(name, f"regex {rules.regex}", _no_match(re.compile(rules.regex)))
    return RowChecks(tuple(checks))


def _is_nan(feed: np.ndarray) -> np.ndarray:
    return np.asarray(np.isnan(feed[:, 0]))


def _is_empty(feed: np.ndarray) -> np.ndarray:
    return np.array([v == "" for v in feed[:, 0]], dtype=bool)


def _below(low: float) -> Check:
    return lambda feed: np.asarray(feed[:, 0] < low)


def _above(high: float) -> Check:
    return lambda feed: np.asarray(feed[:, 0] > high)


def _not_in_numbers(numbers: np.ndarray) -> Check:
    return lambda feed: ~np.isin(feed[:, 0], numbers)


def _not_in(allowed: frozenset[str]) -> Check:
    return lambda feed: np.array([v not in allowed for v in feed[:, 0]], dtype=bool)


def _no_match(pattern: re.Pattern[str]) -> Check:
    return lambda feed: np.array([pattern.search(v) is None for v in feed[:, 0]], dtype=bool)
