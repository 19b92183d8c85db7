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

import importlib
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer
from typer._click import Context, Parameter
from typer._coercion import RuntimeParam, build_runtime_param
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


# Start-up (issue 24): two costs of Typer that a help page or a listing does not need.
#
# 1. Typer 0.29 coerces every parameter's value with a pydantic TypeAdapter, so even
#    ``gp runs --help`` imports pydantic (~45 ms) for the global options' None. A value that
#    already has its parameter's plain type (text for ``str``, a bool for ``bool``, a list of
#    text for ``list[str]``, an int default for ``int``) is passed through instead: what
#    pydantic returns for it. Anything else (``--limit 5`` is the text "5") still goes to
#    Typer's own coercion, with its errors.
_PLAIN: dict[Any, type] = {
    str: str,
    str | None: str,
    bool: bool,
    int: int,
    int | None: int,
    list[str]: list,
    list[str] | None: list,
}


@dataclass(frozen=True)
class _PlainParam(RuntimeParam):
    """Plain values as they are; others by Typer's coercion (made when first needed)."""

    descriptor: Any = None

    def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
        kind = _PLAIN[self.annotation]
        if kind is list:
            if isinstance(value, list | tuple) and all(type(v) is str for v in value):
                return list(value)
        elif type(value) is kind:
            return value
        return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def _runtime_param(param: Any) -> RuntimeParam:
    if param._runtime_param is None:
        descriptor = param.type_descriptor
        if descriptor.file_annotation is None and descriptor.annotation in _PLAIN:
            param._runtime_param = _PlainParam(
                descriptor.parameter_info, descriptor.annotation, descriptor
            )
        else:
            param._runtime_param = build_runtime_param(descriptor)
    return param._runtime_param  # type: ignore[no-any-return]


# 2. The rich help formatter (typer/rich_utils.py) imports rich.markdown (markdown-it,
#    pygments: ~40 ms) and rich.traceback (~25 ms) at its top, for the markdown markup mode
#    and pretty tracebacks, neither of which gp uses. It is imported here with stand-ins for
#    those two classes that load the real one if they are ever used.
class _Deferred(type):
    """A stand-in class: calling it, or reading an attribute, loads the real class."""

    _module: str

    def _real(cls) -> Any:
        return getattr(importlib.import_module(cls._module), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real(), name)


def load_rich_help() -> None:
    """Import Typer's rich help formatter without rich.markdown and rich.traceback."""
    if "typer.rich_utils" in sys.modules:
        return
    stubs = {}
    for module, name in (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback")):
        if module not in sys.modules:
            stub = types.ModuleType(module)
            setattr(stub, name, _Deferred(name, (), {"_module": module}))
            stubs[module] = stub
    sys.modules.update(stubs)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module, stub in stubs.items():
            if sys.modules.get(module) is stub:
                del sys.modules[module]


class _WordArgument(TyperArgument):
    """An argument shown as its word: no ``{}`` in the usage line, no type beside it."""

    def _usage_display_name(self) -> str:
        word = self.display_name_raw
        if not self.required:
            word = f"[{word}]"
        return f"{word}..." if self.nargs != 1 else word

    def display_type_rich(self, ctx: Context) -> str | None:
        return None  # the word says what it is; its help says the rest

    def get_runtime_param(self) -> RuntimeParam:
        return _runtime_param(self)

    def _get_number_range_help_str(self) -> str | None:
        return _range_words(self.min, self.max)


class _WordOption(TyperOption):
    """An option whose value is shown as a word (its metavar), its range in words."""

    def get_runtime_param(self) -> RuntimeParam:
        return _runtime_param(self)

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

    def format_help(self, ctx: Context, formatter: Any) -> None:
        load_rich_help()
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    """A command group whose help shows each parameter as a word."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _use_words(self.params)

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _with_words(super().get_help_option(ctx))  # made when asked for

    def format_help(self, ctx: Context, formatter: Any) -> None:
        load_rich_help()
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
