"""What ``gp data`` says about repeated batches, estimates and order (issue 12, points 4, 9)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import goldenpath
from tests.conftest import write
from tests.e2e.test_cli import ACTOR, Gp, csv

pytestmark = pytest.mark.e2e

QUARANTINE = "on_violation: quarantine\ncolumns:\n  amount: {min: 0}\n"


@pytest.fixture
def gp(tmp_path: Path) -> Gp:
    """gp in a scratch directory, against a new (SDK-created) workspace."""
    goldenpath.connect(tmp_path / "home", actor=ACTOR, create=True).close()
    (tmp_path / "work").mkdir()
    return Gp(tmp_path / "work", tmp_path / "home")


def test_the_same_ingest_twice_is_unchanged_until_forced(gp: Gp) -> None:
    contract = write(gp.cwd / "c.yaml", QUARANTINE)
    data = csv(gp.cwd / "a.csv", "id,amount,code", (3, 2.5, "x"), (1, 0.5, "y"), (2, 1.5, "x"))
    gp.run("data", "ingest", "tx", data, "--contract", contract)

    again, as_json = gp.runs(
        ["data", "ingest", "tx", data], ["data", "ingest", "tx", data, "--json"]
    )
    assert (again.code, again.out) == (
        0,
        "tx: unchanged; this batch is already in tx@1, nothing was written "
        "(record it again with --force)\n",
    )
    unchanged = as_json.json()
    assert (unchanged["outcome"], unchanged["ref"], unchanged["warnings"]) == (
        "unchanged",
        "tx@1",
        [],
    )
    assert gp.run("data", "ingest", "tx", data, "--force").out.startswith("tx@2: 3 rows appended")

    # A batch whose every row is quarantined: a version with no new rows, and a warning.
    bad = csv(gp.cwd / "bad.csv", "id,amount,code", (9, -1, "z"), (8, -2, "z"))
    held = gp.run("data", "ingest", "tx", bad)
    assert held.out.startswith("tx@3: 0 rows appended, 6 rows in the version\n")
    assert "warning: no rows accepted (2 rows quarantined): the version adds none\n" in held.err

    head, profile, quarantined, history = gp.runs(
        ["data", "head", "tx"],
        ["data", "profile", "tx"],
        ["data", "quarantine", "tx", "--json"],
        ["data", "history", "tx", "--json"],
    )
    # File order: version 1's rows as in its file, then version 2's.
    assert [line.split()[0] for line in head.out.splitlines()[2:]] == ["3", "1", "2"] * 2
    # The numeric columns' distinct counts are estimates, marked ~; text is counted exactly.
    header, *rows = [re.split(r"[┃│]", line) for line in profile.out.splitlines()[1:]]
    at = [cell.strip() for cell in header].index("distinct")
    distinct = {row[0].strip(): row[at].strip() for row in rows if len(row) > at}
    assert (distinct["id"], distinct["amount"], distinct["code"]) == ("~3", "~3", "2"), profile
    assert [(r["id"], r["_gp_row"]) for r in quarantined.json()] == [("9", 1), ("8", 2)]
    assert [v["batch_rows"] for v in history.json()] == [3, 3, 0]
