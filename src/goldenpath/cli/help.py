"""The Typer app class every ``gp`` command group is made with, for help pages that read right.

Typer's rich help shows an option's type in a column (``--format <str>``). For an on/off flag
it shows ``<bool>`` too (``--json <bool>``, ``--help -h <bool>``), as if it took a value:
``TyperOption.display_type_rich`` does not skip flags, although the plain help formatter
(``get_help_record``) does. A flag with an empty metavar shows no type, so our commands give
every flag (``--help`` included) one before their help page is rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer._click import Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.models import CommandFunctionType


def _no_type_for_flags(command: TyperCommand | TyperGroup, ctx: Context) -> None:
    for param in command.get_params(ctx):
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""


class Command(TyperCommand):
    """A command whose help shows flags without a value type."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        _no_type_for_flags(self, ctx)
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    """A command group whose help shows flags without a value type."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        _no_type_for_flags(self, ctx)
        super().format_help(ctx, formatter)


class App(typer.Typer):
    """``typer.Typer`` whose groups and commands are :class:`Group` and :class:`Command`."""

    def __init__(self, **settings: Any) -> None:
        settings.setdefault("cls", Group)
        super().__init__(**settings)

    def command(
        self, name: str | None = None, **settings: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        settings.setdefault("cls", Command)
        return super().command(name, **settings)
