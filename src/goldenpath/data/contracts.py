"""Data contracts: what a dataset promises about its columns and its table.

A contract is a YAML file per dataset::

    on_violation: quarantine        # or reject (the default)
    additive_changes: allow         # or forbid: refuse batches that add columns
    columns:
      tx_id:   {type: string, nullable: false, unique: true, regex: "^tx_[0-9]+$"}
      amount:  {type: float, min: 0, max: 50000, mean: {min: 10, max: 500}}
      country: {type: string, allowed: [DE, FR, US]}
      ts:      {type: timestamp, nullable: false}
    table:
      rows: {min: 1, max: 10000000}
      freshness: {column: ts, max_age: 2d}

See docs/contracts.md for every key.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from goldenpath.core.errors import ContractError
from goldenpath.core.yamlfile import parse_yaml_model, read_text

LogicalType = Literal["int", "float", "string", "bool", "timestamp", "date"]
RuleScope = Literal["row", "table"]

# Where each kind of rule is checked, by the last part of its name (``amount.min`` -> ``min``).
# A row rule is decided by one row (with ``unique``: one row against the others and the stored
# data, which a push checks exactly); a table rule by a batch as a whole: a statistic, a count
# or the newest value, which a push of a few rows cannot meet or break in any useful sense.
# Every kind has exactly one meaningful scope, so a contract cannot override it
# (docs/contracts.md, "Where rules apply").
RULE_SCOPES: dict[str, RuleScope] = {
    "type": "row",
    "not_null": "row",
    "unique": "row",
    "min": "row",
    "max": "row",
    "allowed": "row",
    "regex": "row",
    "mean": "table",
    "std": "table",
    "null_fraction": "table",
    "rows": "table",
    "freshness": "table",
}
# Table rules that count a batch's rows: pushed rows are bounded by limits.push_rows_max
# instead, and a count of the rows pushed between two materialisations means nothing.
BATCH_ONLY_RULES = frozenset({"table.rows"})


def rule_scope(rule: str) -> RuleScope:
    """The scope of a rule named as in reports (``amount.min``, ``table.rows``)."""
    return RULE_SCOPES[rule.rsplit(".", 1)[-1]]


# The Arrow type a column is cast to when its contract type and its read type differ.
ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}
# The DuckDB type used for TRY_CAST of a mismatched column.
SQL_TYPES = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}
_DURATION = re.compile(r"^([0-9]+)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The longest max_age a freshness rule may state: a century is "no limit" in practice, and a
# bound keeps 99999999999999999d from overflowing timedelta (an OverflowError, not an error).
DURATION_MAX = timedelta(days=36_500)


def matches_type(logical: str, arrow_type: pa.DataType) -> bool:
    """Whether an Arrow type already satisfies a contract's logical type (no cast needed)."""
    t = pa.types
    checks = {
        "int": t.is_integer,
        "float": lambda a: t.is_floating(a) or t.is_integer(a),
        "string": lambda a: t.is_string(a) or t.is_large_string(a) or t.is_string_view(a),
        "bool": t.is_boolean,
        "timestamp": t.is_timestamp,
        "date": t.is_date,
    }
    return bool(checks[logical](arrow_type))


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``6h``, ``2d``, ``1w`` as a timedelta, at most :data:`DURATION_MAX`."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number and s, m, h, d or w, e.g. 2d")
    amount, unit = match.group(1), _UNITS[match.group(2)]
    # Compare before building the timedelta: a 17-digit number of days overflows it.
    seconds_per = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
    if len(amount) > 12 or int(amount) * seconds_per[unit] > DURATION_MAX.total_seconds():
        raise ValueError(f"duration {text!r} is longer than {DURATION_MAX.days:,} days")
    return timedelta(**{unit: int(amount)})


