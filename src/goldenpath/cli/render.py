"""Output: rich tables for people, JSON for scripts, errors as one line on stderr.

Values (names, messages, hints, cells) are data, never rich markup: a regex such as ``[a-z]+``
in a contract error would otherwise be read as a style tag and vanish. So both consoles print
text verbatim by default (``markup=False``); a line with a styled label asks for markup with
``markup=True`` and escapes every value in it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from goldenpath.core.humanize import plural
from goldenpath.core.redact import redact

out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (plain, so it pipes into jq)."""
    sys.stdout.write(json.dumps(data, indent=2, default=_default) + "\n")


def when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


MIN_COLUMN_WIDTH = 10  # no column is cut narrower than this (or its header, up to 16)
_GAP = 3  # between two columns: " │ "
_NUMERIC = {"rows", "versions", "version", "quarantined", "count", "#"}


def visible_columns(columns: Sequence[str], all_columns: bool) -> list[str]:
    """``columns`` without goldenpath's internal ``_gp_*`` ones, unless all are asked for."""
    return list(columns) if all_columns else [c for c in columns if not c.startswith("_gp_")]


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(str(value).splitlines())


def _widths(natural: list[int], floors: list[int], width: int) -> list[int]:
    """Column widths within ``width``: each at least its floor, then the space left goes to
    the leftmost columns first (commands put what identifies a row first)."""
    widths = list(floors)
    spare = width - sum(widths) - _GAP * (len(widths) - 1)
    for i, wanted in enumerate(natural):
        give = min(wanted - widths[i], spare)
        widths[i] += give
        spare -= give
    return widths


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    more: str = "see them with --json",
    vertical: bool = False,
    empty: str | None = None,
) -> None:
    """A table of ``rows`` on stdout that fits the console's width (``COLUMNS``, else the
    terminal's, else 80 when no terminal is attached).

    Every row stays on one line: a long cell is cut with an ellipsis, no column is narrower
    than :data:`MIN_COLUMN_WIDTH`, and the columns that do not fit are left out with a note
    naming them and ``more`` (how to see them). With ``vertical``, a table that does not fit
    is printed one ``column  value`` line per cell instead, leaving nothing out. With no
    rows, ``empty`` (what would fill the table, and how) is printed instead of a bare header.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells and empty is not None:
        out.print(empty)
        return
    width = out.width
    # Widths in terminal cells (a CJK character or an emoji takes two).
    natural = [max([cell_len(c), *(cell_len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    floors = [
        min(n, max(MIN_COLUMN_WIDTH, min(cell_len(c), 16)))
        for n, c in zip(natural, columns, strict=True)
    ]
    shown, used = 0, -_GAP
    while shown < len(columns) and used + _GAP + floors[shown] <= width:
        used += _GAP + floors[shown]
        shown += 1
    shown = max(shown, 1)
    if vertical and shown < len(columns):
        _records(title, columns, cells)
        return
    widths = _widths(natural[:shown], floors[:shown], width)
    grid = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column, column_width in zip(columns[:shown], widths, strict=True):
        grid.add_column(
            Text(column),
            justify="right" if column.lower() in _NUMERIC else "left",
            width=column_width,
            no_wrap=True,
            overflow="ellipsis",
        )
    for row in cells:
        grid.add_row(*(Text(cell) for cell in row[:shown]))  # text, never markup
    out.print(grid)
    left_out = columns[shown:]
    if left_out:
        names = ", ".join(left_out)
        note = f"({plural(len(left_out), 'more column')} did not fit: {names}; {more})"
        out.print(note, soft_wrap=False)  # wrapped at the width, between words


def _records(title: str | None, columns: Sequence[str], cells: list[list[str]]) -> None:
    """Each row as aligned ``column  value`` lines, rows apart by a blank line."""
    if title:
        out.print(title)
    label = max(cell_len(c) for c in columns)
    for n, row in enumerate(cells):
        if n:
            out.print()
        for column, value in zip(columns, row, strict=True):
            out.print(f"{column}{' ' * (label - cell_len(column))}  {value}")


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """Aligned ``key  value`` lines on stdout."""
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        out.print(f"[bold]{escape(key.ljust(width))}[/bold]  {escape(str(value))}", markup=True)


def warning(message: str) -> None:
    """``warning: ...`` on stderr, one line."""
    err.print(f"[yellow]warning:[/yellow] {escape(redact(message))}", markup=True)


def error(message: str, hint: str | None = None) -> None:
    """``error: ...`` and ``hint: ...`` on stderr (secrets redacted, text printed verbatim)."""
    lines = redact(message).splitlines() or [""]
    err.print(f"[red]error:[/red] {escape(lines[0])}", markup=True)
    for line in lines[1:]:
        err.print(line, markup=False)
    if hint:
        err.print(f"[yellow]hint:[/yellow] {escape(redact(hint))}", markup=True)
