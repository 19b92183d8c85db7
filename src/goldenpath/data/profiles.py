"""Column profiles of a dataset version, for inspection now and drift checks later.

One DuckDB scan computes counts, nulls, approximate distinct counts, min/max/mean/std and
approximate quantiles for every column; low-cardinality text and boolean columns then get
exact top values and an exact distinct count (``distinct_approx`` says which one a column has).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads

from goldenpath.core.sql import quote_identifier as quote
from goldenpath.core.sql import sandboxed_duckdb

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TOP_VALUES = 10
EXACT_TOP_MAX_DISTINCT = 10_000  # above this, exact top values cost a large group-by


def _kind(arrow_type: pa.DataType) -> str:
    t = pa.types
    if t.is_boolean(arrow_type):
        return "bool"
    if t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_decimal(arrow_type):
        return "numeric"
    if t.is_timestamp(arrow_type) or t.is_date(arrow_type):
        return "temporal"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_string_view(arrow_type):
        return "string"
    return "other"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _hash_sum(names: list[str]) -> str:
    """SQL for the sum of every row's hash over ``names`` (0 for no rows), as a HUGEINT."""
    every = ", ".join(quote(n) for n in names)
    return f"coalesce(sum(hash({every}))::HUGEINT, 0)"


def row_hash_sum(data: pa.Table, names: list[str]) -> tuple[int, int]:
    """The row count of ``data`` and the sum of its rows' hashes over ``names``, mod 2**64.

    A multiset digest: row order does not change it, a repeated row counts twice. The hashes
    are DuckDB's, which are not promised stable across DuckDB releases (a changed hash makes
    a batch look new, never two batches look the same).
    """
    if not names:
        return data.num_rows, 0
    con = sandboxed_duckdb({"data": data})
    try:
        (row,) = con.sql(f"SELECT count(*), {_hash_sum(names)} FROM data").fetchall()
    finally:
        con.close()
    return int(row[0]), int(row[1]) % 2**64


def profile(data: pa.Table | pads.Dataset) -> dict[str, Any]:
    """Profile every column of ``data``: a JSON-serialisable dict.

    ``content_sum`` is the sum of every row's hash modulo 2**64: with the schema and the row
    count it fingerprints the content independently of row order, file layout and format.
    """
    con = sandboxed_duckdb({"data": data})
    try:
        schema = data.schema
        selects = ["count(*)", _hash_sum(schema.names)]
        layout: list[tuple[str, str, list[str]]] = []
        for field in schema:
            col, kind = quote(field.name), _kind(field.type)
            stats = ["count", "nulls", "distinct"]
            selects += [
                f"count({col})",
                f"count(*) - count({col})",
                f"approx_count_distinct({col})",
            ]
            if kind in ("numeric", "temporal", "string"):
                stats += ["min", "max"]
                selects += [f"min({col})", f"max({col})"]
            if kind == "numeric":
                quantiles = ", ".join(str(q) for q in QUANTILES)
                stats += ["mean", "std", "quantiles"]
                selects += [
                    f"avg({col})",
                    f"stddev_samp({col})",
                    f"approx_quantile({col}::DOUBLE, [{quantiles}])",
                ]
            if kind == "bool":
                stats.append("true_fraction")
                selects.append(f"avg({col}::INTEGER)")
            layout.append((field.name, kind, stats))
        (row,) = con.sql(f"SELECT {', '.join(selects)} FROM data").fetchall()
        rows, content_sum = int(row[0]), int(row[1]) % 2**64
        columns: dict[str, Any] = {}
        position = 2
        for field, (name, kind, stats) in zip(schema, layout, strict=True):
            entry: dict[str, Any] = {"type": str(field.type), "kind": kind}
            for stat in stats:
                value = row[position]
                position += 1
                if stat == "quantiles":
                    entry[stat] = (
                        None
                        if value is None
                        else {
                            f"p{int(q * 100):02d}": v for q, v in zip(QUANTILES, value, strict=True)
                        }
                    )
                else:
                    entry[stat] = _jsonable(value)
            entry["null_fraction"] = entry["nulls"] / rows if rows else 0.0
            # approx_count_distinct is a HyperLogLog estimate (a few percent off); the group-by
            # that finds top values counts its groups too, which makes the count exact there.
            entry["distinct_approx"] = True
            if kind in ("string", "bool") and entry["distinct"] <= EXACT_TOP_MAX_DISTINCT:
                top = con.sql(
                    f"SELECT {quote(name)}, count(*) AS n, count(*) OVER () AS groups "
                    f"FROM data WHERE {quote(name)} IS NOT NULL GROUP BY 1 "
                    f"ORDER BY n DESC, 1 LIMIT {TOP_VALUES:d}"
                ).fetchall()
                entry["top_values"] = [{"value": _jsonable(v), "count": int(n)} for v, n, _ in top]
                entry["distinct"] = int(top[0][2]) if top else 0
                entry["distinct_approx"] = False
            columns[name] = entry
        return {"rows": rows, "content_sum": str(content_sum), "columns": columns}
    finally:
        con.close()