def _re2_error(pattern: str) -> str | None:
    """Why DuckDB's regex engine (RE2) refuses ``pattern``, or None if it accepts it.

    RE2 has no back-references or look-around, which Python's ``re`` accepts: asking the
    engine that will run the pattern is the only check that agrees with it.
    """
    import duckdb

    from goldenpath.core.sql import sandboxed_duckdb

    con = sandboxed_duckdb()
    try:
        con.execute("SELECT regexp_full_match('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        return str(exc).split("Error: ", 1)[-1].splitlines()[0]
    finally:
        con.close()
    return None


class Bounds(BaseModel):
    """An inclusive range; either end may be open."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class ColumnRules(BaseModel):
    """Rules for one column. Row rules flag single rows; distribution rules judge the batch."""

    model_config = ConfigDict(extra="forbid")

    type: LogicalType | None = None
    # Strict: "no" (quoted) is a string, and a lax bool would read it as False.
    nullable: StrictBool = True
    unique: StrictBool = False
    min: float | str | None = None  # a string for timestamp/date bounds ("2024-01-01")
    max: float | str | None = None
    allowed: list[str | int | float | bool] | None = Field(default=None, min_length=1)
    regex: str | None = None
    mean: Bounds | None = None
    std: Bounds | None = None
    null_fraction: Bounds | None = None

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from None
            problem = _re2_error(value)
            if problem is not None:
                raise ValueError(
                    f"regex is not supported by the validator's engine (RE2: no "
                    f"back-references or look-around): {problem}"
                )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ColumnRules:
        lo, hi = self.min, self.max
        if lo is not None and hi is not None:
            if isinstance(lo, str) != isinstance(hi, str):
                raise ValueError("min and max must both be numbers or both be dates")
            if lo > hi:  # type: ignore[operator]  # same kind, checked above
                raise ValueError(f"min ({lo}) is greater than max ({hi})")
        return self

    @field_validator("null_fraction")
    @classmethod
    def _fraction(cls, value: Bounds | None) -> Bounds | None:
        if value is not None:
            for end in (value.min, value.max):
                if end is not None and not 0 <= end <= 1:
                    raise ValueError("null_fraction bounds must be between 0 and 1")
        return value


class Freshness(BaseModel):
    """The newest value of a timestamp column must be at most ``max_age`` old."""

    model_config = ConfigDict(extra="forbid")

    column: str
    max_age: str

    @field_validator("max_age")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class RowCount(BaseModel):
    """Bounds on the number of rows in a batch."""

    model_config = ConfigDict(extra="forbid")

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class TableRules(BaseModel):
    """Rules on a whole batch."""

    model_config = ConfigDict(extra="forbid")

    rows: RowCount | None = None
    freshness: Freshness | None = None


class Contract(BaseModel):
    """A dataset's data contract."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = None
    description: str | None = None
    # What policies see as object.classification on ingest (e.g. restricted needs approval).
    classification: Literal["public", "internal", "confidential", "restricted"] | None = None
    on_violation: Literal["reject", "quarantine"] = "reject"
    additive_changes: Literal["allow", "forbid"] = "allow"
    columns: dict[str, ColumnRules] = Field(default_factory=dict)
    table: TableRules = TableRules()

    @model_validator(mode="after")
    def _freshness_column(self) -> Contract:
        fresh = self.table.freshness
        if fresh is not None and fresh.column in self.columns:
            declared = self.columns[fresh.column].type
            if declared not in (None, "timestamp", "date"):
                raise ValueError(
                    f"freshness column {fresh.column!r} is declared {declared}, "
                    "not timestamp or date"
                )
        return self

    def row_rules(self) -> Contract:
        """This contract with only its row rules (what a push applies, by
        :data:`RULE_SCOPES`); column types are kept, whatever their scope, to read values."""
        return self._scoped("row", keep_rows=False)

    def table_rules(self, *, pushed: bool = False) -> Contract:
        """This contract with only its table rules (column types kept, to read the values);
        ``pushed``: without the rules that count a batch (:data:`BATCH_ONLY_RULES`)."""
        return self._scoped("table", keep_rows=not pushed)

    def _scoped(self, scope: RuleScope, *, keep_rows: bool) -> Contract:
        columns = {}
        for name, rules in self.columns.items():
            update: dict[str, object] = {}
            for kind, value in _COLUMN_RULE_OFF.items():
                if RULE_SCOPES[kind] != scope:
                    update[kind if kind != "not_null" else "nullable"] = value
            columns[name] = rules.model_copy(update=update)
        table = self.table.model_copy(
            update={
                kind: None
                for kind in ("rows", "freshness")
                if RULE_SCOPES[kind] != scope or (kind == "rows" and not keep_rows)
            }
        )
        return self.model_copy(update={"columns": columns, "table": table})

    def table_rule_names(self) -> list[str]:
        """The table rules this contract states, named as in reports."""
        names = [
            f"{column}.{kind}"
            for column, rules in self.columns.items()
            for kind in ("mean", "std", "null_fraction")
            if getattr(rules, kind) is not None
        ]
        names += [f"table.{kind}" for kind in ("rows", "freshness") if getattr(self.table, kind)]
        return names

    def rule_count(self) -> int:
        """How many rules this contract states (what ``gp data validate`` checks)."""
        count = 0
        for rules in self.columns.values():
            count += sum(
                1
                for v in (
                    rules.type,
                    rules.min,
                    rules.max,
                    rules.allowed,
                    rules.regex,
                    rules.mean,
                    rules.std,
                    rules.null_fraction,
                )
                if v is not None
            )
            count += (not rules.nullable) + rules.unique
        count += sum(1 for v in (self.table.rows, self.table.freshness) if v is not None)
        return count


# Each column rule kind (but type) and the value that switches it off.
_COLUMN_RULE_OFF: dict[str, object] = {
    "not_null": True,  # the field is ``nullable``
    "unique": False,
    "min": None,
    "max": None,
    "allowed": None,
    "regex": None,
    "mean": None,
    "std": None,
    "null_fraction": None,
}


class LoadedContract(BaseModel):
    """A parsed contract with its source text and that text's sha256."""

    contract: Contract
    text: str
    sha256: str


def parse_contract(text: str, *, source: str = "contract") -> LoadedContract:
    """Parse contract YAML text; errors name ``source`` and the line."""
    contract = parse_yaml_model(
        text, Contract, source=source, docs="docs/contracts.md", error=ContractError
    )
    return LoadedContract(
        contract=contract, text=text, sha256=hashlib.sha256(text.encode()).hexdigest()
    )


def load_contract(path: Path) -> LoadedContract:
    """Read and parse a contract file."""
    return parse_contract(read_text(path, error=ContractError), source=str(path))
