"""Empty lists say what would fill them and how; ``gp policy new`` writes a sample policy
(issue 12, point 6).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli.inprocess import Result, gp

ACTOR = "new-user"


@pytest.fixture(scope="module")
def new_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("new") / "home"
    made = gp("init", "--workspace", str(home), env={"GP_ACTOR": ACTOR})
    assert made.code == 0, str(made)
    return home


def run(home: Path, *args: str, actor: str = ACTOR) -> Result:
    return gp(*args, env={"GP_HOME": str(home), "GP_ACTOR": actor})


EMPTY = {
    ("data", "list"): "no datasets yet: add one with: gp data ingest NAME FILE",
    ("policy", "list"): "no policies yet: write a sample one to edit with: gp policy new NAME",
    ("approvals", "list"): "no approval requests: a policy with approval: true opens one",
    ("approvals", "list", "--status", "pending"): "no pending approval requests: a policy",
    ("tokens", "list"): "no tokens: create one with: gp tokens create",
    ("audit", "list", "--action", "model."): "no audit events match (drop --action",
}


@pytest.mark.parametrize("args", list(EMPTY), ids=" ".join)
def test_an_empty_list_says_how_to_fill_it(new_home: Path, args: tuple[str, ...]) -> None:
    result = run(new_home, *args)
    assert result.code == 0, str(result)
    assert result.out.startswith(EMPTY[args]), str(result)
    assert len(result.out.splitlines()) == 1 and "━" not in result.out  # no bare header
    assert run(new_home, *args, "--json").out.strip() == "[]"


def test_policy_new_writes_a_sample_that_works(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert gp("init", "--workspace", str(home), env={"GP_ACTOR": ACTOR}).code == 0
    made = run(home, "policy", "new", "restricted-data")
    assert made.code == 0, str(made)
    path = home / "policies" / "restricted-data.yaml"
    assert made.out.startswith(f"wrote {path}\n")
    assert yaml.safe_load(path.read_text())["policies"][0]["name"] == "restricted-data"

    listed = run(home, "policy", "list", "--json")
    assert [p["name"] for p in json.loads(listed.out)] == ["restricted-data"]
    denied = run(home, "policy", "test", "restricted-data", "--attr", "classification=restricted")
    assert (denied.code, denied.out) == (3, "deny: restricted data needs an approver's sign-off\n")
    signed = ("--attr", "classification=restricted", "--approved")
    assert run(home, "policy", "test", "restricted-data", *signed).code == 0
    other = run(home, "policy", "test", "restricted-data", "--attr", "classification=public")
    assert (other.code, other.out) == (0, "allow: restricted-data does not apply\n")
    audited = json.loads(run(home, "audit", "list", "--action", "policy.create", "--json").out)
    assert [(e["actor"], e["object_ref"]) for e in audited] == [(ACTOR, "restricted-data")]

    again = run(home, "policy", "new", "restricted-data")
    assert again.code == 5 and "exists already" in again.err, str(again)
    assert run(home, "policy", "new", "Bad Name").code == 2
    assert run(home, "principals", "add", "bob").code == 0
    refused = run(home, "policy", "new", "bobs-policy", actor="bob")
    assert refused.code == 3 and "policy.manage" in refused.err, str(refused)
    assert sorted(p.name for p in (home / "policies").iterdir()) == ["restricted-data.yaml"]
