"""A refused ingest or push leaves the storage tree exactly as it was: no dataset directory,
no lock file, no Delta commit, no quarantine table (issue 22, section 4)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

import goldenpath
from goldenpath import ContractError, ValidationFailed
from goldenpath.core.errors import Conflict, GoldenpathError, InvalidInput, PermissionDenied
from tests.conftest import write

CONTRACT = """\
on_violation: {mode}
additive_changes: {additive}
columns:
  tx_id: {{type: string, nullable: false, unique: true}}
  amount: {{type: float, min: 0}}
  country: {{type: string}}
table:
  rows: {{min: {rows}}}
"""
GOOD = "tx_id,amount,country\ntx_1,10.5,DE\ntx_2,20,FR\n"


def _contract(tmp: Path, mode: str = "reject", additive: str = "allow", rows: int = 1) -> Path:
    text = CONTRACT.format(mode=mode, additive=additive, rows=rows)
    return write(tmp / f"{mode}-{additive}-{rows}.contract.yaml", text)


def _tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its content's sha256 (directories: "dir")."""
    found = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        found[name] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


Refusal = Callable[[goldenpath.Workspace, Path], None]


def _new(csv: str, **contract: object) -> Refusal:
    def run(ws: goldenpath.Workspace, tmp: Path) -> None:
        path = write(tmp / "batch.csv", csv)
        ws.datasets.ingest("fresh", path, contract=_contract(tmp, **contract))  # type: ignore[arg-type]

    return run


def _existing(csv: str, **contract: object) -> Refusal:
    def run(ws: goldenpath.Workspace, tmp: Path) -> None:
        path = write(tmp / "batch.csv", csv)
        extra = {"contract": _contract(tmp, **contract)} if contract else {}  # type: ignore[arg-type]
        ws.datasets.ingest("tx", path, **extra)  # type: ignore[arg-type]

    return run


def _push(ws: goldenpath.Workspace, tmp: Path) -> None:
    rows = pa.table({"tx_id": ["tx_9"], "amount": [-1.0], "country": ["DE"]})
    ws.datasets.append_rows("tx", rows, source={"kind": "test"})


def _viewer(ws: goldenpath.Workspace, tmp: Path) -> None:
    ws.principals.add("vic")
    ws.access.grant("viewer", "vic", project="default")
    with goldenpath.connect(ws.stack.home, actor="vic") as viewer:
        viewer.datasets.ingest("fresh", write(tmp / "batch.csv", GOOD))


CASES: dict[str, tuple[Refusal, type[GoldenpathError], str]] = {
    # a new dataset: nothing of it may appear
    "a contract column the data lacks": (
        _new("tx_id,amount\ntx_1,1\n"),
        ContractError,
        "names column.* the data does not have: country",
    ),
    "a row rule under reject": (
        _new("tx_id,amount,country\ntx_1,-1,DE\n"),
        ValidationFailed,
        "min",
    ),
    "a value of the wrong type": (
        _new("tx_id,amount,country\ntx_1,abc,DE\n"),
        ValidationFailed,
        "amount.type",
    ),
    "a table rule under quarantine": (
        _new(GOOD, mode="quarantine", rows=5),
        ValidationFailed,
        "table.rows",
    ),
    "an unreadable file": (_new('tx_id,amount\n"tx_1,1\n'), InvalidInput, "cannot read batch.csv"),
    "no permission to write": (_viewer, PermissionDenied, "dataset.write"),
    # an existing dataset: no new version, commit or quarantine file
    "a row rule on an existing dataset": (
        _existing("tx_id,amount,country\ntx_3,-1,DE\n"),
        ValidationFailed,
        "min",
    ),
    "a column the existing dataset's contract needs": (
        _existing("tx_id,amount\ntx_3,1\n"),
        ContractError,
        "the data does not have: country",
    ),
    "a new column the contract forbids": (
        _existing("tx_id,amount,country,extra\ntx_3,1,DE,x\n", additive="forbid"),
        Conflict,
        "forbids new columns",
    ),
    "a push that breaks the contract": (_push, ValidationFailed, "min"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_refused_ingest_leaves_the_storage_tree_unchanged(
    local_ws: goldenpath.Workspace, tmp_path: Path, case: str
) -> None:
    ws = local_ws
    ws.datasets.ingest("tx", write(tmp_path / "good.csv", GOOD), contract=_contract(tmp_path))
    root = ws.storage_root
    before = _tree(root)
    refusal, error, says = CASES[case]
    with pytest.raises(error, match=says):
        refusal(ws, tmp_path)
    assert _tree(root) == before
    assert [d.name for d in ws.datasets.list()] == ["tx"]
    assert [v.version for v in ws.datasets.history("tx")] == [1]
