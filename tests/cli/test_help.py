"""Every ``--help`` reads right and its example works (issue 12, point 6).

Each command's example is run as written in a copy of the quickstart workspace (what
``gp quickstart`` makes: dataset ``transactions`` and, in the folder the commands run in,
``transactions.csv``, ``transactions.contract.yaml`` and ``next-batch.csv``). ``A && B`` runs
A, then B. A trailing comment may mark an example: ``# exits N`` (it must exit N, e.g. a
validation that fails) or ``# needs: ...`` (it needs something a new workspace does not have,
named there; it is not run).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from goldenpath.cli.app import app as cli_app
from tests.cli.conftest import env
from tests.cli.inprocess import gp

EXAMPLE = re.compile(r"^\s*Example: (gp .*?)(?:\n\s*\n|\Z)", re.S | re.M)
MARK = re.compile(r"^(?:exits (\d+)|needs: .+)")


def _commands() -> dict[tuple[str, ...], Any]:
    def walk(command: Any, path: tuple[str, ...]) -> Any:
        yield path, command
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(sub, (*path, name))

    return dict(walk(typer.main.get_command(cli_app), ()))


COMMANDS = _commands()


@dataclass(frozen=True)
class Example:
    text: str
    steps: tuple[tuple[str, ...], ...]
    exits: int | None  # None: not run (it needs something)


def example(path: tuple[str, ...]) -> Example:
    """The example in the help of the command at ``path``."""
    found = EXAMPLE.search(COMMANDS[path].help or "")
    assert found, f"gp {' '.join(path)} --help has no example"
    text = " ".join(found.group(1).split())
    command, _, comment = text.partition(" # ")
    mark = MARK.match(comment.strip())
    assert not comment or mark, f"unknown mark {comment!r} in: {text}"
    exits = 0 if mark is None else (int(mark.group(1)) if mark.group(1) else None)
    steps = tuple(tuple(shlex.split(step)) for step in command.split(" && "))
    assert all(step[0] == "gp" for step in steps), text
    return Example(text, steps, exits)


def names(path: tuple[str, ...], step: tuple[str, ...]) -> bool:
    """Whether ``step`` runs the command at ``path`` (global options may come first)."""
    words = [w for w in step[1:] if not w.startswith("-")]
    return all(word in words for word in path) and words[: len(path)] == list(path)


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(("gp", *p)))
def test_every_example_runs_in_the_quickstart_workspace(
    path: tuple[str, ...], fresh_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = example(path)
    if path and not isinstance(COMMANDS[path], typer.core.TyperGroup):
        assert any(names(path, step) for step in shown.steps), shown.text
    if shown.exits is None:
        return
    monkeypatch.chdir(fresh_home / "quickstart")
    for n, step in enumerate(shown.steps):
        result = gp(*step[1:], env=env(fresh_home))
        expected = shown.exits if n == len(shown.steps) - 1 else 0
        assert result.code == expected, f"{shown.text}\n{result}"
        assert "Traceback" not in result.err


def test_only_a_few_examples_are_not_run() -> None:
    """``# needs:`` is for what a new workspace cannot have (an id, a running server)."""
    skipped = sorted(" ".join(p) for p in COMMANDS if example(p).exits is None)
    assert skipped == [
        "approve",
        "audit verify",
        "deployments logs",
        "deployments promote",
        "deployments rollback",
        "deployments status",
        "deployments stop",
        "models alias",
        "models archive",
        "models card",
        "models history",
        "monitor",
        "predictions",
        "predictions show",
        "predictions tail",
        "runs compare",
        "runs logs",
        "runs rerun",
        "runs show",
        "server",
        "tokens revoke",
        "up",
    ]


@pytest.fixture(scope="module")
def help_pages() -> dict[tuple[str, ...], str]:
    runner = CliRunner()
    pages = {}
    for path in COMMANDS:
        page = runner.invoke(cli_app, [*path, "--help"], prog_name="gp", env={"COLUMNS": "120"})
        assert page.exit_code == 0, page.output
        pages[path] = page.output
    return pages


def test_flags_show_no_value_type(help_pages: dict[tuple[str, ...], str]) -> None:
    for path, page in help_pages.items():
        assert "<bool>" not in page, f"gp {' '.join(path)} --help:\n{page}"
    ingest = help_pages[("data", "ingest")]
    assert re.search(r"│ --json +Print as JSON\.", ingest), ingest
    assert re.search(r"│ --help +-h +Show this message and exit\.", ingest), ingest
    assert re.search(r"│ --format +TEXT +csv, parquet", ingest), ingest  # values keep theirs


# Typer's own notation, where a reader expects a word: {ref}, <str>, <list[str]>, <int range>,
# <append|overwrite>, [1<=x<=10000].
TYPER_NOTATION = re.compile(r"\{[a-z_]+\}|<[a-z_ |\[\]]+>|\[(?:str|int|float|path)\]|list\[|x[<>]=")


def test_every_argument_and_option_reads_as_a_word(
    help_pages: dict[tuple[str, ...], str],
) -> None:
    """``gp --help``, each group's and each command's: the usage line and every parameter's
    name and value are words (REF, TEXT, KEY=VALUE, append|overwrite), never Typer's
    placeholders. Checked on the pages as shown and on each parameter, so a command added
    with ``typer.Typer`` instead of our ``App`` (or a Typer upgrade) fails here."""
    for path, page in help_pages.items():
        where = f"gp {' '.join(path)} --help"
        usage = next(line for line in page.splitlines() if "Usage:" in line)
        assert not re.search(r"[{}<>]", usage), f"{where}: {usage.strip()}"
        assert not TYPER_NOTATION.findall(page), f"{where}:\n{page}"
    for path, command in COMMANDS.items():
        ctx = typer.core._click.Context(command, info_name="gp")
        for param in command.get_params(ctx):
            where = f"gp {' '.join(path)}: {param.name}"
            shown = [param.metavar or "", param.display_type_rich(ctx) or ""]
            shown += [*param.get_usage_pieces(ctx), param._get_number_range_help_str() or ""]
            for piece in shown:
                assert not TYPER_NOTATION.search(piece), f"{where} shows {piece!r}"
                assert not re.search(r"[{}<>]", piece), f"{where} shows {piece!r}"
            takes_value = not getattr(param, "is_flag", False)
            assert not takes_value or param.metavar, f"{where} has no word for its value"
            if param.param_type_name == "argument":
                assert param.metavar == param.metavar.upper(), f"{where}: {param.metavar!r}"


def test_a_range_and_choices_read_as_words(help_pages: dict[tuple[str, ...], str]) -> None:
    head = help_pages[("data", "head")]
    assert re.search(r"│ --rows +-n +INTEGER \[1 to 10000\] +How many rows\.", head), head
    assert "Usage: gp data head [OPTIONS] REF" in head
    assert "Usage: gp train [OPTIONS] [PROJECT_DIR]" in help_pages[("train",)]
    assert "[OPTIONS] [VIEWS]..." in help_pages[("features", "materialize")]
    ingest = help_pages[("data", "ingest")]
    assert re.search(r"│ --mode +append\|overwrite +append \(add rows\)", ingest), ingest
    assert re.search(r"│ \* +NAME +Dataset name", ingest), ingest
    online = help_pages[("features", "online")]
    assert re.search(r"│ \* +--entity +KEY=VALUE +One entity row", online), online
