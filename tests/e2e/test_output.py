"""What ``gp`` prints is the data as it is: no markup eaten, no secret from a path, no traceback.

Issue 11, points 9 and 10: rich read ``[a-z]`` or ``[bold]`` in a message as a style tag and
dropped it; a token in a source file's path was stored raw in the version's ``source`` (shown
by ``gp data show`` and the API); an oversized version number was a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import goldenpath
from tests.conftest import write
from tests.e2e.test_cli import ACTOR, Gp, assert_user_error, csv

pytestmark = pytest.mark.e2e


@pytest.fixture
def gp(tmp_path: Path) -> Gp:
    """gp in a scratch directory, against a new (SDK-created) workspace."""
    goldenpath.connect(tmp_path / "home", actor=ACTOR, create=True).close()
    (tmp_path / "work").mkdir()
    return Gp(tmp_path / "work", tmp_path / "home")


TOKEN = "gp_" + "Ab3-_" * 8 + "xyz"  # the shape of a bearer token: gp_ and 43 characters


def test_error_messages_and_hints_are_printed_verbatim(gp: Gp) -> None:
    c = write(gp.cwd / "c.yaml", 'columns:\n  name: {regex: "[a-z]+"}\n')
    odd, rejected, big = gp.runs(
        ["data", "show", "x[bold]y[/bold]"],
        ["data", "ingest", "tx", csv(gp.cwd / "d.csv", "id,name", (1, "ABC")), "--contract", c],
        ["data", "show", "tx@99999999999999999999999"],
    )
    message = assert_user_error(odd, 2, "invalid dataset name 'x[bold]y[/bold]'")
    assert "[/bold]" in message
    message = assert_user_error(rejected, 6, "batch refused for 'tx'")
    assert "/[a-z]+/" in message
    assert "hint: fix the data, or set on_violation: quarantine" in message
    assert_user_error(big, 2, "invalid version '99999999999999999999...' in tx@...")
    assert "from 1 to 2147483647" in big.err


def test_a_token_in_a_source_path_is_not_stored(gp: Gp) -> None:
    folder = gp.cwd / "exports?token=s3cr3t-value&x=[bold]1"
    folder.mkdir()
    data = csv(folder / f"{TOKEN}.csv", "id", (1,), (2,))
    gp.run("data", "ingest", "tx", data)

    shown = gp.json("data", "show", "tx")
    path = shown["source"]["path"]
    assert TOKEN not in path and "s3cr3t-value" not in path
    assert path.endswith("/exports?token=***&x=[bold]1/gp_***.csv")
    text = gp.run("data", "show", "tx").out  # the table view: the path verbatim, markup too
    assert "gp_***.csv" in text and "[bold]1" in text and TOKEN not in text


def test_refs_with_non_ascii_digits_are_refused(gp: Gp) -> None:
    gp.sdk().datasets.ingest("tx", csv(gp.cwd / "d.csv", "id", (1,)))
    for run in gp.runs(["data", "show", "tx@\u0663"], ["data", "show", "tx@\uff13"]):
        assert_user_error(run, 2, "invalid version", "ASCII digits")


def test_ingest_and_policy_output_print_values_verbatim(gp: Gp) -> None:
    """Every line gp prints on success keeps its values' brackets too (the consoles print
    without markup unless a line styles a fixed label, and then its values are escaped)."""
    c = write(
        gp.cwd / "c.yaml",
        'on_violation: quarantine\ncolumns:\n  name: {regex: "[a-z]+"}\n',
    )
    data = csv(gp.cwd / "d.csv", "id,name", (1, "abc"), (2, "ABC"))
    out = gp.run("data", "ingest", "tx", data, "--contract", c).out
    assert "/[a-z]+/" in out
    assert "1 row quarantined" in out
