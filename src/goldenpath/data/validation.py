"""Checking a batch against its contract, vectorised in DuckDB.

Every row rule becomes a SQL predicate that is true when a row *breaks* the rule (NULL counts as
not broken; nullability is its own rule). All rules are counted in one scan of the Arrow batch
(zero-copy into DuckDB), together with the aggregates the table rules need. Only when rows fail
and the contract says ``quarantine`` does a second scan split the batch into valid rows (cast to
the contract's types) and failing rows (kept as their original text, with the rules they broke).

Column names and rule names are the uploader's text: they reach SQL only through
:func:`~goldenpath.core.sql.quote_identifier` or as ``?`` parameters, on a sandboxed connection.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads

from goldenpath.core.errors import ContractError
from goldenpath.core.humanize import duration, plural
from goldenpath.core.limits import Limits
from goldenpath.core.sql import quote_identifier as quote
from goldenpath.core.sql import sandboxed_duckdb
from goldenpath.data.columns import check_names
from goldenpath.data.contracts import (
    SQL_TYPES,
    Contract,
    matches_type,
    parse_duration,
    rule_scope,
)

# Defaults when the caller passes no limits (the service passes the workspace's).
EXAMPLES = Limits().error_examples_max
EXAMPLE_CHARS = Limits().example_chars_max
# Column names listed in an error before "and N more": a 2,000-column file must not make a
# 20 MB message.
NAMES_SHOWN = 20
# Failed rules listed in a summary, and characters of each rule's name shown there.
FAILURES_SHOWN = 20
RULE_CHARS = 120
ERROR_CHARS = 300  # of an engine error, which may quote a column name whole


def shorten(text: str, chars: int) -> str:
    """``text`` cut to at most ``chars`` characters, marking the cut."""
    return text if len(text) <= chars else text[: max(chars - 1, 0)] + "…"


def _names(names: list[str], chars: int) -> str:
    shown = ", ".join(shorten(n, chars) for n in names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome: how many rows broke it (table rules: 1 or 0) and examples."""

    rule: str
    scope: str  # "row" or "table"
    failed: int
    message: str
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ValidationReport:
    """What checking a batch found."""

    rows_checked: int
    rows_failed: int
    results: list[RuleResult]
    seconds: float
    # A push's report (row rules only): the table rules left for the next materialisation to
    # check over the pushed rows, and those never applied to pushes (they count a batch).
    pending: list[str] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.failed == 0 for r in self.results)

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if r.failed]

    @property
    def table_failures(self) -> list[RuleResult]:
        return [r for r in self.failures if r.scope == "table"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "rows_checked": self.rows_checked,
            "rows_failed": self.rows_failed,
            "rules_checked": len(self.results),
            "seconds": round(self.seconds, 4),
            "failures": [asdict(r) for r in self.failures],
            "passed_rules": [
                {"rule": r.rule, "scope": r.scope} for r in self.results if not r.failed
            ],
            "pending": list(self.pending),
            "not_applied": list(self.not_applied),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        """Rebuild a report from :meth:`as_dict` (the remote SDK receives it as JSON)."""
        results = [RuleResult(**r) for r in data["failures"]]
        results += [
            RuleResult(r["rule"], r["scope"], 0, "passed") for r in data.get("passed_rules", [])
        ]
        return cls(
            data["rows_checked"],
            data["rows_failed"],
            results,
            data["seconds"],
            list(data.get("pending", [])),
            list(data.get("not_applied", [])),
        )

    def summary(self) -> str:
        if self.passed:
            rules = plural(len(self.results), "rule")
            return f"all {rules} passed on {plural(self.rows_checked, 'row')}"
        lines = [
            f"{len(self.failures)} of {plural(len(self.results), 'rule')} failed "
            f"({self.rows_failed:,} of {plural(self.rows_checked, 'row')}):"
        ]
        # Rule names hold column names (up to limits.column_name_chars_max each): the message
        # names each failure briefly and lists a bounded number; as_dict() keeps them whole.
        for r in self.failures[:FAILURES_SHOWN]:
            examples = f" e.g. {', '.join(r.examples)}" if r.examples else ""
            lines.append(f"  {shorten(r.rule, RULE_CHARS)}: {r.message}{examples}")
        if len(self.failures) > FAILURES_SHOWN:
            lines.append(f"  ... and {len(self.failures) - FAILURES_SHOWN} more failed rules")
        return "\n".join(lines)

    def refusal_hint(self, *, quarantine: bool, contract: str) -> str:
        """What to do about a refused batch, never contradicting the contract it broke.

        A table rule (a count, a statistic, freshness) cannot be met by holding rows back, so
        its hint names the rule, what was found and what was expected, and says to relax or
        remove it in ``contract``. ``on_violation: quarantine`` is suggested only when the
        contract does not already say so and rows failed row rules (what quarantine fixes).
        """
        advice = []
        tables = self.table_failures
        if tables:
            shown = "; ".join(
                f"{shorten(r.rule, RULE_CHARS)} ({r.message})" for r in tables[:HINT_RULES]
            )
            more = len(tables) - HINT_RULES
            shown += f" and {plural(more, 'more table rule')}" if more > 0 else ""
            rules = [_contract_key(r.rule) for r in tables[:HINT_RULES]]
            keys = ", ".join(shorten(k, RULE_CHARS) for k in rules)
            advice.append(
                f"{shown}: holding rows back cannot meet a table rule; if the data is right, "
                f"relax or remove {keys} in {contract}"
            )
        row_failures = len(self.failures) - len(tables)
        if row_failures and not quarantine:
            advice.append(
                "fix the data, or set on_violation: quarantine to keep the valid rows "
                "and hold back the failing ones"
            )
        elif row_failures:
            advice.append("once the table rules pass, rows that break row rules are quarantined")
        return "; ".join(advice)


# Table rules named in a refusal's hint (the message lists up to FAILURES_SHOWN).
HINT_RULES = 3


def _contract_key(rule: str) -> str:
    """Where a rule lives in the contract: ``table.rows``, ``columns.amount.mean``."""
    return rule if rule.startswith("table.") else f"columns.{rule}"


@dataclass(frozen=True)
class ValidatedBatch:
    """A checked batch: the report, the rows to keep (typed), and the rows to quarantine."""

    report: ValidationReport
    valid: pa.Table
    quarantined: pa.Table | None


@dataclass(frozen=True)
class _RowRule:
    name: str
    column: str
    predicate: str  # true when a row breaks the rule
    params: list[Any]
    what: str  # "values below 0": a plural noun first, made singular for a count of one


@dataclass
class _Plan:
    typed: dict[str, str]
    row_rules: list[_RowRule]
    aggregates: list[tuple[str, str]]  # (alias, sql)


def _counted(count: int, what: str) -> str:
    """``1 value below 0``, ``2 values below 0``: ``what`` starts with a plural noun."""
    noun, _, rest = what.partition(" ")
    return f"{plural(count, noun.removesuffix('s'), noun)} {rest}".rstrip()


def _bound_param(value: float | str, logical: str | None) -> tuple[str, Any]:
    if isinstance(value, str) and logical in ("timestamp", "date"):
        return f"CAST(? AS {SQL_TYPES[logical]})", value
    return "?", value


def _cast(col: str, arrow_type: pa.DataType, logical: str) -> str:
    """SQL casting ``col`` to the contract's type: NULL where the value does not fit."""
    if logical == "int":
        # DuckDB rounds when casting '1.5' or 1.5 to BIGINT; a contract must refuse it instead.
        if pa.types.is_floating(arrow_type):
            return f"(CASE WHEN {col} = trunc({col}) THEN TRY_CAST({col} AS BIGINT) END)"
        return (
            f"(CASE WHEN regexp_full_match(trim(CAST({col} AS VARCHAR)), '[+-]?[0-9]+') "
            f"THEN TRY_CAST(trim(CAST({col} AS VARCHAR)) AS BIGINT) END)"
        )
    return f"TRY_CAST({col} AS {SQL_TYPES[logical]})"


def _plan(contract: Contract, schema: pa.Schema, has_existing: set[str]) -> _Plan:
    missing = [c for c in contract.columns if c not in schema.names]
    if missing:
        raise ContractError(
            "the contract names column(s) the data does not have: "
            + _names(missing, EXAMPLE_CHARS),
            hint=f"the data has: {_names(schema.names, EXAMPLE_CHARS)}; "
            "fix the contract or the file",
        )
    fresh = contract.table.freshness
    if fresh is not None and fresh.column not in schema.names:
        raise ContractError(
            f"the freshness column {shorten(repr(fresh.column), EXAMPLE_CHARS)} is not in the data"
        )
    typed: dict[str, str] = {}
    rules: list[_RowRule] = []
    aggregates: list[tuple[str, str]] = []
    for index, (name, spec) in enumerate(contract.columns.items()):
        col = quote(name)
        arrow_type = schema.field(name).type
        logical = spec.type
        if logical is not None and not matches_type(logical, arrow_type):
            typed[name] = _cast(col, arrow_type, logical)
            rules.append(
                _RowRule(
                    f"{name}.type",
                    name,
                    f"({col} IS NOT NULL AND {typed[name]} IS NULL)",
                    [],
                    f"values not of type {logical}",
                )
            )
        elif logical == "float" and pa.types.is_integer(arrow_type):
            typed[name] = f"CAST({col} AS DOUBLE)"  # always succeeds: widening, not a failure
        else:
            typed[name] = col
        value = typed[name]
        if logical is None and pa.types.is_timestamp(arrow_type):
            logical = "timestamp"
        if not spec.nullable:
            rules.append(_RowRule(f"{name}.not_null", name, f"({col} IS NULL)", [], "nulls"))
        if spec.min is not None:
            sql, param = _bound_param(spec.min, logical)
            rules.append(
                _RowRule(
                    f"{name}.min", name, f"({value} < {sql})", [param], f"values below {spec.min}"
                )
            )
        if spec.max is not None:
            sql, param = _bound_param(spec.max, logical)
            rules.append(
                _RowRule(
                    f"{name}.max", name, f"({value} > {sql})", [param], f"values above {spec.max}"
                )
            )
        if spec.allowed is not None:
            stringy = logical == "string" or (
                logical is None
                and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))
            )
            values = [str(v) if stringy else v for v in spec.allowed]
            marks = ", ".join("?" for _ in values)
            rules.append(
                _RowRule(
                    f"{name}.allowed",
                    name,
                    f"({value} NOT IN ({marks}))",
                    values,
                    "values not in the allowed list",
                )
            )
        if spec.regex is not None:
            rules.append(
                _RowRule(
                    f"{name}.regex",
                    name,
                    f"(NOT regexp_full_match(CAST({value} AS VARCHAR), ?))",
                    [spec.regex],
                    f"values not matching /{spec.regex}/",
                )
            )
        if spec.unique:
            scope = " in this batch or the existing data" if name in has_existing else ""
            rules.append(
                _RowRule(
                    f"{name}.unique",
                    name,
                    f"({value} IN (SELECT v FROM _gp_dup_{index}))",
                    [],
                    f"rows sharing a value{scope}",
                )
            )
        if spec.mean is not None:
            aggregates.append((f"mean_{index}", f"avg({value})"))
        if spec.std is not None:
            aggregates.append((f"std_{index}", f"stddev_samp({value})"))
        if spec.null_fraction is not None:
            aggregates.append((f"nulls_{index}", f"count(*) FILTER (WHERE {col} IS NULL)"))
    if fresh is not None:
        declared = contract.columns[fresh.column].type if fresh.column in contract.columns else None
        arrow_type = schema.field(fresh.column).type
        temporal = pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type)
        if declared not in ("timestamp", "date") and not temporal:
            # max() of text would compare strings, and the age of a string is a crash.
            raise ContractError(
                f"the freshness column {shorten(repr(fresh.column), EXAMPLE_CHARS)} holds "
                f"{arrow_type}, not timestamps or dates",
                hint="declare it in the contract's columns with type: timestamp "
                "(its values are then parsed), or point freshness at a timestamp column",
            )
        column = typed.get(fresh.column, quote(fresh.column))
        aggregates.append(("freshness", f"max({column})"))
    return _Plan(typed, rules, aggregates)


