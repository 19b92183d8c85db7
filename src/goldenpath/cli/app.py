"""The ``gp`` entry point: global options, sub-commands, and turning errors into one line."""

from __future__ import annotations

import sys
import warnings
from typing import TextIO

import typer

from goldenpath.cli import (
    access,
    audit,
    data,
    deploy,
    features,
    lineage,
    models,
    monitor,
    policy,
    quickstart,
    render,
    runs,
    server,
    train,
    up,
    workspace,
)
from goldenpath.cli.context import state
from goldenpath.cli.help import App
from goldenpath.cli.render import error
from goldenpath.core.errors import GoldenpathError

app = App(
    name="gp",
    help=(
        "goldenpath: from notebook to governed production in one command.\n\n"
        "Example: gp quickstart && gp deployments stop fraud-api"
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
        metavar="DIR",
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
app.command("train")(train.train)
app.command("up")(up.up)
app.command("deploy")(deploy.deploy)
app.command("monitor")(monitor.monitor)
app.add_typer(deploy.deployments_app, name="deployments")
app.add_typer(deploy.predictions_app, name="predictions")
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(models.app, name="models")
app.add_typer(runs.app, name="runs")
app.command("lineage")(lineage.lineage)
app.add_typer(lineage.openlineage_app, name="openlineage")
app.add_typer(audit.app, name="audit")
app.add_typer(access.principals_app, name="principals")
app.add_typer(access.tokens_app, name="tokens")
app.add_typer(access.access_app, name="access")
app.add_typer(access.projects_app, name="projects")
app.add_typer(policy.policy_app, name="policy")
app.add_typer(policy.approvals_app, name="approvals")
app.command("approve")(policy.approve)


def _warning_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Our warnings as one ``warning:`` line on stderr (stdout stays clean for --json)."""
    from goldenpath.core.errors import GoldenpathWarning  # loaded already: it warned

    if issubclass(category, GoldenpathWarning):
        render.warning(str(message))
    else:
        _show_warning(message, category, filename, lineno, file, line)


_show_warning = warnings.showwarning


def main() -> None:
    """Run the CLI; a user error prints ``error:``/``hint:`` lines and exits non-zero."""
    # Typer vendors click; its usage errors are re-raised here (standalone_mode=False) so
    # that they read like every other error: one line, a hint, exit code 2.
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    warnings.showwarning = _warning_line
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        if exc.ctx is not None:
            render.out.print(exc.ctx.get_help(), markup=False, highlight=False)
        sys.exit(0)
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "gp"
        error(exc.format_message(), f"see: {command} --help")
        sys.exit(2)
    except ClickException as exc:
        error(exc.format_message())
        sys.exit(exc.exit_code)
    except GoldenpathError as exc:
        if state.debug or "--debug" in sys.argv:
            raise
        error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        error("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
