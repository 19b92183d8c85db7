"""The import arrows point down: cli/server/client -> workspace -> capabilities ->
governance (with the audit trail) -> store -> core.

Every ``import`` in the package is checked, including the lazy ones inside functions and those
under ``TYPE_CHECKING``: a type-only import upwards is still a dependency a reader must follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import goldenpath

PACKAGE = Path(goldenpath.__file__).parent

# Higher may import lower (and its own layer); never the other way.
LAYERS = {
    "core": 0,
    "store": 1,
    "governance": 2,
    # capabilities
    "data": 3,
    "features": 3,
    "training": 3,
    "registry": 3,
    "serving": 3,
    "monitoring": 3,
    "lineage": 3,
    "infra": 3,
    "insights": 3,
    "vectors": 3,
    "interop": 3,
    "templates": 3,
    # composition
    "workspace": 4,
    "project": 4,  # gp up: the services in order, over one workspace
    # shells
    "cli": 5,
    "server": 5,
    "client": 5,
    "__init__": 6,
}


def _layer_of(module: str) -> str:
    """``goldenpath.data.service`` -> ``data``; ``goldenpath`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("goldenpath")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "goldenpath":
                # ``from goldenpath import data`` names a subpackage; ``__version__`` is a
                # constant every layer may read.
                found += [
                    (node.lineno, f"goldenpath.{a.name}")
                    for a in node.names
                    if a.name != "__version__"
                ]
            elif node.module.startswith("goldenpath."):
                found.append((node.lineno, node.module))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def test_every_package_has_a_layer() -> None:
    packages = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert packages <= set(LAYERS), f"give these a layer: {packages - set(LAYERS)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if LAYERS.get(_layer_of(module), 99) > LAYERS[own]
    ]
    assert not upward, f"{own} (layer {LAYERS[own]}) imports from above it: {upward}"


def test_core_imports_nothing_of_the_project_above_it() -> None:
    offenders = [
        f"{p.relative_to(PACKAGE)} {m}"
        for p in (PACKAGE / "core").rglob("*.py")
        for _, m in _imports(p)
        if _layer_of(m) != "core"
    ]
    assert offenders == []
