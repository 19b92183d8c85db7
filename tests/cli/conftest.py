"""A quickstart workspace (what ``gp quickstart`` makes), made once per test module."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.inprocess import gp

ACTOR = "quickstart-user"


@pytest.fixture(scope="module")
def quickstart_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace made by ``gp quickstart --data-only`` (the sample data at its fixed times; do
    not change it: copy it with ``fresh_home``)."""
    home = tmp_path_factory.mktemp("quickstart") / "home"
    made = gp(
        "quickstart",
        "--workspace",
        str(home),
        "--rows",
        "300",
        "--data-only",
        env={"GP_ACTOR": ACTOR},
    )
    assert made.code == 0, str(made)
    return home


@pytest.fixture
def fresh_home(quickstart_home: Path, tmp_path: Path) -> Path:
    """A copy of the quickstart workspace for one test to change."""
    return Path(shutil.copytree(quickstart_home, tmp_path / "home"))


def env(home: Path) -> dict[str, str]:
    return {"GP_HOME": str(home), "GP_ACTOR": ACTOR}
