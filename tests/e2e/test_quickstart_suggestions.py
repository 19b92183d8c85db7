"""What gp quickstart tells a new user to do next works as printed (issue 12, points 3 and 9).

``gp quickstart`` runs once in a fresh GP_HOME; every ``try next`` command is then run exactly
as printed, in order, through a shell with the installed ``gp`` on PATH, and must exit 0. The
removal command it prints runs last and must remove what it says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from goldenpath.cli.app import app as cli_app

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Quickstart:
    out: str
    env: dict[str, str]
    cwd: Path
    home: Path

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def section(self, title: str) -> list[str]:
        """The commands printed under ``title`` (indented lines), comments included."""
        lines = self.out.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0].splitlines()
        return [line.strip() for line in lines if line.startswith("  ") and "(" not in line[:3]]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quickstart]:
    tmp = tmp_path_factory.mktemp("quickstart")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env.pop("XDG_DATA_HOME", None)
    env["HOME"] = str(tmp / "user")
    env["GP_HOME"] = str(tmp / "gp home")  # a space: printed paths must be quoted
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    (tmp / "work").mkdir()
    done = subprocess.run(
        ["gp", "quickstart"], cwd=tmp / "work", env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    made = Quickstart(done.stdout, env, tmp / "work", Path(env["GP_HOME"]))
    yield made
    if made.home.exists():  # the endpoint it left running, if a test did not stop it
        made.run("gp deployments stop fraud-api")


def test_it_says_where_the_workspace_is(quickstart: Quickstart) -> None:
    assert f"workspace {quickstart.home} (new)" in quickstart.out


def test_the_first_version_has_one_wording_whatever_the_mode(
    quickstart: Quickstart, tmp_path: Path
) -> None:
    # quickstart ingests with --mode overwrite (a rerun replaces the rows); a plain ingest
    # appends. A first version replaces nothing: both record and say "append".
    assert "transactions@1: 4,984 rows appended (a new dataset)" in quickstart.out
    shown = json.loads(quickstart.run("gp data show transactions@1 --json").stdout)
    assert shown["mode"] == "append"

    data = quickstart.home / "quickstart" / "next-batch.csv"
    runner = CliRunner()  # in-process: the same commands, without a gp start each
    other = ["--workspace", str(tmp_path / "other")]
    assert runner.invoke(cli_app, [*other, "init"]).exit_code == 0
    for mode in ("append", "overwrite"):
        said = runner.invoke(cli_app, [*other, "data", "ingest", mode, str(data), "--mode", mode])
        assert f"{mode}@1: 500 rows appended (a new dataset)" in said.output, said.output
        shown = runner.invoke(cli_app, [*other, "data", "show", f"{mode}@1", "--json"])
        assert json.loads(shown.output)["mode"] == "append"


def test_every_suggestion_works_as_printed(quickstart: Quickstart) -> None:
    suggestions = quickstart.section("try next")
    assert len(suggestions) >= 8, quickstart.out
    commands = [s.split("  #", 1)[0].strip() for s in suggestions]
    for wanted in (
        "predictions show",
        "deployments status",
        "data head",
        "data profile",
        "data quarantine",
        "data validate",
        "audit",
    ):
        assert any(c.startswith(f"gp {wanted}") for c in commands), (wanted, commands)
    failures = []
    for suggestion in suggestions:
        done = quickstart.run(suggestion)
        if done.returncode != 0:
            failures.append(f"`{suggestion}` exits {done.returncode}:\n{done.stdout}{done.stderr}")
    assert not failures, "\n".join(failures)
    # The suggested ingest added the next batch as a second version, nothing held back.
    latest = json.loads(quickstart.run("gp data show transactions --json").stdout)
    assert (latest["version"], latest["batch_rows"], latest["quarantined_rows"]) == (2, 500, 0)


def test_the_printed_stop_and_removal_stop_the_endpoint_and_remove_the_workspace(
    quickstart: Quickstart,
) -> None:
    stop, removal = quickstart.section("done?")
    assert stop.startswith("gp deployments stop fraud-api"), quickstart.out
    assert removal.startswith("rm -rf "), quickstart.out
    url = quickstart.out.split("fraud-api: serving fraud@1 at ", 1)[1].split()[0]
    assert httpx.get(f"{url}/v2/health/live", timeout=10).status_code == 200
    assert quickstart.run(stop).returncode == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v2/health/live", timeout=10)
    assert quickstart.home.is_dir()
    done = quickstart.run(removal)
    assert done.returncode == 0, done.stderr
    assert not quickstart.home.exists()
