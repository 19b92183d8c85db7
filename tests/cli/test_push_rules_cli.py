"""``gp features push`` meets row rules, not batch rules, and says which rules wait; ``gp
features materialize`` checks them; ``--entity user_id=007`` keeps text for a text key
(issue 23, §4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath
from tests.cli.conftest import ACTOR, env
from tests.cli.inprocess import gp

HEADER = "tx_id,user_id,amount,currency,ts,is_fraud\n"


@pytest.fixture
def applied(quickstart_home: Path, tmp_path: Path) -> Path:
    """The quickstart workspace (its contract says rows: {min: 100}), features applied."""
    home = Path(shutil.copytree(quickstart_home, tmp_path / "home"))
    folder = home / "quickstart"
    assert gp("features", "apply", "-f", str(folder / "features.py"), env=env(home)).code == 0
    done = gp("features", "materialize", env=env(home))
    assert done.code == 0, str(done)
    return home


def test_push_of_one_row_passes_and_says_which_rules_wait(applied: Path, tmp_path: Path) -> None:
    before = json.loads(gp("data", "show", "transactions", "--json", env=env(applied)).out)
    row = tmp_path / "row.csv"
    row.write_text(HEADER + "tx_900001,7,12.5,EUR,2026-11-01T10:00:00,false\n")
    pushed = gp("features", "push", "user_tx", str(row), env=env(applied))
    assert pushed.code == 0, str(pushed)
    version = f"transactions@{before['version'] + 1}"
    assert f"1 row pushed, offline as {version}" in pushed.out
    assert (
        "contract: row rules applied; table rules amount.mean pending: the next gp features "
        "materialize checks them over the pushed rows" in pushed.out
    ), pushed.out
    assert "contract: not applied to pushes: table.rows" in pushed.out
    shown = gp("data", "show", version, env=env(applied))
    assert shown.code == 0, str(shown)
    assert (
        "pending: row rules passed; table rules amount.mean wait for gp features materialize"
        in shown.out
    ), shown.out
    assert "pushed to feature view user_tx (1 row)" in shown.out
    done = gp("features", "materialize", env=env(applied))
    assert done.code == 0, str(done)
    assert (
        f"transactions: table rules over 1 pushed row (@{before['version'] + 1}): "
        "all 1 rule passed on 1 row" in done.out
    ), str(done)
    checked = json.loads(gp("data", "show", version, "--json", env=env(applied)).out)
    assert checked["validation"]["outcome"] == "accepted"
    shown = gp("data", "show", version, env=env(applied)).out
    assert f"table rules over the rows pushed with @{before['version'] + 1}: passed" in shown


def test_a_bad_row_refuses_the_push_naming_it(applied: Path, tmp_path: Path) -> None:
    before = gp("data", "history", "transactions", "--json", env=env(applied)).out
    rows = tmp_path / "rows.csv"
    rows.write_text(
        HEADER
        + "tx_900002,7,12.5,EUR,2026-11-01T10:00:00,false\n"
        + "tx_900003,7,-3,XXX,2026-11-01T10:01:00,false\n"
    )
    refused = gp("features", "push", "user_tx", str(rows), env=env(applied))
    assert refused.code == 6, str(refused)
    lines = refused.err.splitlines()
    assert lines[0] == (
        "error: push refused for 'transactions': 1 row of 2 breaks row rules; nothing was written"
    ), refused.err
    assert lines[1] == (
        "  row 2 breaks amount.min (amount='-3.0'), currency.allowed (currency='XXX')"
    ), refused.err
    assert gp("data", "history", "transactions", "--json", env=env(applied)).out == before


def test_entity_values_are_typed_by_the_definition(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = goldenpath.connect(home, actor=ACTOR, create=True)
    table = pa.table(
        {
            "user_id": pa.array(["007", "7"], pa.string()),
            "ts": pa.array([1_700_000_000_000_000] * 2, pa.timestamp("us", tz="UTC")),
            "amount": pa.array([1.5, 2.5], pa.float64()),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    ws.datasets.ingest("accounts", tmp_path / "t.parquet")
    ws.close()
    (tmp_path / "features.py").write_text(
        "from goldenpath.features import Entity, FeatureView, Field\n"
        "user = Entity(name='user', join_keys=['user_id'])\n"
        "acct = FeatureView(name='acct', entities=[user], source='accounts', timestamp='ts',\n"
        "                   features=[Field(name='amount', dtype='float64')])\n"
    )
    assert gp("features", "apply", "-f", str(tmp_path / "features.py"), env=env(home)).code == 0
    assert gp("features", "materialize", env=env(home)).code == 0
    at = ["--features", "acct:amount", "--at", "2024-01-01T00:00:00+00:00", "--json"]
    got = gp("features", "online", "--entity", "user_id=007", "--entity", "user_id=7", *at,
             env=env(home))  # fmt: skip
    assert got.code == 0, str(got)
    answer = json.loads(got.out)
    assert answer["rows"] == [
        {"user_id": "007", "amount": 1.5},
        {"user_id": "7", "amount": 2.5},
    ]

    # A pushed CSV keeps the text key's zeros too: read as the dataset's column, not guessed.
    (tmp_path / "push.csv").write_text("user_id,ts,amount\n007,2023-11-15T00:00:00+00:00,9.5\n")
    pushed = gp("features", "push", "acct", str(tmp_path / "push.csv"), env=env(home))
    assert pushed.code == 0, str(pushed)
    got = gp("features", "online", "--entity", "user_id=007", "--entity", "user_id=7", *at,
             env=env(home))  # fmt: skip
    assert [r["amount"] for r in json.loads(got.out)["rows"]] == [9.5, 2.5]
