"""``gp features materialize / online / push`` in the quickstart workspace: output and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import env
from tests.cli.inprocess import gp


@pytest.fixture(scope="module")
def applied(quickstart_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quickstart workspace copied once, features.py applied and materialised."""
    import shutil

    home = Path(shutil.copytree(quickstart_home, tmp_path_factory.mktemp("fs") / "home"))
    folder = home / "quickstart"
    assert gp("features", "apply", "-f", str(folder / "features.py"), env=env(home)).code == 0
    done = gp("features", "materialize", "--json", env=env(home))
    assert done.code == 0, str(done)
    assert json.loads(done.out)["views"][0]["mode"] == "full"
    return home


def test_online_prints_value_status_and_age(applied: Path) -> None:
    at = "2026-10-28T00:00:00+00:00"
    args = ["features", "online", "--entity", "user_id=7", "--entity", "user_id=100000"]
    shown = gp(*args, "--features", "user_tx:amount", "--at", at, env=env(applied), width=120)
    assert shown.code == 0, str(shown)
    lines = [line for line in shown.out.splitlines() if "user_id=" in line]
    assert len(lines) == 2
    assert "missing" in lines[1] and "null" in lines[1]
    as_json = gp(*args, "--features", "user_tx:amount", "--at", at, "--json", env=env(applied))
    answer = json.loads(as_json.out)
    assert [r["user_id"] for r in answer["rows"]] == [7, 100000]
    assert answer["statuses"]["amount"][1] == "missing"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--entity", "user_id", "--features", "user_tx:amount"], 2, "key=value"),
        (["--entity", "user_id=7", "--features", "user_tx:amount", "--at", "2026-01-01"], 2,
         "no time zone"),
        (["--entity", "user_id=7", "--features", "user_tx:amount", "--at", "soon"], 2,
         "not an ISO-8601 time"),
        (["--entity", "user_id=seven", "--features", "user_tx:amount"], 2, "must be int64"),
        (["--entity", "user_id=7", "--features", "user_tx:nope"], 4, "unknown feature"),
        (["--entity", "user_id=7"], 2, "name the features"),
    ],
)  # fmt: skip
def test_bad_input_is_one_error_line(applied: Path, args: list[str], code: int, says: str) -> None:
    run = gp("features", "online", *args, env=env(applied))
    assert run.code == code, str(run)
    assert run.err.startswith("error: ") and says in run.err.splitlines()[0], str(run)
