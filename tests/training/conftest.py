"""A workspace holding the example project's data and features (docs/examples/fraud), and a
copy of the project to train from."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import goldenpath
from goldenpath.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "fraud"
PROJECT_FILES = ("gp.yaml", "train.py", "features.py", "transactions.csv")
PROJECT_FILES += ("transactions.contract.yaml",)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project."""
    target = tmp_path / "fraud"
    target.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(EXAMPLE / name, target / name)
    return target


@pytest.fixture
def trained_ws(tmp_path: Path, project: Path) -> Iterator[Workspace]:
    """A workspace with the transactions ingested (under their contract) and the features
    applied."""
    with goldenpath.connect(tmp_path / "home", actor="alice", create=True) as ws:
        ws.datasets.ingest(
            "transactions",
            project / "transactions.csv",
            contract=project / "transactions.contract.yaml",
        )
        ws.features.apply(project / "features.py")
        yield ws


def write_train(project: Path, body: str) -> None:
    """Replace the project's train.py."""
    (project / "train.py").write_text(body, encoding="utf-8")
