"""Run ``gp`` in-process, as its console script does (``main``: exit codes, ``error:`` lines),
with the consoles at a chosen width: dozens of runs cost what a few ``gp`` starts would.

tests/e2e run the real console script where starting it is the point.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

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


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def gp(*args: str, env: Mapping[str, str], width: int = 80) -> Result:
    """``gp ARGS`` with ``env`` over the environment and stdout/stderr ``width`` columns wide."""
    out, err = io.StringIO(), io.StringIO()
    widths = render.out._width, render.err._width
    render.out.width = render.err.width = width
    argv = sys.argv
    sys.argv = ["gp", *args]
    code = 0
    try:
        with _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
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
