"""The fenced code blocks of README.md and docs/*.md, split into what the docs test runs.

A document's examples run in order, in one fresh workspace, in a copy of ``docs/examples/``:

- ``sh`` blocks: every line is a command (``\\`` continues it; ``#`` lines are comments);
- ``console`` blocks: lines starting with ``$ `` are commands, the others are their output;
- ``python`` blocks: a script;
- ``yaml`` blocks: a file, named by the block's first line (``# transactions.contract.yaml``,
  ``# <workspace>/config.yaml``, ``# <workspace>/policies/NAME.yaml``), loaded with the real
  loader for that kind of file;
- ``text`` blocks (and bare fences): output samples and synopses, not run.

Commands see ``PORT``, a free port (``runner.environment``): an example that picks where a
deployment listens uses ``--port "$PORT"`` and ``http://127.0.0.1:$PORT``, never a fixed port.

A command expected to fail says so in its comment (``# exits 6: ...``). A block or a command
whose text says ``(not run by the docs test: WHY)`` is skipped, visibly in the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
NOT_RUN = "(not run by the docs test"
LANGUAGES = {"sh", "console", "python", "yaml", "text", ""}
_EXITS = re.compile(r"#.*?\bexits (\d+)\b")


@dataclass(frozen=True)
class Block:
    doc: str  # path relative to the repository
    line: int  # 1-based line of the opening fence
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def skipped(self) -> bool:
        first = next((line for line in self.text.splitlines() if line.strip()), "")
        return first.lstrip().startswith("#") and NOT_RUN in first


@dataclass(frozen=True)
class Command:
    block: Block
    line: int  # 1-based line in the document
    text: str  # as written, continuation lines joined by newlines
    expected_exit: int
    skipped: bool

    @property
    def where(self) -> str:
        return f"{self.block.doc}:{self.line}"


def documents() -> list[Path]:
    """README.md and every docs/*.md."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of one Markdown file, in order."""
    doc = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name
    found = []
    for token in MarkdownIt().parse(path.read_text(encoding="utf-8")):
        if token.type == "fence" and token.map is not None:
            language = token.info.split(maxsplit=1)[0] if token.info.strip() else ""
            found.append(Block(doc, token.map[0] + 1, language, token.content))
    return found


def commands(block: Block) -> list[Command]:
    """The commands of a ``sh`` or ``console`` block, with continuation lines joined."""
    found: list[Command] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        raw = lines[index].strip()
        index += 1
        if block.language == "console":
            if not raw.startswith("$ "):
                continue  # output
            raw = raw[2:]
        if not raw or raw.startswith("#"):
            continue
        start = block.line + index  # the fence is block.line; its first content line is +1
        parts = [raw]
        while parts[-1].endswith("\\") and index < len(lines):
            parts.append(lines[index].strip())
            index += 1
        text = "\n".join(parts)
        match = _EXITS.search(text)
        found.append(
            Command(
                block,
                start,
                text,
                int(match.group(1)) if match else 0,
                NOT_RUN in text,
            )
        )
    return found


def yaml_target(block: Block) -> str | None:
    """The file a ``yaml`` block is, from its first line (``# NAME``), or None."""
    first = block.text.splitlines()[0].strip() if block.text.strip() else ""
    match = re.fullmatch(r"#\s*(\S+\.ya?ml)\b.*", first)
    return match.group(1) if match else None
