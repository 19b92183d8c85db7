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

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from goldenpath.data.contracts import Contract

Check = Callable[[Any], bool]  # one value -> "broken?"


@dataclass(frozen=True)
class RowChecks:
    """The checks that apply to a model's inputs: ``(input, rule, broken?)``, per value (a
    request scores one row or a few: a Python predicate beats a NumPy call per check)."""

    checks: tuple[tuple[str, str, Check], ...]

    def __bool__(self) -> bool:
        return bool(self.checks)

    def run(self, feeds: Mapping[str, np.ndarray], rows: int) -> list[list[str]]:
        """Per row, the rules it breaks (``"amount: max 20000"``); empty lists when none."""
        failed: list[list[str]] = [[] for _ in range(rows)]
        columns: dict[str, list[Any]] = {}
        for name, rule, broken in self.checks:
            values = columns.get(name)
            if values is None:
                feed = feeds.get(name)
                if feed is None:
                    continue
                values = columns[name] = feed[:, 0].tolist()
            for index, value in enumerate(values):
                if broken(value):
                    failed[index].append(f"{name}: {rule}")
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
                add(name, "not null", math.isnan)
            if isinstance(rules.min, int | float):
                add(name, f"min {rules.min}", _below(float(rules.min)))
            if isinstance(rules.max, int | float):
                add(name, f"max {rules.max}", _above(float(rules.max)))
            if rules.allowed is not None:
                numbers = frozenset(float(v) for v in rules.allowed if isinstance(v, int | float))
                add(name, "allowed values", _not_in(numbers))
        else:
            if not rules.nullable:
                add(name, "not null", _empty)
            if rules.allowed is not None:
                allowed = frozenset(str(v) for v in rules.allowed)
                add(name, f"allowed values ({', '.join(sorted(allowed)[:5])})", _not_in(allowed))
            if rules.regex is not None:
                add(name, f"regex {rules.regex}", _no_match(re.compile(rules.regex)))
    return RowChecks(tuple(checks))


def _empty(value: Any) -> bool:
    return bool(value == "")


def _below(low: float) -> Check:
    return lambda value: bool(value < low)


def _above(high: float) -> Check:
    return lambda value: bool(value > high)


def _not_in(allowed: frozenset[Any]) -> Check:
    return lambda value: value not in allowed


def _no_match(pattern: re.Pattern[str]) -> Check:
    return lambda value: pattern.search(value) is None
