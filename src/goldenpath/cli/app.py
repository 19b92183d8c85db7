"""The ``gp`` entry point: global options, sub-commands, and turning errors into one line."""

from __future__ import annotations

import sys

import typer

from goldenpath.cli import audit, data, quickstart, workspace
from goldenpath.cli.context import state
from goldenpath.cli.render import error
from goldenpath.core.errors import GoldenpathError

app = typer.Typer(
    name="gp",
    help="goldenpath: from notebook to governed production in one command.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global(
    workspace_dir: str | None = typer.Option(
        None,
        "--workspace",
        "-w",
        envvar="GP_HOME",
        help="Workspace directory (or GP_HOME; default ~/.local/share/goldenpath).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    state.workspace = workspace_dir
    state.debug = debug


app.command("init")(workspace.init)
app.command("status")(workspace.status)
app.command("quickstart")(quickstart.quickstart)
app.add_typer(data.app, name="data")
app.add_typer(audit.app, name="audit")


def main() -> None:
    """Run the CLI; a user error prints ``error:``/``hint:`` lines and exits non-zero."""
    try:
        app()
    except GoldenpathError as exc:
        if state.debug or "--debug" in sys.argv:
            raise
        error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
