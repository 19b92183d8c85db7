"""Tables fit a narrow terminal, or a pipe (issue 12, point 5): each row on one line within
80 columns, no column squeezed to a few characters, goldenpath's ``_gp_*`` columns only on
request.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from goldenpath.cli import render
from tests.cli.conftest import env
from tests.cli.inprocess import Result, gp

HEADER_RULE = "━"
MIN_COLUMN_WIDTH = 10  # what a cut column keeps at least (render.MIN_COLUMN_WIDTH)


def table_lines(result: Result) -> tuple[list[str], list[str]]:
    """The header cells and the data lines of the one table in ``result``'s stdout."""
    lines = result.out.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith(HEADER_RULE))
    header = [cell.strip() for cell in lines[rule - 1].split("┃")]
    data = [line for line in lines[rule + 1 :] if "│" in line]
    return header, data


def assert_fits(result: Result, width: int = 80) -> None:
    assert result.code == 0, str(result)
    for line in result.out.splitlines():
        assert len(line) <= width, str(result)


@pytest.mark.parametrize(
    ("args", "rows"),
    [
        (("data", "quarantine", "transactions", "-n", "3"), 3),
        (("data", "profile", "transactions"), 6),
        (("audit", "list", "-n", "4"), 4),
        (("data", "head", "transactions", "-n", "5"), 5),
        (("data", "history", "transactions"), 1),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, tuple) else str(a),
)
def test_tables_fit_80_columns_one_line_per_row(
    quickstart_home: Path, args: tuple[str, ...], rows: int
) -> None:
    result = gp(*args, env=env(quickstart_home), width=80)
    assert_fits(result)
    header, data = table_lines(result)
    assert len(data) == rows, str(result)  # no row wrapped onto a second line
    for name in header:
        assert not name.endswith("…") or len(name) >= MIN_COLUMN_WIDTH, str(result)
    for line in data:
        for cell in (c.strip() for c in line.split("│")):  # a cut cell keeps 10 characters
            assert not cell.endswith("…") or len(cell) >= MIN_COLUMN_WIDTH, str(result)


def test_columns_that_do_not_fit_are_named_with_how_to_see_them(quickstart_home: Path) -> None:
    result = gp("data", "profile", "transactions", env=env(quickstart_home), width=80)
    header, _ = table_lines(result)
    assert header[:4] == ["column", "type", "nulls", "distinct"]
    left_out = result.out.splitlines()[-1]
    assert left_out.startswith("(") and "more column" in left_out, str(result)
    assert "top values" in left_out and "--json" in left_out
    wide = gp("data", "profile", "transactions", env=env(quickstart_home), width=200)
    assert "top values" in table_lines(wide)[0] and "did not fit" not in wide.out


def test_internal_columns_only_with_all_columns(quickstart_home: Path) -> None:
    plain = gp("data", "quarantine", "transactions", env=env(quickstart_home), width=200)
    header, data = table_lines(plain)
    assert header[0] == "broke" and "tx_id" in header
    assert not any(name.startswith("_gp_") for name in header), str(plain)
    assert "_gp_" not in plain.out
    assert data and all(line.split("│")[0].strip() for line in data)  # every row says why

    wide = gp(
        "data", "quarantine", "transactions", "--all-columns", env=env(quickstart_home), width=200
    )
    header, _ = table_lines(wide)
    assert {"_gp_rules", "_gp_row", "_gp_version"} <= set(header), str(wide)

    # Too many to fit side by side: every column still shown, one "column  value" line each.
    narrow = gp(
        "data",
        "quarantine",
        "transactions",
        "-n",
        "2",
        "--all-columns",
        env=env(quickstart_home),
        width=80,
    )
    assert_fits(narrow)
    labels = [line.split()[0] for line in narrow.out.splitlines()[1:] if line.strip()]
    assert labels.count("_gp_row") == 2 and labels.count("tx_id") == 2, str(narrow)


@pytest.mark.e2e
def test_piped_output_is_80_columns_wide(quickstart_home: Path) -> None:
    """Piped (no terminal) and without COLUMNS, gp lays tables out for 80 columns."""
    environment = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    environment.update(env(quickstart_home))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gp"), "data", "profile", "transactions"],
        env=environment,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) == 80, done.stdout
    assert "did not fit" in lines[-1]


def test_a_wide_dataset_shows_what_fits_and_names_the_rest(fresh_home: Path) -> None:
    names = [f"measurement_{i:02d}" for i in range(30)]
    data = fresh_home / "wide.csv"
    data.write_text(",".join(names) + "\n" + ",".join(str(i * 1000) for i in range(30)) + "\n")
    assert gp("data", "ingest", "wide", str(data), env=env(fresh_home)).code == 0
    result = gp("data", "head", "wide", env=env(fresh_home), width=80)
    assert_fits(result)
    header, data_lines = table_lines(result)
    assert header == names[: len(header)] and len(data_lines) == 1, str(result)
    note = " ".join(result.out.split("\n(", 1)[1].split())
    assert note.startswith(f"{30 - len(header)} more columns did not fit: {names[len(header)]}, ")
    assert note.endswith("measurement_29; see them with --all-columns or --json)"), note


def test_cells_are_measured_in_terminal_cells_and_printed_verbatim(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = Console(width=40, file=io.StringIO(), highlight=False, soft_wrap=True, markup=False)
    monkeypatch.setattr(render, "out", console)
    render.table(
        None, ["名前", "[bold]x", "n"], [["日本語のテキストです長い長い長い", "[red]v[/red]", 1]]
    )
    lines = console.file.getvalue().splitlines()
    assert [cell_len(line) for line in lines] == [40, 40, 40], lines
    assert lines[0].startswith("名前 ") and "[bold]x" in lines[0]
    assert lines[2].startswith("日本語のテキストです長…") and "[red]v" in lines[2]
