"""Time, as both feature paths read it: UTC, microseconds, naive only with a declared zone.

A naive source timestamp is read in the view's ``timezone``. Two local times need a rule:

- a local time that happens twice (the hour repeated when clocks go back, e.g. 02:30 on
  2025-10-26 in Europe/Paris) is the *second* one (after the change: 01:30 UTC);
- a local time that never happens (the hour skipped when clocks go forward, e.g. 02:30 on
  2025-03-30 in Europe/Paris) is read with the offset in force *before* the change, i.e. moved
  forward by the gap (02:30 +01:00 = 03:30 local = 01:30 UTC).

This is DuckDB's (ICU's) rule, which the offline engine applies with ``timezone(zone, ts)``;
:func:`local_to_utc` is the same rule in Python, for the online path and tests, and a test
checks the two agree across both changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from goldenpath.core.errors import InvalidInput

UTC_MICROS = pa.timestamp("us", tz="UTC")


def local_to_utc(naive: datetime, zone: str) -> datetime:
    """A naive local time in ``zone`` as an aware UTC datetime, by the rule above."""
    tz = ZoneInfo(zone)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip == naive:  # it exists, twice: the second occurrence
        return second.astimezone(UTC)
    return first.astimezone(UTC)  # it does not exist: the offset before the change


def to_utc(value: datetime, *, zone: str | None = None, what: str = "timestamp") -> datetime:
    """An aware datetime in UTC (microseconds); a naive one needs ``zone``."""
    if value.tzinfo is None or value.utcoffset() is None:
        if zone is None:
            raise InvalidInput(
                f"{what} {value.isoformat()} has no time zone",
                hint="give timestamps with a zone (e.g. 2025-01-31T12:00:00Z), "
                "or declare the view's timezone",
            )
        return local_to_utc(value, zone)
    return value.astimezone(UTC)


def entity_timestamps(column: pa.ChunkedArray | pa.Array, name: str) -> pa.ChunkedArray:
    """An entity-rows timestamp column as UTC microseconds: zone-aware timestamps (or
    ISO-8601 text with an offset); naive ones are refused."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            parsed = pc.cast(column, UTC_MICROS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidInput(
                f"entity rows: column {name!r} is text that is not ISO-8601 timestamps with a zone",
                hint="write e.g. 2025-01-31T12:00:00Z or 2025-01-31T13:00:00+01:00",
            ) from None
        return parsed
    if not pa.types.is_timestamp(kind):
        raise InvalidInput(
            f"entity rows: column {name!r} must hold timestamps, not {kind}",
            hint="give each entity row the instant its features are wanted for",
        )
    if kind.tz is None:
        raise InvalidInput(
            f"entity rows: column {name!r} holds timestamps without a time zone",
            hint="make them zone-aware, e.g. pandas: df[col].dt.tz_localize('UTC')",
        )
    # Nanoseconds are truncated to microseconds (the precision of every stored time).
    return pc.cast(column, UTC_MICROS, safe=False)
