"""Numbers for people: ``1 value`` / ``2 values``, ``639 days`` rather than ``15334.5 h``.

One place, so every message counts and ages things the same way.
"""

from __future__ import annotations

_UNITS = (("day", 86_400.0), ("hour", 3_600.0), ("minute", 60.0), ("second", 1.0))


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` and ``noun``, the noun made plural unless the count is one:
    ``plural(1, "value")`` is ``1 value``, ``plural(1200, "row")`` is ``1,200 rows``."""
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count:,} {word}"


def duration(seconds: float) -> str:
    """An age or a span in its largest whole unit: ``45 seconds``, ``12 minutes``,
    ``5.5 hours``, ``639 days``. One decimal below ten of a unit, none above."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    for unit, size in _UNITS:
        if seconds >= size or unit == "second":
            amount = seconds / size
            if amount >= 10 or amount == int(amount):
                shown = f"{round(amount):,}"
            else:
                shown = f"{amount:.1f}"
            word = unit if shown == "1" else unit + "s"
            return f"{sign}{shown} {word}"
    raise AssertionError("unreachable")  # the loop always returns at "second"
