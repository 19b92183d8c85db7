"""Hostile column names through ingest, validation, quarantine, profile and read.

Whatever a header says, either the file is refused with one clear error and nothing is
written, or every name comes back exactly as written, with its data, and nothing outside the
dataset is read or written: a planted secret never appears in any output and no file appears
outside the workspace. Column names that try to break out of SQL point at that secret.
"""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import goldenpath
from goldenpath import InvalidInput, ValidationFailed
from goldenpath.core.limits import Limits

CHARS_MAX = Limits().column_name_chars_max
SECRET = "PLANTED-SECRET-7f3a"
_counter = itertools.count()


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One workspace for the module (hypothesis reruns the test body, not the fixture), a
    directory of files a query must never reach, and an inbox for the files we ingest."""
    root = tmp_path_factory.mktemp("hostile")
    outside = root / "outside"
    outside.mkdir()
    (outside / "audit-key.pem").write_text(SECRET)
    inbox = root / "inbox"
    inbox.mkdir()
    ws = goldenpath.connect(root / "home", actor="alice", create=True)
    yield {"ws": ws, "root": root, "outside": outside, "inbox": inbox}
    ws.close()


def _fragments(secret: str, planted: str) -> list[str]:
    return [
        "'",
        '"',
        "''",
        ";",
        "--",
        "/*",
        "*/",
        "]",
        "[",
        "\\",
        "\\'",
        "\n",
        "\r\n",
        "\t",
        "\x00",
        " ",
        "?",
        "$1",
        "%s",
        "{}",
        ",",
        "SELECT",
        "select * from batch",
        "DROP TABLE batch",
        "NULL",
        "_gp_",
        "_GP_ROW",
        "Ünï",
        "✓",
        "\U0001d518",  # MATHEMATICAL FRAKTUR CAPITAL U (outside the BMP)
        "\u202e",
        f"' || (SELECT content FROM read_text('{secret}')) || '",
        f"\" || (SELECT content FROM read_text('{secret}')) || \"",
        f"x' END]); COPY (SELECT 1) TO '{planted}'; SELECT ['",
        f"x\"; COPY (SELECT 1) TO '{planted}'; --",
    ]


def names_strategy() -> st.SearchStrategy[list[str]]:
    # The paths are fixed strings so the strategy can be built before the fixture exists;
    # the test rewrites them to the module's real directory.
    pieces = _fragments("@SECRET@", "@PLANTED@")
    name = st.one_of(
        st.lists(
            st.one_of(st.sampled_from(pieces), st.text(max_size=4)), min_size=1, max_size=4
        ).map("".join),
        st.sampled_from(["x" * CHARS_MAX, "z" * (CHARS_MAX + 1), "SELECT", "from", ""]),
    )
    return st.lists(name, min_size=1, max_size=3)


def _acceptable(names: list[str]) -> bool:
    """The rule of data/columns.py, restated: which headers must be refused."""
    folded = [n.lower() for n in names]
    return len(set(folded)) == len(folded) and all(
        n.strip() and "\x00" not in n and len(n) <= CHARS_MAX and not n.lower().startswith("_gp_")
        for n in names
    )


def _files(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*")}


def _write(path: Path, fmt: str, names: list[str], rows: list[list[int | None]]) -> Path:
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
            writer.writerow(names)
            writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
    else:
        # from_arrays, not a dict: repeated names must stay repeated.
        arrays = [pa.array([row[i] for row in rows], pa.int64()) for i in range(len(names))]
        pq.write_table(pa.Table.from_arrays(arrays, names=names), path)
    return path


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    names=names_strategy(),
    fmt=st.sampled_from(["csv", "parquet"]),
    mode=st.sampled_from(["quarantine", "reject"]),
)
def test_hostile_column_names_round_trip_or_are_refused(
    place: dict[str, Any], names: list[str], fmt: str, mode: str
) -> None:
    ws: goldenpath.Workspace = place["ws"]
    outside: Path = place["outside"]
    planted = outside / "pwned.csv"
    names = [
        n.replace("@SECRET@", str(outside / "audit-key.pem")).replace("@PLANTED@", str(planted))
        for n in names
    ]
    dataset = f"h{next(_counter)}"
    note(f"names={[n[:100] for n in names]!r} fmt={fmt} mode={mode}")
    # Row 0 keeps every rule; row 1 breaks first.not_null; row 2 breaks last.min.
    width = len(names)
    rows: list[list[int | None]] = [
        [1] * width,
        [None] + [2] * (width - 1),
        [3] * (width - 1) + [-1],
    ]
    if width == 1:
        rows[2] = [-1]
    data = _write(place["inbox"] / f"{dataset}.{fmt}", fmt, names, rows)
    contract = place["inbox"] / f"{dataset}.yaml"
    spec = {"on_violation": mode, "columns": {n: {"nullable": False, "min": 0} for n in names}}
    text = yaml.safe_dump(spec, allow_unicode=True)
    if yaml.safe_load(text) != spec:
        # PyYAML writes some characters raw that its reader folds (NEL, U+0085, becomes a
        # space in a quoted scalar): escape them, so the contract names what the test means.
        text = yaml.safe_dump(spec, allow_unicode=False)
    assert yaml.safe_load(text) == spec
    contract.write_text(text, encoding="utf-8")
    watched = _files(place["root"]) - _files(place["root"] / "home")
    cwd_before = set(os.listdir())

    outputs: list[object] = []
    if not _acceptable(names):
        with pytest.raises(InvalidInput) as refused:
            ws.datasets.ingest(dataset, data, contract=contract)
        assert not isinstance(refused.value, ValidationFailed)
        # (A reader's own error, "cannot read ...", quotes pyarrow's message, which may hold a
        # whole name: data/formats.py's to shorten, not this module's.)
        if not refused.value.message.startswith("cannot read"):
            assert len(refused.value.message) < 1_000
        outputs.append(refused.value.message)
        assert dataset not in [d.name for d in ws.datasets.list()]
    elif mode == "reject":
        with pytest.raises(ValidationFailed) as rejected:
            ws.datasets.ingest(dataset, data, contract=contract)
        failed = {r.rule for r in rejected.value.report.failures}
        assert failed == {f"{names[0]}.not_null", f"{names[-1]}.min"}
        outputs.append(rejected.value.message)
        assert dataset not in [d.name for d in ws.datasets.list()]
    else:
        result = ws.datasets.ingest(dataset, data, contract=contract)
        assert result.outcome == "quarantined"
        table = ws.datasets.read(dataset)
        assert table.column_names == names
        assert table.to_pylist() == [dict.fromkeys(names, 1)]
        assert ws.datasets.read(dataset, columns=[names[-1]]).column_names == [names[-1]]
        held = ws.datasets.quarantine(dataset)
        assert held.column_names[:width] == names
        by_row = {tuple(r["_gp_rules"]) for r in held.to_pylist()}
        assert by_row == {(f"{names[0]}.not_null",), (f"{names[-1]}.min",)}
        values = [[r[n] for n in names] for r in held.to_pylist()]
        expected = [["" if v is None else str(v) for v in row] for row in rows[1:]]
        assert [[v or "" for v in row] for row in values] == expected
        profile = ws.datasets.profile(dataset)
        assert list(profile["columns"]) == names
        assert all(profile["columns"][n]["min"] == 1 for n in names)
        outputs += [table.to_pylist(), held.to_pylist(), profile, result.report.as_dict()]
        outputs += [ws.datasets.validation(dataset), ws.datasets.get(dataset)]

    outputs.append([e.details for e in ws.audit.list()[:3]])
    assert SECRET not in repr(outputs)
    assert not planted.exists()
    assert _files(place["root"]) - _files(place["root"] / "home") == watched
    assert set(os.listdir()) == cwd_before
