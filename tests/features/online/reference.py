"""An independent, deliberately naive implementation of the value rules (docs/features.md,
semantics): every test compares the online store against it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from goldenpath.features.definitions import Aggregation, FeatureView

# A source row as the tests write it: the dataset's columns plus where it was stored.
Row = dict[str, Any]  # {"user_id", "ts", "amount", ..., "_version", "_position"}


def row_value(view: FeatureView, rows: list[Row], key: Any, at: datetime, feature: str) -> Any:
    field = next(f for f in view.features if f.name == feature)
    candidates = [r for r in rows if r["user_id"] == key and r["ts"] <= at]
    if not candidates:
        return field.default
    winner = max(
        candidates,
        key=lambda r: (
            r["ts"],
            r.get(view.created_timestamp or "", None) or datetime.min.replace(tzinfo=at.tzinfo),
            r["_version"],
            r["_position"],
        ),
    )
    ttl = view.ttl_delta
    if ttl is not None and at - winner["ts"] > ttl:
        return field.default
    return winner[field.name]


def window_value(agg: Aggregation, rows: list[Row], key: Any, at: datetime) -> Any:
    window: timedelta = agg.window_delta
    inside = [r for r in rows if r["user_id"] == key and at - window < r["ts"] <= at]
    if agg.column is None:
        return len(inside)
    values = [r[agg.column] for r in inside if r[agg.column] is not None]
    if agg.function == "count":
        return len(values)
    if agg.function == "count_distinct":
        return len(set(values))
    if not values:
        return agg.default
    if agg.function == "sum":
        return sum(values)
    if agg.function == "mean":
        return sum(values) / len(values)
    return min(values) if agg.function == "min" else max(values)


def _us(moment: datetime) -> int:
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    delta = moment - epoch
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def row_origin(
    view: FeatureView, rows: list[Row], key: Any, at: datetime
) -> tuple[str, tuple[int, ...], int] | None:
    """Where a row-level value comes from: the winning row's dataset version and event time
    (an expired winner too: it is the row the value was judged by); None without a row."""
    candidates = [r for r in rows if r["user_id"] == key and r["ts"] <= at]
    if not candidates:
        return None
    winner = max(
        candidates,
        key=lambda r: (
            r["ts"],
            r.get(view.created_timestamp or "", None) or datetime.min.replace(tzinfo=at.tzinfo),
            r["_version"],
            r["_position"],
        ),
    )
    return (str(view.source), (winner["_version"],), _us(winner["ts"]))


def window_origin(
    view: FeatureView, agg: Aggregation, rows: list[Row], key: Any, at: datetime
) -> tuple[str, tuple[int, ...], int] | None:
    """Where an aggregation comes from: every dataset version of the rows in its window and
    the newest event time there; None for an empty window."""
    window: timedelta = agg.window_delta
    inside = [r for r in rows if r["user_id"] == key and at - window < r["ts"] <= at]
    if not inside:
        return None
    versions = tuple(sorted({r["_version"] for r in inside}))
    return (str(view.source), versions, _us(max(r["ts"] for r in inside)))
