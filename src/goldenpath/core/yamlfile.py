"""Load a YAML file into a pydantic model, reporting errors with the file's line numbers.

pydantic reports *where* in the document a value is wrong (``columns.amount.min``); PyYAML's
node tree knows on which line that value sits. Composing both gives errors like
``contract.yaml:12: columns.amount.min: Input should be a valid number``.

Before either, the text is checked for shapes YAML allows but a file of ours must not have:
nesting deeper than ``limits.nesting_depth_max`` (PyYAML's composer recurses, so a deep enough
file is a ``RecursionError``; checked on the parser's event stream, which does not recurse) and
a key repeated in one mapping (PyYAML keeps the last silently: ``nullable: false`` on line 3
would be undone by ``nullable: true`` on line 9).
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits

M = TypeVar("M", bound=BaseModel)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree; return a 1-based line."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _check_depth(text: str, source: str, error: type[InvalidInput], depth_max: int) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > depth_max:
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                raise error(
                    f"{source}:{line}: nested deeper than {depth_max} levels",
                    hint="flatten the file (the limit is limits.nesting_depth_max)",
                )
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _check_unique_keys(root: yaml.Node | None, source: str, error: type[InvalidInput]) -> None:
    pending = [root] if root is not None else []
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    line = key.start_mark.line + 1 if key.start_mark is not None else 0
                    if key.value in first_line:
                        raise error(
                            f"{source}:{line}: key {key.value!r} is repeated "
                            f"(first on line {first_line[key.value]})",
                            hint="keep one of them: YAML would silently use the last",
                        )
                    first_line[key.value] = line
                pending += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            pending += node.value


def parse_yaml_model(
    text: str,
    model: type[M],
    *,
    source: str,
    docs: str,
    error: type[InvalidInput] = InvalidInput,
    depth_max: int | None = None,
) -> M:
    """Parse YAML ``text`` into ``model``; raise ``error`` naming ``source`` and the line.

    ``docs`` is the page that lists the file's keys (``docs/contracts.md`` for a contract,
    ``docs/configuration.md`` for ``gp.yaml`` ...), named in the hint of a wrong key or value.
    ``depth_max`` bounds the nesting of mappings and lists (``limits.nesting_depth_max`` by
    default); a key repeated within one mapping is an error too.
    """
    try:
        _check_depth(text, source, error, depth_max or Limits().nesting_depth_max)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_unique_keys(node, source, error)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{where}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{source}:1: expected a mapping of keys to values at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # A misspelt key shows up twice: as an unknown key and as a missing one. The unknown
        # key is the one the user typed, so name it first.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        loc = tuple(first["loc"])
        line = _line_of(node, loc)
        path = ".".join(str(p) for p in loc) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise error(
            f"{source}:{line}: {path}: {first['msg']}{more}",
            hint=f"fix that line; see {docs} for the accepted keys",
        ) from None


def read_text(path: Path, *, error: type[InvalidInput] = InvalidInput) -> str:
    """A small text file's contents, or ``error`` saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"file not found: {path}", hint="check the path") from None
    except IsADirectoryError:
        raise error(f"{path} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {path}: {exc}") from None


def load_yaml_model(
    path: Path, model: type[M], *, docs: str, error: type[InvalidInput] = InvalidInput
) -> M:
    """Read ``path`` and parse it with :func:`parse_yaml_model`."""
    text = read_text(path, error=error)
    return parse_yaml_model(text, model, source=str(path), docs=docs, error=error)
