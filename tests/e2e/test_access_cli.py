"""Two principals on two projects, through the installed gp: each acts only on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write

pytestmark = pytest.mark.e2e
GP = str(Path(sys.executable).parent / "gp")


def gp(home: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env["GP_HOME"] = str(home)
    if token:
        env["GP_TOKEN"] = token
    return subprocess.run(
        [GP, *args], env=env, capture_output=True, text=True, timeout=120, cwd=home.parent
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_each_principal_acts_only_on_its_own_project(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(gp(home, "init"))
    tokens = {}
    for name, project, team in (("bob", "fraud", "risk"), ("carol", "churn", "growth")):
        ok(gp(home, "projects", "create", project, "--team", team))
        ok(gp(home, "principals", "add", name))
        ok(gp(home, "access", "grant", "contributor", name, "--project", project))
        created = json.loads(
            ok(gp(home, "tokens", "create", "--principal", name, "--expires", "1h", "--json"))
        )
        tokens[name] = created["token"]
    data = write(tmp_path / "d.csv", "id,amount\n1,2.0\n")
    ok(gp(home, "-p", "fraud", "data", "ingest", "fraud_tx", str(data), token=tokens["bob"]))
    ok(gp(home, "-p", "churn", "data", "ingest", "churn_users", str(data), token=tokens["carol"]))

    def names(who: str) -> list[str]:
        listed = json.loads(ok(gp(home, "data", "list", "--json", token=tokens[who])))
        return [d["name"] for d in listed]

    assert names("bob") == ["fraud_tx"] and names("carol") == ["churn_users"]
    for args in (
        ["data", "show", "churn_users"],
        ["data", "head", "churn_users@1"],
        ["data", "history", "churn_users"],
    ):
        # A dataset bob may not read answers as a missing one (no existence oracle).
        hidden = gp(home, *args, token=tokens["bob"])
        assert hidden.returncode == 4, (args, hidden.stderr)
        assert hidden.stderr.startswith("error: no dataset named 'churn_users'"), hidden.stderr
    for args in (
        ["-p", "churn", "data", "ingest", "churn_users", str(data)],
        ["audit", "list"],
        ["principals", "list"],
        ["access", "grant", "contributor", "bob", "--project", "churn"],
    ):
        denied = gp(home, *args, token=tokens["bob"])
        assert denied.returncode == 3, (args, denied.stderr)
        assert denied.stderr.startswith("error: 'bob' may not"), denied.stderr
        assert "Traceback" not in denied.stderr
    whoami = json.loads(ok(gp(home, "access", "whoami", "--json", token=tokens["bob"])))
    assert [(g["role"], g["scope_name"]) for g in whoami["grants"]] == [("contributor", "fraud")]
    revoked = json.loads(ok(gp(home, "tokens", "list", "--principal", "bob", "--json")))[0]["id"]
    ok(gp(home, "tokens", "revoke", revoked))
    gone = gp(home, "data", "list", token=tokens["bob"])
    assert gone.returncode == 3 and "revoked" in gone.stderr
    assert tokens["bob"] not in gone.stderr
    verify = gp(home, "audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout
