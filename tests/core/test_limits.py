"""Every limit in core/limits.py is listed where operators look for it: the table in
docs/configuration.md (what it bounds, its default) and the one in docs/security.md (what it
stops). A limit added without its rows fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from goldenpath.core.limits import FIELDS, Limits

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _table_names(page: str) -> set[str]:
    """The backticked names in the first cell of the rows of the page's limits table."""
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text[text.index("## Limits") :]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([a-z0-9_]+)`", line.split("|")[1]))
    return names


@pytest.mark.parametrize("page", ["configuration.md", "security.md"])
def test_every_limit_is_in_the_docs_table(page: str) -> None:
    listed = _table_names(page)
    assert sorted(set(FIELDS) - listed) == [], f"limits missing from docs/{page}"
    assert sorted(listed - set(FIELDS)) == [], f"docs/{page} lists limits that do not exist"


def test_configuration_md_gives_each_limit_its_default() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    defaults = Limits()
    for line in text[text.index("## Limits") :].splitlines():
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])
        shown = line.split("|")[2]
        figures = [f.replace(",", "") for f in re.findall(r"[0-9][0-9,.]*", shown)]
        for name in names:
            value = getattr(defaults, name)
            wanted = {f"{value:g}", str(value)}
            if isinstance(value, int):  # shown in KiB, MiB or GiB
                wanted |= {str(value >> shift) for shift in (10, 20, 30) if value >> shift}
            assert wanted & set(figures), f"{name}: default {value} not shown in {line!r}"
