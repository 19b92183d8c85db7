"""The Typer app class every ``gp`` command group is made with, for help pages that read right.

Typer's help writes its own notation where a reader expects a word: a required argument as
``{ref}`` in the usage line and ``ref <str>`` in its panel; a value's type as ``<str>``,
``<list[str]>``, ``<int range> [1<=x<=10000]`` or ``<append|overwrite>``; and, in the rich
help, ``<bool>`` beside an on/off flag as if it took a value (``TyperOption.display_type_rich``
does not skip flags, although the plain help formatter does). Our commands and groups give
their parameters words instead, when they are made (so errors name them alike):

- an argument is its name in capitals (``REF``, ``PROJECT_DIR``, or the ``metavar`` it was
  declared with): ``gp models promote [OPTIONS] REF``, ``[PROJECT_DIR]`` when optional;
- an option's value is its declared ``metavar`` (``--param KEY=VALUE``), else a word for its
  type: ``TEXT``, ``INTEGER``, ``NUMBER``, ``PATH``, or its choices (``append|overwrite``);
  a range reads ``INTEGER [1 to 10000]``;
- a flag shows no value at all.

``tests/cli/test_help.py`` walks every command's help and fails on Typer's notation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer._click import Context, Parameter
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import CommandFunctionType

# Typer's type names (inside its <...>) and the word each reads as.
_TYPE_WORDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "int range": "INTEGER",
    "float": "NUMBER",
    "float range": "NUMBER",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIR",
    "datetime": "TIME",
}


def _range_words(low: float | None, high: float | None) -> str | None:
    """``1 to 10000``, ``at least 1``, ``at most 10``: a number range without ``x<=``."""
    if low is None and high is None:
        return None
    if low is None:
        return f"at most {high}"
    if high is None:
        return f"at least {low}"
    return f"{low} to {high}"


class _WordArgument(TyperArgument):
    """An argument shown as its word: no ``{}`` in the usage line, no type beside it."""

    def _usage_display_name(self) -> str:
        word = self.display_name_raw
        if not self.required:
            word = f"[{word}]"
        return f"{word}..." if self.nargs != 1 else word

    def display_type_rich(self, ctx: Context) -> str | None:
        return None  # the word says what it is; its help says the rest

    def _get_number_range_help_str(self) -> str | None:
        return _range_words(self.min, self.max)


class _WordOption(TyperOption):
    """An option whose value is shown as a word (its metavar), its range in words."""

    def _get_number_range_help_str(self) -> str | None:
        if self.count and self.min == 0 and self.max is None:
            return None
        return _range_words(self.min, self.max)


def _type_word(option: TyperOption, ctx: Context) -> str:
    """The word for an option's value: its choices, or the word for its type."""
    shown = option.display_type(ctx).strip("<>")
    if shown.startswith("list[") and shown.endswith("]"):
        shown = shown[len("list[") : -1]  # a repeatable option: one value at a time
    if "|" in shown:
        return shown  # choices, as they are typed
    return _TYPE_WORDS.get(shown, shown.upper())


def _use_words(params: list[Parameter]) -> None:
    """Give ``params`` (a command's or a group's) the words their help and errors show."""
    ctx = Context(TyperCommand("gp"))
    for param in params:
        if isinstance(param, TyperArgument):
            param.__class__ = _WordArgument  # same state, words for its methods
            if param.metavar is None and param.name:
                param.metavar = param.name.strip("_").upper()
        elif isinstance(param, TyperOption):
            param.__class__ = _WordOption
            if param.metavar is None:
                param.metavar = "" if param.is_flag else _type_word(param, ctx)


def _with_words(option: TyperOption | None) -> TyperOption | None:
    if option is not None:
        _use_words([option])
    return option


class Command(TyperCommand):
    """A command whose help shows each parameter as a word (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _use_words(self.params)

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _with_words(super().get_help_option(ctx))  # made when asked for


class Group(TyperGroup):
    """A command group whose help shows each parameter as a word."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _use_words(self.params)

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _with_words(super().get_help_option(ctx))  # made when asked for


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
