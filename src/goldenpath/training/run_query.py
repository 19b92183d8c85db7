"""The run search language (``metrics.roc_auc > 0.8 and params.model = 'lgbm'``), parsed into
SQLAlchemy expressions with bound values.

MLflow users know the language: clauses joined by ``and``, each ``<what> <op> <value>`` where
``<what>`` is ``metrics.KEY``, ``params.KEY``, ``tags.KEY`` or an attribute (``status``,
``experiment``, ``name``, ``source``), ``<op>`` one of ``= != < <= > >=`` and ``<value>`` a
number or a quoted string (``'...'`` or ``"..."``, a quote doubled inside). A key with other
characters than letters, digits and ``_ - . / :`` is written in backticks (``metrics.`val loss```).

Nothing a user writes becomes SQL text: keys and values are bound parameters, and each clause
becomes an indexed subquery (``runs.id IN (SELECT run_id FROM run_metrics WHERE key = :k AND
value > :v)``) so a search stays fast at 100k runs. A clause on a key matches only runs that
have it (a NaN metric is NULL: it matches no comparison). Numbers compare as numbers
(``run_params.number`` holds a parameter's numeric value), quoted strings as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits
from goldenpath.store.tables import run_metrics, run_params, run_tags, runs

OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
KINDS = ("metrics", "params", "tags")
# Attributes of a run that filters and ordering may name (run columns, never user text).
FILTER_ATTRIBUTES = ("status", "experiment", "name", "source")
ORDER_ATTRIBUTES = (
    "started_at",
    "ended_at",
    "duration_s",
    "cpu_s",
    "name",
    "status",
    "experiment",
)
_KIND_ALIASES = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_\-./:]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SPACE = re.compile(r"\s*")
_EXAMPLE = "for example: metrics.roc_auc > 0.8 and params.model = 'lgbm'"


@dataclass(frozen=True)
class Clause:
    """One ``what op value`` comparison: ``kind`` is metrics, params, tags or attribute."""

    kind: str
    key: str
    op: str
    value: float | str

    def as_text(self) -> str:
        return f"{self.kind}.{self.key} {self.op} {self.value!r}"


@dataclass(frozen=True)
class Order:
    """One ``order_by`` term: ``kind`` is metrics, params, tags or attribute."""

    kind: str
    key: str
    descending: bool


class _Reader:
    """A cursor over the filter text that names the position of whatever it did not expect."""

    def __init__(self, text: str, what: str) -> None:
        self.text, self.pos, self.label = text, 0, what

    def skip_space(self) -> None:
        match = _SPACE.match(self.text, self.pos)
        self.pos = match.end() if match else self.pos

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def fail(self, expected: str) -> InvalidInput:
        found = self.text[self.pos : self.pos + 20]
        shown = f"{found!r}" if found else "the end"
        return InvalidInput(
            f"bad {self.label} at position {self.pos + 1}: expected {expected}, found {shown}",
            hint=_EXAMPLE if self.label == "filter" else "for example: metrics.roc_auc desc",
        )

    def word(self) -> str | None:
        self.skip_space()
        match = _WORD.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def key(self) -> str:
        """The key after ``kind.``: bare, or in backticks."""
        if self.text.startswith("`", self.pos):
            end = self.text.find("`", self.pos + 1)
            if end < 0:
                raise self.fail("a closing backtick")
            key = self.text[self.pos + 1 : end]
            if not key:
                raise self.fail("a key between the backticks")
            self.pos = end + 1
            return key
        match = _BARE_KEY.match(self.text, self.pos)
        if match is None:
            raise self.fail("a key (letters, digits, _ - . / :, or any text in backticks)")
        self.pos = match.end()
        return match.group()

    def what(self, attributes: Sequence[str]) -> tuple[str, str]:
        """``metrics.KEY``, ``params.KEY``, ``tags.KEY`` or an attribute name."""
        start = self.pos
        word = self.word()
        expected = "metrics.KEY, params.KEY, tags.KEY or one of " + ", ".join(attributes)
        if word is None:
            raise self.fail(expected)
        kind = _KIND_ALIASES.get(word.lower())
        if kind is not None and self.text.startswith(".", self.pos):
            self.pos += 1
            return kind, self.key()
        if word.lower() in ("attribute", "attributes") and self.text.startswith(".", self.pos):
            self.pos += 1
            word = self.word() or ""
        if word.lower() in attributes:
            return "attribute", word.lower()
        self.pos = start
        self.skip_space()
        raise self.fail(expected)

    def operator(self) -> str:
        self.skip_space()
        for op in ("!=", "<=", ">=", "<>", "==", "=", "<", ">"):
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return {"<>": "!=", "==": "="}.get(op, op)
        raise self.fail("an operator (= != < <= > >=)")

    def value(self) -> float | str:
        self.skip_space()
        quote = self.text[self.pos : self.pos + 1]
        if quote in ("'", '"'):
            pieces, at = [], self.pos + 1
            while True:
                end = self.text.find(quote, at)
                if end < 0:
                    raise self.fail(f"a closing {quote}")
                pieces.append(self.text[at:end])
                if self.text.startswith(quote, end + 1):  # a doubled quote is one quote
                    pieces.append(quote)
                    at = end + 2
                    continue
                self.pos = end + 1
                return "".join(pieces)
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            raise self.fail("a number or a quoted string")
        number = float(match.group())
        if not math.isfinite(number):
            raise self.fail("a finite number")
        self.pos = match.end()
        return number


def parse_filter(text: str | None, limits: Limits) -> list[Clause]:
    """The clauses of a filter (none for an empty one); :class:`InvalidInput` naming the
    position and what was expected for anything else."""
    if text is None or not text.strip():
        return []
    if len(text) > limits.run_filter_chars_max:
        raise InvalidInput(
            f"filter too long: {len(text):,} characters, at most "
            f"{limits.run_filter_chars_max:,} (limits.run_filter_chars_max)",
            hint="search with fewer clauses",
        )
    reader = _Reader(text, "filter")
    clauses: list[Clause] = []
    while True:
        if len(clauses) >= limits.run_filter_clauses_max:
            raise InvalidInput(
                f"filter has more than {limits.run_filter_clauses_max} clauses "
                "(limits.run_filter_clauses_max)",
                hint="search with fewer clauses",
            )
        kind, key = reader.what(FILTER_ATTRIBUTES)
        op = reader.operator()
        before = reader.pos
        value = reader.value()
        clause = Clause(kind, key, op, value)
        _check_types(clause, reader, before)
        clauses.append(clause)
        if reader.at_end():
            return clauses
        after = reader.pos
        word = reader.word()
        if word is None or word.lower() != "and":
            reader.pos = after
            reader.skip_space()
            raise reader.fail("'and' or the end of the filter")


def _check_types(clause: Clause, reader: _Reader, at: int) -> None:
    reader.pos = at
    reader.skip_space()
    if clause.kind == "metrics" and isinstance(clause.value, str):
        raise reader.fail(f"a number (metrics.{clause.key} is a number)")
    if clause.kind in ("tags", "attribute") and not isinstance(clause.value, str):
        raise reader.fail(f"a quoted string ({_label(clause)} is text)")
    if (
        isinstance(clause.value, str)
        and clause.op not in ("=", "!=")
        and clause.kind == "attribute"
    ):
        raise reader.fail(f"= or != before a string ({_label(clause)})")
    reader.pos = at
    reader.value()  # back to just after the value


def _label(clause: Clause) -> str:
    return clause.key if clause.kind == "attribute" else f"{clause.kind}.{clause.key}"


def parse_order(terms: Sequence[str] | str | None) -> list[Order]:
    """``["metrics.roc_auc desc", "params.lr"]``; default: ``started_at desc``."""
    if terms is None:
        return []
    listed = [terms] if isinstance(terms, str) else list(terms)
    if len(listed) > 10:
        raise InvalidInput(
            f"at most 10 order-by terms, got {len(listed)}", hint="order by fewer terms"
        )
    orders = []
    for term in listed:
        if not isinstance(term, str) or len(term) > 300:
            raise InvalidInput(
                "an order-by term is text of at most 300 characters",
                hint="for example: metrics.roc_auc desc",
            )
        reader = _Reader(term, "order-by")
        kind, key = reader.what(ORDER_ATTRIBUTES)
        descending = False
        if not reader.at_end():
            before = reader.pos
            word = reader.word()
            if word is None or word.lower() not in ("asc", "desc"):
                reader.pos = before
                raise reader.fail("asc, desc or the end")
            descending = word.lower() == "desc"
            if not reader.at_end():
                raise reader.fail("the end of the term")
        orders.append(Order(kind, key, descending))
    return orders


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}


def compare(clause: Clause, column: Any) -> ColumnElement[bool]:
    """``column <op> value`` for the clause's operator and (bound) value."""
    condition: ColumnElement[bool] = _COMPARE[clause.op](column, clause.value)
    return condition


def clause_condition(clause: Clause, correlated: bool = False) -> ColumnElement[bool]:
    """The clause as a condition on ``runs``: a run column, or an indexed subquery on the
    key's table: ``runs.id IN (SELECT run_id ... WHERE key = :k AND value <op> :v)`` (the
    (key, value) index finds every match once), or with ``correlated`` an ``EXISTS`` looked
    up by primary key (run_id, key) for each run a query walks in order, which stops once
    its page is full instead of collecting every match first."""
    if clause.kind == "attribute":
        return compare(clause, runs.c[clause.key])
    table = {"metrics": run_metrics, "params": run_params, "tags": run_tags}[clause.kind]
    column = table.c.value
    if clause.kind == "params" and isinstance(clause.value, float):
        column = run_params.c.number
    matching = (table.c.key == clause.key, compare(clause, column))
    if correlated:
        found: ColumnElement[bool] = exists().where(table.c.run_id == runs.c.id, *matching)
        return found
    return runs.c.id.in_(select(table.c.run_id).where(*matching))


def conditions(clauses: Sequence[Clause], correlated: bool = False) -> ColumnElement[bool] | None:
    parts = [clause_condition(c, correlated) for c in clauses]
    return and_(*parts) if parts else None
