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

from rich.console import Console
from rich.markup import escape
from rich.table import Table

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


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table of ``rows`` on stdout."""
    grid = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        numeric = column.lower() in {"rows", "versions", "version", "quarantined", "count", "#"}
        grid.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        grid.add_row(*["" if v is None else escape(str(v)) for v in row])
    out.print(grid)


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
