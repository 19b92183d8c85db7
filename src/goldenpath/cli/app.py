"""The ``gp`` entry point: global options, sub-commands, and turning errors into one line."""

from __future__ import annotations

import sys

import typer

from goldenpath.cli import access, audit, data, policy, quickstart, server, workspace
from goldenpath.cli.context import state
from goldenpath.cli.render import error
from goldenpath.core.errors import GoldenpathError

app = typer.Typer(
    name="gp",
    help=(
        "goldenpath: from notebook to governed production in one command.\n\nExample: gp quickstart"
    ),
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
    project: str | None = typer.Option(
        None,
        "--project",
        "-p",
        envvar="GP_PROJECT",
        help="Project new objects go to (or GP_PROJECT; default 'default').",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    state.workspace = workspace_dir
    state.project = project
    state.debug = debug


app.command("init")(workspace.init)
app.command("status")(workspace.status)
app.command("quickstart")(quickstart.quickstart)
app.command("server")(server.serve)
app.add_typer(data.app, name="data")
app.add_typer(audit.app, name="audit")
app.add_typer(access.principals_app, name="principals")
app.add_typer(access.tokens_app, name="tokens")
app.add_typer(access.access_app, name="access")
app.add_typer(access.projects_app, name="projects")
app.add_typer(policy.policy_app, name="policy")
app.add_typer(policy.approvals_app, name="approvals")
app.command("approve")(policy.approve)


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
