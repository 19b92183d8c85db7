"""The pandera side of benchmarks/validation.py; runs inside benchmarks/.venv-pandera.

It needs only pandera, pandas and pyarrow (not goldenpath), so pandera never becomes a project
dependency. Input: the cached Parquet file as an argument and the contract's ``columns`` as JSON
on stdin. Output: one JSON object on stdout with the failing rows per rule, the rows failing any
rule, the best validation time, and the read and pandas-conversion times (not part of it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from typing import Any

import pandas as pd
import pandera.pandas as pdr
import pyarrow.parquet as pq
from pandera.errors import SchemaErrors

# pandera's names for the checks a Column makes itself, as the contract's rule names.
BUILTIN_RULES = {"not_nullable": "not_null", "field_uniqueness": "unique"}


def _bound(value: Any, series: pd.Series) -> Any:
    """A rule bound as pandera compares it with ``series``."""
    # The contract writes timestamp bounds as text ("2024-01-01").
    if isinstance(value, str) and pd.api.types.is_datetime64_any_dtype(series):
        return pd.Timestamp(value)
    return value


def build_schema(
    columns: dict[str, dict[str, Any]], frame: pd.DataFrame
) -> tuple[pdr.DataFrameSchema, dict[str, list[str]]]:
    """The pandera schema for the contract's columns, and each column's checks as rule names."""
    schema_columns = {}
    names: dict[str, list[str]] = {}
    for name, spec in columns.items():
        checks, rules = [], []
        if "min" in spec:
            checks.append(pdr.Check.ge(_bound(spec["min"], frame[name])))
            rules.append(f"{name}.min")
        if "max" in spec:
            checks.append(pdr.Check.le(_bound(spec["max"], frame[name])))
            rules.append(f"{name}.max")
        if "allowed" in spec:
            checks.append(pdr.Check.isin(spec["allowed"]))
            rules.append(f"{name}.allowed")
        if "regex" in spec:
            # pandera 0.35 has no str_fullmatch; str_matches anchors only at the start, and the
            # contract's pattern ends in $, so this is a full match.
            checks.append(pdr.Check.str_matches(spec["regex"]))
            rules.append(f"{name}.regex")
        # pandera's Column defaults to nullable=False; the contract's default is nullable.
        schema_columns[name] = pdr.Column(
            nullable=spec.get("nullable", True), unique=spec.get("unique", False), checks=checks
        )
        names[name] = rules
    return pdr.DataFrameSchema(schema_columns), names


def count_failures(
    failure_cases: pd.DataFrame, names: dict[str, list[str]]
) -> tuple[dict[str, int], int]:
    """Failing rows per rule, and the rows failing any rule, from pandera's failure cases."""
    counts: dict[str, int] = {}
    grouped = failure_cases.groupby(["column", "check", "check_number"], dropna=False).size()
    for (column, check, number), size in grouped.items():
        if check in BUILTIN_RULES:
            rule = f"{column}.{BUILTIN_RULES[check]}"
        elif pd.isna(number):
            raise ValueError(f"unexpected pandera failure {check!r} on {column!r}")
        else:
            rule = names[column][int(number)]
        counts[rule] = counts.get(rule, 0) + int(size)
    return counts, int(failure_cases["index"].nunique())


def validate(
    schema: pdr.DataFrameSchema, frame: pd.DataFrame, names: dict[str, list[str]]
) -> tuple[dict[str, int], int]:
    """Validate lazily, as the timed unit of work; the counts and rows failing any rule."""
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        return count_failures(errors.failure_cases, names)
    return {}, 0


def main() -> int:
    """Time the validation and print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    columns = json.load(sys.stdin)

    started = time.perf_counter()
    arrow = pq.read_table(args.parquet)
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    frame = arrow.to_pandas()
    convert_seconds = time.perf_counter() - started
    del arrow

    schema, names = build_schema(columns, frame)
    best: float | None = None
    counts: dict[str, int] = {}
    rows_failed = 0
    for _ in range(args.runs):
        started = time.perf_counter()
        counts, rows_failed = validate(schema, frame, names)
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    for name, rules in names.items():
        spec = columns[name]
        implicit = [f"{name}.not_null"] * (not spec.get("nullable", True))
        implicit += [f"{name}.unique"] * bool(spec.get("unique", False))
        for rule in [*rules, *implicit]:
            counts.setdefault(rule, 0)
    json.dump(
        {
            "counts": counts,
            "rows_failed": rows_failed,
            "seconds": best,
            "read_seconds": read_seconds,
            "convert_seconds": convert_seconds,
            "versions": {p: version(p) for p in ("pandera", "pandas", "pyarrow", "numpy")},
            "dtypes": {name: str(dtype) for name, dtype in frame.dtypes.items()},
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
