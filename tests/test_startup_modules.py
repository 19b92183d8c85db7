"""Which modules a fresh ``import goldenpath`` and ``gp --help`` process load (issue 24).

Start-up is the whole cost of most commands, so the heavy engines load only on the code path
that uses them. This checks the set of modules, not a time: a new top-level ``import pandas``
anywhere on these paths fails here, not in a benchmark nobody reads
(benchmarks/startup.py measures the times).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Engines no help screen and no bare import needs.
HEAVY = {
    "alembic",
    "cryptography",
    "deltalake",
    "duckdb",
    "fastapi",
    "httpx",
    "kubernetes",
    "lightgbm",
    "numpy",
    "onnx",
    "onnxruntime",
    "pandas",
    "psycopg",
    "pyarrow",
    "redis",
    "skl2onnx",
    "sklearn",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "xgboost",
    "yaml",
}
# ``import goldenpath`` loads the error classes and connect(): not the CLI's libraries, nor
# pydantic (the config's models load with a workspace).
IMPORT_ONLY = HEAVY | {"pydantic", "rich", "typer"}

_DUMP = "import json, sys; print(json.dumps(sorted(sys.modules)))"
# Runs the gp entry point as the console script does, and prints sys.modules as it exits.
_GP = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["gp", *sys.argv[1:]]
from goldenpath.cli.app import main
main()
"""


def _top_level(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def _gp_modules(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _GP, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return _top_level(json.loads(line.removeprefix("MODULES ")))


def test_import_goldenpath_loads_only_light_modules() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import goldenpath; " + _DUMP],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = json.loads(done.stdout)
    assert _top_level(loaded) & IMPORT_ONLY == set()
    project = {m for m in loaded if m.startswith("goldenpath")}
    assert project == {"goldenpath", "goldenpath.core", "goldenpath.core.errors"}


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("runs", "--help"),
        ("data", "--help"),
        ("models", "list", "--help"),
    ],
    ids=" ".join,
)
def test_gp_help_loads_no_engine(args: tuple[str, ...]) -> None:
    loaded = _gp_modules(*args)
    assert loaded & HEAVY == set()


@pytest.mark.parametrize("args", [("--help",), ("runs", "--help")], ids=" ".join)
def test_gp_help_loads_no_pydantic_nor_markdown(args: tuple[str, ...]) -> None:
    # Typer 0.29 would coerce the global options' values with pydantic (typer/_adapters.py),
    # and its rich help formatter imports rich.markdown (markdown-it, pygments) and
    # rich.traceback (attrs, through rich.pretty): cli/help.py passes plain values through
    # and loads the formatter with stand-ins for those two.
    loaded = _gp_modules(*args)
    assert loaded & {"pydantic", "markdown_it", "pygments", "attr"} == set()


def test_the_help_formatters_stand_ins_load_the_real_classes() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from goldenpath.cli.help import load_rich_help; load_rich_help(); "
            "from typer import rich_utils; assert 'rich.markdown' not in sys.modules; "
            "md = rich_utils.Markdown('# x'); tb = rich_utils.Traceback.from_exception; "
            "import rich.markdown, rich.traceback; "
            "assert type(md) is rich.markdown.Markdown, type(md); "
            "assert tb.__func__ is rich.traceback.Traceback.from_exception.__func__",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


# What a listing needs: the metadata database (SQLAlchemy's SQLite dialect), the config
# (pydantic, YAML); never a data or model engine, nor the audit key's cryptography.
ENGINES = {
    "deltalake",
    "duckdb",
    "lightgbm",
    "numpy",
    "onnx",
    "onnxruntime",
    "pandas",
    "pyarrow",
    "sklearn",
    "xgboost",
}


@pytest.mark.parametrize(
    "args", [("status",), ("data", "list"), ("runs", "list"), ("models", "list")], ids=" ".join
)
def test_listings_load_no_data_engine(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    subprocess.run([sys.executable, "-c", _GP, "init"], capture_output=True, check=True)
    done = subprocess.run(
        [sys.executable, "-c", _GP, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    loaded = json.loads(line.removeprefix("MODULES "))
    assert _top_level(loaded) & ENGINES == set()
    # Nor what only some commands need: cryptography signs and verifies the audit trail
    # (gp init, gp audit), SQLAlchemy's PostgreSQL dialect serves PostgreSQL workspaces.
    assert "cryptography" not in _top_level(loaded)
    assert [m for m in loaded if m.startswith("sqlalchemy.dialects.postgresql")] == []