def _as_utc(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _table_results(
    contract: Contract, rows: int, agg: dict[str, Any], now: datetime
) -> list[RuleResult]:
    results: list[RuleResult] = []

    def bounded(
        rule: str, label: str, value: float | None, lo: float | None, hi: float | None
    ) -> None:
        broken = value is None or (lo is not None and value < lo) or (hi is not None and value > hi)
        shown = "no values" if value is None else f"{value:.6g}"
        expected = f"{'-inf' if lo is None else f'{lo:g}'}..{'inf' if hi is None else f'{hi:g}'}"
        results.append(
            RuleResult(
                rule, rule_scope(rule), int(broken), f"{label} is {shown}, expected {expected}"
            )
        )

    for index, (name, spec) in enumerate(contract.columns.items()):
        if spec.mean is not None:
            bounded(
                f"{name}.mean",
                f"mean of {name}",
                agg[f"mean_{index}"],
                spec.mean.min,
                spec.mean.max,
            )
        if spec.std is not None:
            bounded(
                f"{name}.std", f"std of {name}", agg[f"std_{index}"], spec.std.min, spec.std.max
            )
        if spec.null_fraction is not None:
            fraction = agg[f"nulls_{index}"] / rows if rows else 0.0
            bounded(
                f"{name}.null_fraction",
                f"null fraction of {name}",
                fraction,
                spec.null_fraction.min,
                spec.null_fraction.max,
            )
    bounds = contract.table.rows
    if bounds is not None:
        lo, hi = bounds.min, bounds.max
        broken = (lo is not None and rows < lo) or (hi is not None and rows > hi)
        results.append(
            RuleResult(
                "table.rows",
                rule_scope("table.rows"),
                int(broken),
                f"batch has {plural(rows, 'row')}, expected "
                f"{lo if lo is not None else 0:,}..{'inf' if hi is None else f'{hi:,}'}",
            )
        )
    fresh = contract.table.freshness
    if fresh is not None:
        newest = agg["freshness"]
        limit = parse_duration(fresh.max_age)
        if newest is None:
            results.append(
                RuleResult(
                    "table.freshness",
                    rule_scope("table.freshness"),
                    1,
                    f"{fresh.column} has no values",
                )
            )
        else:
            age = now - _as_utc(newest)
            results.append(
                RuleResult(
                    "table.freshness",
                    rule_scope("table.freshness"),
                    int(age > limit),
                    f"newest {fresh.column} is {newest} ({duration(age.total_seconds())} old), "
                    f"max age {fresh.max_age}",
                )
            )
    return results


def _count(
    con: duckdb.DuckDBPyConnection, plan: _Plan
) -> tuple[int, list[int], int, dict[str, Any]]:
    """Rows, each row rule's failure count, rows failing any rule, and table aggregates.

    Each row's broken rules are folded into one bitmask and the batch is grouped by it: one
    scan gives every rule's count *and* the rows failing any of them. (Counting with one
    FILTER per rule and then the OR of all predicates took a second full scan: ~0.4 s of 1.4 s
    at 5M rows x 16 rules; see benchmarks/RESULTS.md.)
    """
    rules = plan.row_rules
    params = [p for rule in rules for p in rule.params]
    aggregates: dict[str, Any] = {}
    rows = -1
    if plan.aggregates or not rules:
        sql = ", ".join(["count(*)", *(agg for _, agg in plan.aggregates)])
        (row,) = con.sql(f"SELECT {sql} FROM batch").fetchall()
        rows = int(row[0])
        aggregates = {alias: row[1 + i] for i, (alias, _) in enumerate(plan.aggregates)}
    if not rules:
        return rows, [], 0, aggregates
    if len(rules) <= 62:
        mask = " + ".join(
            f"(CASE WHEN {r.predicate} THEN {1 << i}::BIGINT ELSE 0 END)"
            for i, r in enumerate(rules)
        )
        groups = con.sql(
            f"SELECT m, count(*) FROM (SELECT {mask} AS m FROM batch) GROUP BY m", params=params
        ).fetchall()
        counts = [sum(n for m, n in groups if m >> i & 1) for i in range(len(rules))]
        return (sum(n for _, n in groups), counts, sum(n for m, n in groups if m), aggregates)
    # More rules than bits: one FILTER per rule, then a second scan for rows failing any.
    selects = ", ".join(f"count(*) FILTER (WHERE {r.predicate})" for r in rules)
    any_broken = " OR ".join(r.predicate for r in rules)
    (row,) = con.sql(
        f"SELECT count(*), {selects}, count(*) FILTER (WHERE {any_broken}) FROM batch",
        params=params + params,
    ).fetchall()
    return int(row[0]), [int(c) for c in row[1:-1]], int(row[-1]), aggregates


def validate_batch(
    table: pa.Table,
    contract: Contract,
    *,
    now: datetime,
    existing: pads.Dataset | None = None,
    split: bool = False,
    examples_max: int = EXAMPLES,
    example_chars_max: int = EXAMPLE_CHARS,
) -> ValidatedBatch:
    """Check ``table`` against ``contract``.

    ``existing`` is the dataset's current data: unique columns must not repeat its values.
    With ``split`` (quarantine), failing rows are separated from valid ones; otherwise ``valid``
    is the whole batch, cast to the contract's types. Each failed rule keeps at most
    ``examples_max`` example values, each cut to ``example_chars_max`` characters (the report
    goes into error messages and audit events: ``limits.error_examples_max`` and
    ``limits.example_chars_max``).
    """
    started = time.perf_counter()
    # What read_table refuses, refused here too for callers that pass a table of their own
    # (a NUL cannot be quoted; a _gp_ column would collide with the quarantine's own).
    check_names(table.column_names, "the batch", chars_max=Limits().column_name_chars_max)
    existing_columns = set(existing.schema.names) if existing is not None else set()
    plan = _plan(contract, table.schema, existing_columns)
    # Sandboxed: even a quoting bug here could read nothing but these two tables.
    tables: dict[str, pa.Table | pads.Dataset] = {"batch": table}
    if existing is not None:
        tables["existing"] = existing
    con = sandboxed_duckdb(tables)
    try:
        return _run(
            con,
            table,
            contract,
            plan,
            now,
            existing,
            split,
            started,
            (examples_max, example_chars_max),
        )
    except duckdb.Error as exc:
        raise ContractError(
            "the contract cannot be checked on this data: "
            + shorten(str(exc).splitlines()[0], ERROR_CHARS)
        ) from None
    finally:
        con.close()


def _run(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    contract: Contract,
    plan: _Plan,
    now: datetime,
    existing: pads.Dataset | None,
    split: bool,
    started: float,
    example_limits: tuple[int, int],
) -> ValidatedBatch:
    examples_max, chars_max = example_limits
    for index, (name, spec) in enumerate(contract.columns.items()):
        if not spec.unique:
            continue
        value = plan.typed[name]
        sql = (
            f"CREATE TEMP TABLE _gp_dup_{index} AS SELECT {value} AS v FROM batch "
            f"WHERE {value} IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
        )
        if existing is not None and name in existing.schema.names:
            sql += (
                f" UNION SELECT {value} FROM batch WHERE {value} IN "
                f"(SELECT {quote(name)} FROM existing)"
            )
        con.execute(sql)

    rows, counts, rows_failed, aggregates = _count(con, plan)

    results: list[RuleResult] = []
    for rule, failed in zip(plan.row_rules, counts, strict=True):
        examples: list[str] = []
        if failed:
            # left() before the value leaves DuckDB: a 5 MB cell is never copied whole.
            sample = con.sql(
                f"SELECT left(CAST({quote(rule.column)} AS VARCHAR), ?) FROM batch "
                f"WHERE {rule.predicate} LIMIT 50",
                params=[chars_max + 1, *rule.params],
            ).fetchall()
            examples = list(
                dict.fromkeys(
                    "null" if v is None else shorten(repr(v), chars_max) for (v,) in sample
                )
            )[:examples_max]
        results.append(
            RuleResult(
                rule.name, rule_scope(rule.name), failed, _counted(failed, rule.what), examples
            )
        )
    results.extend(_table_results(contract, rows, aggregates, now))

    any_broken = " OR ".join(r.predicate for r in plan.row_rules) or "false"
    all_params = [p for r in plan.row_rules for p in r.params]
    quarantined: pa.Table | None = None
    typed_columns = ", ".join(
        f"{plan.typed.get(n, quote(n))} AS {quote(n)}" for n in table.column_names
    )
    needs_cast = any(plan.typed[n] != quote(n) for n in plan.typed)

    if any(counts) and split:
        # _gp_row numbers data rows from 1, as a person counts them in the file (the header
        # of a CSV is not a data row: data row N is on line N + 1).
        numbered = table.append_column("_gp_row", pa.array(np.arange(1, rows + 1, dtype=np.int64)))
        con.register("batch", numbered)
        valid = con.sql(
            f"SELECT {typed_columns} FROM batch WHERE NOT coalesce({any_broken}, false)",
            params=all_params,
        ).to_arrow_table()
        # The rule's name (which holds a column name) is a bound parameter, never SQL text:
        # pasted in as '...' it was the injection of issue 11.
        labels = ", ".join(
            f"CASE WHEN coalesce({r.predicate}, false) THEN ?::VARCHAR END" for r in plan.row_rules
        )
        label_params = [p for r in plan.row_rules for p in (*r.params, r.name)]
        raw = ", ".join(f"CAST({quote(n)} AS VARCHAR) AS {quote(n)}" for n in table.column_names)
        quarantined = con.sql(
            f"SELECT {raw}, list_filter([{labels}], lambda x: x IS NOT NULL) AS _gp_rules, "
            f"_gp_row FROM batch WHERE coalesce({any_broken}, false)",
            params=label_params + all_params,
        ).to_arrow_table()
        rows_failed = quarantined.num_rows
    else:
        valid = (
            con.sql(f"SELECT {typed_columns} FROM batch").to_arrow_table() if needs_cast else table
        )
    report = ValidationReport(rows, rows_failed, results, time.perf_counter() - started)
    return ValidatedBatch(report, valid, quarantined)
