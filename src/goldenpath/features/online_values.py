"""Computing online values at read time: windowed aggregations over the events in a window,
stored values decoded to their types, on-demand functions run on the online inputs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from goldenpath.core.errors import InvalidInput
from goldenpath.features.definitions import Aggregation, OnDemandFeatureView, parse_feature_ref
from goldenpath.features.online.base import StoredEvent

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def run_on_demand(
    odfv: OnDemandFeatureView,
    outputs: tuple[str, ...],
    rows: list[dict[str, Any]],
    values: dict[str, list[Any]],
    statuses: dict[str, list[str]],
    ages: dict[str, list[float | None]],
) -> None:
    """Run an on-demand view's function once per entity row, on its input features (by feature
    name) and its request fields (from the entity row): the function training sets run."""
    inputs = [parse_feature_ref(ref)[1] for ref in odfv.inputs]
    columns: dict[str, list[Any]] = {name: [] for name in outputs}
    for index, row in enumerate(rows):
        given = {name: values[name][index] for name in inputs}
        for field in odfv.request:
            if field.name not in row:
                raise InvalidInput(
                    f"an entity row lacks request field {field.name!r} (on-demand view "
                    f"{odfv.name!r})",
                    hint=f"give every row: {', '.join(f.name for f in odfv.request)}",
                )
            given[field.name] = row[field.name]
        result = odfv.function(given)
        for name in outputs:
            if not isinstance(result, Mapping) or name not in result:
                raise InvalidInput(
                    f"on-demand view {odfv.name!r}: its function returned no {name!r}",
                    hint="return a mapping with one value per output",
                )
            columns[name].append(result[name])
    for name in outputs:
        values[name] = columns[name]
        statuses[name] = ["present"] * len(rows)
        ages[name] = [None] * len(rows)


def event_time(event: StoredEvent) -> int:
    return event[0]


def aggregate(aggregation: Aggregation, events: list[StoredEvent], index: int | None) -> Any:
    """One windowed aggregation over the events in its window (semantics.md)."""
    function = aggregation.function
    if index is None:  # count(*)
        return len(events)
    if function == "count":
        return sum(1 for e in events if e[1][index] is not None)
    # nulls (and NaN, which SQL aggregates treat as a value but stores cannot tell from null
    # after JSON) are ignored
    present = [v for e in events if (v := e[1][index]) is not None and v == v]
    if function == "count_distinct":
        return len(set(present))
    if not present:
        return aggregation.default
    if function == "mean":
        return float(sum(present)) / len(present)
    if function == "sum":
        result: Any = sum(present)
    elif function == "min":
        result = min(present)
    else:
        result = max(present)
    return cast_like_duckdb(str(aggregation.dtype), result)


def cast_like_duckdb(dtype: str, value: Any) -> Any:
    """A value cast as DuckDB's CAST would (to an integer: rounded half away from zero)."""
    if dtype == "int64" and isinstance(value, float):
        return int(value + 0.5) if value >= 0 else -int(-value + 0.5)
    if dtype == "float64" and isinstance(value, int):
        return float(value)
    if dtype == "timestamp" and isinstance(value, int):
        return EPOCH + timedelta(microseconds=value)
    return value


def decode(dtype: str, value: Any) -> Any:
    if value is None:
        return None
    if dtype == "timestamp":
        return EPOCH + timedelta(microseconds=value)
    if dtype == "bool":
        return bool(value)
    return value
