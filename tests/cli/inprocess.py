"""Run ``gp`` in-process, as its console script does (``main``: exit codes, ``error:`` lines),
with the consoles at a chosen width: dozens of runs cost what a few ``gp`` starts would.
:func:`shell` runs a command line as printed in a document or a suggestion: in process when it
is one plain ``gp`` call, in bash otherwise.

tests/e2e run the real console script where starting it is the point.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from goldenpath.cli import render
from goldenpath.cli.app import main
from goldenpath.cli.context import state


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return (
            f"gp {' '.join(self.args)} -> {self.code}\n--stdout--\n{self.out}--stderr--\n{self.err}"
        )


# A run changes process-wide state (environment, working directory, sys.argv, sys.stdout):
# runs from several threads (tests/docs) take turns.
LOCK = threading.RLock()


@contextlib.contextmanager
def _environment(env: Mapping[str, str], *, replace: bool) -> Iterator[None]:
    saved = dict(os.environ)
    if replace:
        os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _working_directory(cwd: Path | None) -> Iterator[None]:
    saved = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved)


def gp(
    *args: str,
    env: Mapping[str, str],
    width: int = 80,
    cwd: Path | None = None,
    replace_env: bool = False,
) -> Result:
    """``gp ARGS`` with ``env`` over the environment (or, with ``replace_env``, as the whole
    environment), in ``cwd``, and stdout/stderr ``width`` columns wide."""
    with LOCK:
        return _run(args, env, width, cwd, replace_env)


def _run(
    args: tuple[str, ...], env: Mapping[str, str], width: int, cwd: Path | None, replace: bool
) -> Result:
    out, err = io.StringIO(), io.StringIO()
    widths = render.out._width, render.err._width
    render.out.width = render.err.width = width
    argv = sys.argv
    sys.argv = ["gp", *args]
    code = 0
    try:
        with (
            _environment(env, replace=replace),
            _working_directory(cwd),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
        render.out._width, render.err._width = widths
        if state._open is not None:
            state._open.close()
        state.workspace, state.project, state.debug, state._open = None, None, False, None
    return Result(tuple(args), code, out.getvalue(), err.getvalue())


# Outside quotes, these make a command more than one plain ``gp`` call (pipes, redirections,
# lists, substitutions, globs, ~, history); inside double quotes, $ ` and \ still expand.
_SHELL_SYNTAX = set("|&;<>()$`\\*?[]{}~!")
_EXPANDS_IN_DOUBLE_QUOTES = set("$`\\!")


def plain_gp(text: str) -> list[str] | None:
    """The arguments of a command that is one plain ``gp ARGS`` call, which runs the same in
    process (``main()``, as the console script calls it) as in a shell; None for anything a
    shell would do more with (``$(...)``, ``|``, ``>``, ``&&``, ``VAR=x gp``, globs): those
    run in bash."""
    text = text.replace("\\\n", " ")  # continuation lines
    quote = ""
    kept = []
    for index, char in enumerate(text):
        if quote == "'":
            quote = "" if char == "'" else quote
        elif quote == '"':
            if char in _EXPANDS_IN_DOUBLE_QUOTES:
                return None
            quote = "" if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            break  # a comment to the end of the command
        elif char in _SHELL_SYNTAX or char == "\n":
            return None
        kept.append(char)
    if quote:
        return None
    words = shlex.split("".join(kept))
    if not words or words[0] != "gp":
        return None
    return words[1:]


def shell(
    command: str, *, cwd: Path, env: Mapping[str, str], timeout: float
) -> tuple[int, str, str]:
    """Run a shell command line as ``bash -c`` would, in ``cwd`` with exactly ``env``: its exit
    code, stdout and stderr. A plain ``gp ARGS`` call (:func:`plain_gp`) runs in this process
    (``main()``, as the console script calls it: the same code without a ``gp`` start);
    anything else runs in bash."""
    args = plain_gp(command)
    if args is None:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done.returncode, done.stdout, done.stderr
    try:
        ran = gp(*args, env=env, cwd=cwd, replace_env=True)
    except Exception:  # a crash: the console script would print the traceback and exit 1
        return 1, "", traceback.format_exc()
    return ran.code, ran.out, ran.err
