"""End to end: drive the installed ``gp`` command the way a user does.

Every test runs the real console script in a subprocess, in a scratch directory, against a
scratch workspace (``GP_HOME``), and asserts on what a user sees: the exit code, stdout (JSON
where a script would parse it) and stderr (one ``error:`` line, never a traceback). Commands
that cannot affect each other run concurrently, and a test's starting state is arranged
in-process with the SDK, to keep the module fast (every ``gp`` start costs 1-2 s of CPU).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer.main
from typer.testing import CliRunner

import goldenpath
from goldenpath.cli.app import app as cli_app
from tests.conftest import write

pytestmark = pytest.mark.e2e

GP = Path(sys.executable).parent / "gp"
ACTOR = "e2e-user"
PARALLEL = 3
# A step line of the progress shown on stderr by long commands, e.g. "  read      0.01s".
PROGRESS_LINE = re.compile(r"^  [a-z]+ +\d+\.\d+s$")

Arg = str | Path


# -- running gp ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One finished ``gp`` invocation."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]

    def __str__(self) -> str:
        return (
            f"gp {' '.join(self.args)} -> {self.code}\n--stdout--\n{self.out}--stderr--\n{self.err}"
        )


class Gp:
    """The ``gp`` command run in ``cwd`` against the workspace ``home``."""

    def __init__(self, cwd: Path, home: Path) -> None:
        self.cwd = cwd
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
        self.env.update(GP_HOME=str(home), GP_ACTOR=ACTOR, COLUMNS="200")

    def run(self, *args: Arg, code: int | None = 0) -> Run:
        """Run ``gp ARGS``; unless ``code`` is None, assert it exits with ``code``."""
        strings = tuple(str(a) for a in args)
        done = subprocess.run(
            [str(GP), *strings],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        result = Run(strings, done.returncode, done.stdout, done.stderr)
        if code is not None:
            assert result.code == code, str(result)
        return result

    def json(self, *args: Arg) -> Any:
        """Run ``gp ARGS --json`` (expecting success) and parse its stdout."""
        return self.run(*args, "--json").json()

    def runs(self, *commands: Sequence[Arg]) -> list[Run]:
        """Run independent commands concurrently; results in the order given."""
        with ThreadPoolExecutor(PARALLEL) as pool:
            return list(pool.map(lambda c: self.run(*c, code=None), commands))

    def sdk(self) -> goldenpath.Workspace:
        """The workspace in-process, to arrange a test cheaply (the CLI is what is tested)."""
        return goldenpath.connect(self.home, actor=ACTOR)

    def state(self) -> dict[str, Any]:
        """What a failed command must not change: counts, datasets, histories, stored files.

        Read in-process with the SDK (the same data ``gp status/data list/history`` print),
        which keeps these before/after snapshots cheap.
        """
        with self.sdk() as ws:
            listed = ws.datasets.list()
            state = {
                "counts": ws.status().counts,
                "datasets": [d.as_dict() for d in listed],
                "histories": {
                    d.name: [v.as_dict() for v in ws.datasets.history(d.name)] for d in listed
                },
            }
        storage = self.home / "storage"
        state["files"] = sorted(
            str(p.relative_to(storage))
            for p in storage.rglob("*")
            if p.is_file() and p.name != ".lock"
        )
        return state


def assert_user_error(run: Run, code: int, *expected: str) -> str:
    """A user error: exit ``code``, one ``error:`` line naming ``expected``, no traceback."""
    assert run.code == code, str(run)
    assert "Traceback" not in run.err, str(run)
    assert len(run.error_lines) == 1, str(run)
    # Only progress step lines may come before the error.
    lines = run.err.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("error:"))
    assert all(PROGRESS_LINE.match(line) for line in lines[:first]), str(run)
    message = "\n".join(lines[first:])
    for text in expected:
        assert text in message, f"{text!r} not in the error of {run}"
    return message


def csv(path: Path, header: str, *rows: Sequence[object]) -> Path:
    """Write a CSV file: ``header`` then one line per row (None is an empty field)."""
    lines = [header, *(",".join("" if v is None else str(v) for v in row) for row in rows)]
    return write(path, "\n".join(lines) + "\n")


@pytest.fixture
def gp(tmp_path: Path) -> Gp:
    """gp in a scratch directory, against a new (SDK-created) workspace."""
    home = tmp_path / "home"
    goldenpath.connect(home, actor=ACTOR, create=True).close()
    work = tmp_path / "work"
    work.mkdir()
    return Gp(work, home)


# -- workspace and help --------------------------------------------------------------------------


def test_init_and_status(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gp = Gp(tmp_path, home)

    text = gp.run("init")
    assert text.out.startswith(f"created workspace {home}\n")
    assert re.search(rf"^metadata +sqlite:///{re.escape(str(home))}/gp\.db$", text.out, re.M)
    assert "next: gp data ingest NAME FILE" in text.out
    assert (home / "config.yaml").is_file()

    again, status = gp.runs(["init", "--json"], ["status", "--json"])
    assert (again.code, again.json()["created"], again.json()["home"]) == (0, False, str(home))
    info = status.json()
    assert info["home"] == str(home)
    assert info["stack"] == {
        "metadata": f"sqlite:///{home}/gp.db",
        "storage": str(home / "storage"),
        "online": "sqlite",
        "runtime": "local",
        "serving": "deployment",
    }
    assert set(info["sources"].values()) == {"default"}
    assert info["principal"] == ACTOR  # the creator, made the workspace's admin
    counts = info["counts"]
    assert (counts["datasets"], counts["dataset_versions"], counts["principals"]) == (0, 0, 1)
    assert counts["audit_events"] >= 1
    assert again.json()["counts"] == counts  # opening an existing workspace writes nothing


def test_status_says_where_each_setting_comes_from(gp: Gp) -> None:
    gp.env["GP_ONLINE"] = "redis://127.0.0.1:6379/0"  # in effect since issue 13
    gp.env["GP_RUNTIME"] = "kubernetes"  # in effect since issue 15
    as_json, as_text = gp.runs(["status", "--json"], ["status"])
    assert set(as_json.json()["effect"].values()) == {"in effect"}
    assert as_json.json()["stack"]["serving"] == "deployment"
    for run in (as_json, as_text):
        assert run.err == "", str(run)
    row = r"^{} *[ │] *{} *[ │] *{} *[ │] *{}"
    assert re.search(
        row.format("runtime", "kubernetes", "environment", "in effect"), as_text.out, re.M
    )
    assert re.search(
        row.format("online", r"redis://\S+", "environment", "in effect"), as_text.out, re.M
    )
    assert re.search(
        row.format("metadata", r"sqlite:\S+", "default", "in effect"), as_text.out, re.M
    )


def command_paths() -> list[tuple[str, ...]]:
    """Every command and command group of the ``gp`` app, e.g. (), ("data",), ("data", "ingest")."""

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(sub, (*path, name))

    return list(walk(typer.main.get_command(cli_app), ()))


@pytest.fixture(scope="module")
def help_pages() -> dict[tuple[str, ...], Any]:
    """Every command's ``--help``, rendered in-process (35+ ``gp`` starts would cost ~30 s).

    ``test_the_installed_gp_shows_help`` checks that the real console script renders them.
    """
    runner = CliRunner()
    return {
        path: runner.invoke(cli_app, [*path, "--help"], prog_name="gp", env={"COLUMNS": "200"})
        for path in command_paths()
    }


@pytest.mark.parametrize("command", command_paths(), ids=lambda path: " ".join(("gp", *path)))
def test_every_help_page_has_an_example(
    help_pages: dict[tuple[str, ...], Any], command: tuple[str, ...]
) -> None:
    page = help_pages[command]
    assert page.exit_code == 0, page.output
    assert f"Usage: {' '.join(('gp', *command))} " in page.output
    assert "Example: gp " in page.output, page.output


def test_the_installed_gp_shows_help(tmp_path: Path) -> None:
    gp = Gp(tmp_path, tmp_path / "no-workspace")
    top, command = gp.runs(["--help"], ["data", "ingest", "-h"])
    for run in (top, command):
        assert (run.code, run.err) == (0, ""), str(run)
    assert top.out.lstrip().startswith("Usage: gp [OPTIONS] COMMAND [ARGS]...")
    for name in ("init", "status", "data", "audit"):
        assert re.search(rf"│ {name} ", top.out), str(top)
    assert "Example: gp " in top.out
    assert "Example: gp data ingest transactions next-batch.csv" in command.out
    assert re.search(r"│ --json +Print as JSON", command.out), str(command)  # no <bool>
    assert "--allow-breaking" in command.out
    assert not (tmp_path / "no-workspace").exists()


# -- ingest and inspect --------------------------------------------------------------------------


def test_ingest_csv_parquet_and_json_lines_then_inspect(gp: Gp) -> None:
    rows = [(1, 10.0, "DE"), (2, None, "FR"), (3, 20.0, "US")]
    tx = csv(gp.cwd / "tx.csv", "id,amount,country", *rows)
    pq.write_table(pa.table({"id": [1, 2], "score": [0.5, 0.25]}), gp.cwd / "scores.parquet")
    write(gp.cwd / "events.jsonl", '{"id": 1, "kind": "click"}\n{"id": 2, "kind": null}\n')

    ingests = gp.runs(
        ["data", "ingest", "tx", "tx.csv"],
        ["data", "ingest", "scores", "scores.parquet", "--json"],
        ["data", "ingest", "events", "events.jsonl", "--json"],
    )
    for run in ingests:
        assert run.code == 0, str(run)
    assert ingests[0].out.startswith("tx@1: 3 rows appended (a new dataset)")
    assert ingests[0].err and all(PROGRESS_LINE.match(line) for line in ingests[0].err.splitlines())
    for run, fmt in zip(ingests[1:], ("parquet", "jsonl"), strict=True):
        version = run.json()["version"]
        assert (version["version"], version["row_count"], version["source"]["format"]) == (
            1,
            2,
            fmt,
        )
        assert (run.json()["outcome"], run.err) == ("accepted", "")

    write(gp.cwd / "tx.contract.yaml", RULES)
    csv(gp.cwd / "good.csv", "id,amount,country", (4, 1.0, "DE"))
    csv(gp.cwd / "bad.csv", "id,amount,country", (5, -1.0, "DE"), (6, 2.0, "XX"))
    runs = gp.runs(
        ["data", "list", "--json"],
        ["data", "show", "tx", "--json"],
        ["data", "history", "tx", "--json"],
        ["data", "head", "tx", "-n", "2", "--json"],
        ["data", "profile", "tx", "--json"],
        ["audit", "list", "--json"],
        ["data", "validate", "tx", "good.csv", "--contract", "tx.contract.yaml"],
        ["data", "validate", "tx", "bad.csv", "--contract", "tx.contract.yaml"],
    )
    listed, show, history, head, profile, audit, ok, failed = runs
    for run in runs[:-1]:
        assert run.code == 0, str(run)

    assert [(d["name"], d["latest_version"], d["versions"], d["rows"]) for d in listed.json()] == [
        ("events", 1, 1, 2),
        ("scores", 1, 1, 2),
        ("tx", 1, 1, 3),
    ]
    shown = show.json()
    assert (shown["ref"], shown["row_count"], shown["batch_rows"]) == ("tx@1", 3, 3)
    assert re.fullmatch(r"[0-9a-f]{64}", shown["fingerprint"])
    assert [(c["name"], c["type"]) for c in shown["schema"]] == [
        ("id", "int64"),
        ("amount", "double"),
        ("country", "string"),
    ]
    assert shown["source"] == {
        "path": str(tx.resolve()),
        "format": "csv",
        "bytes": tx.stat().st_size,
        "sha256": hashlib.sha256(tx.read_bytes()).hexdigest(),
    }
    assert shown["created_by"] == ACTOR and shown["validation"] is None
    assert [(v["ref"], v["fingerprint"]) for v in history.json()] == [
        ("tx@1", shown["fingerprint"])
    ]
    assert head.json() == [
        {"id": 1, "amount": 10.0, "country": "DE"},
        {"id": 2, "amount": None, "country": "FR"},
    ]
    assert profile.json()["rows"] == 3
    columns = profile.json()["columns"]
    assert columns["amount"]["null_fraction"] == pytest.approx(1 / 3)
    assert columns["amount"]["mean"] == pytest.approx(15.0)
    assert columns["country"]["null_fraction"] == 0.0 and "mean" not in columns["country"]
    events_seen = {(e["action"], e["object_ref"], e["actor"]) for e in audit.json()}
    assert {("dataset.create", "tx", ACTOR), ("dataset.ingest", "tx@1", ACTOR)} <= events_seen

    assert ok.out.startswith("all 2 rules passed on 1 row"), str(ok)
    assert failed.code == 6, str(failed)
    assert "amount.min: 1 value below 0" in failed.out
    assert "country.allowed: 1 value not in the allowed list" in failed.out
    assert gp.state()["counts"]["dataset_versions"] == 3  # validate wrote nothing


def test_time_travel(gp: Gp) -> None:
    with gp.sdk() as ws:
        ws.datasets.ingest("tx", csv(gp.cwd / "v1.csv", "id,amount", (1, 1.5), (2, 2.5)))
    csv(gp.cwd / "v2.csv", "id,amount", (3, 3.5))
    second = gp.run("data", "ingest", "tx", "v2.csv")
    assert second.out.startswith("tx@2: 1 row appended, 3 rows in the version")
    first, latest = gp.runs(["data", "head", "tx@1", "--json"], ["data", "head", "tx", "--json"])
    assert first.json() == [{"id": 1, "amount": 1.5}, {"id": 2, "amount": 2.5}]
    assert sorted(r["id"] for r in latest.json()) == [1, 2, 3]


# -- contracts -----------------------------------------------------------------------------------

RULES = "columns:\n  amount: {type: float, min: 0}\n  country: {allowed: [DE, FR, US]}\n"
GOOD = [(1, 1.0, "DE"), (2, 2.0, "US")]
BAD = [(3, -1.0, "DE"), (4, -2.0, "FR"), (5, 5.0, "XX"), (6, 6.0, "US")]


def test_a_reject_contract_refuses_a_bad_batch_and_writes_nothing(gp: Gp) -> None:
    contract = write(gp.cwd / "reject.yaml", "on_violation: reject\n" + RULES)
    with gp.sdk() as ws:
        good = csv(gp.cwd / "good.csv", "id,amount,country", *GOOD)
        ws.datasets.ingest("tx", good, contract=contract)
    csv(gp.cwd / "bad.csv", "id,amount,country", *BAD)
    before = gp.state()

    text, scripted = gp.runs(
        ["data", "ingest", "tx", "bad.csv"], ["data", "ingest", "tx", "bad.csv", "--json"]
    )
    assert_user_error(
        text,
        6,
        "error: batch refused for 'tx'",
        "nothing was written",
        "2 of 2 rules failed (3 of 4 rows)",
        "amount.min: 2 values below 0",
        "country.allowed: 1 value not in the allowed list",
        "hint:",
    )
    # Without progress lines (--json), stderr is the error alone.
    assert scripted.code == 6, str(scripted)
    assert scripted.err.startswith("error: batch refused for 'tx'"), str(scripted)
    assert scripted.out == ""

    after = gp.state()
    assert (after["histories"], after["files"]) == (before["histories"], before["files"])
    with gp.sdk() as ws:
        refused = ws.audit.list(action="dataset.ingest_rejected")
    assert [(e.object_ref, e.actor) for e in refused] == [("tx", ACTOR)] * 2


def test_a_quarantine_contract_keeps_the_valid_rows_and_counts_the_rest(gp: Gp) -> None:
    write(gp.cwd / "quarantine.yaml", "on_violation: quarantine\n" + RULES)
    csv(gp.cwd / "mixed.csv", "id,amount,country", *GOOD, *BAD)
    ingested = gp.run("data", "ingest", "tx", "mixed.csv", "--contract", "quarantine.yaml")
    assert "3 rows quarantined; see them with: gp data quarantine tx" in ingested.out

    show, held = gp.runs(["data", "show", "tx", "--json"], ["data", "quarantine", "tx", "--json"])
    shown = show.json()
    assert (shown["row_count"], shown["batch_rows"], shown["quarantined_rows"]) == (3, 3, 3)
    validation = shown["validation"]
    assert (validation["outcome"], validation["rows_failed"]) == ("quarantined", 3)
    assert sorted((r["id"], r["_gp_rules"], r["_gp_version"]) for r in held.json()) == [
        ("3", ["amount.min"], 1),
        ("4", ["amount.min"], 1),
        ("5", ["country.allowed"], 1),
    ]
    with gp.sdk() as ws:
        assert sorted(ws.datasets.read("tx").column("id").to_pylist()) == [1, 2, 6]


# -- schema evolution ----------------------------------------------------------------------------


def test_schema_evolution(gp: Gp) -> None:
    with gp.sdk() as ws:
        ws.datasets.ingest("tx", csv(gp.cwd / "v1.csv", "id,amount", (1, 1.0)))
    csv(gp.cwd / "wider.csv", "id,amount,country", (2, 2.0, "DE"))
    csv(gp.cwd / "narrower.csv", "id", (3,))

    wider = gp.run("data", "ingest", "tx", "wider.csv")
    assert "schema: added country" in wider.out
    shown, refused = gp.runs(
        ["data", "show", "tx", "--json"], ["data", "ingest", "tx", "narrower.csv"]
    )
    assert shown.json()["schema_changes"] == {"added": ["country"], "removed": [], "retyped": []}
    assert [c["name"] for c in shown.json()["schema"]] == ["id", "amount", "country"]
    assert_user_error(refused, 5, "breaking schema change", "removed amount, country")
    assert "--allow-breaking" in refused.err.split("hint:", 1)[-1]
    assert [v["version"] for v in gp.state()["histories"]["tx"]] == [1, 2]

    allowed = gp.json("data", "ingest", "tx", "narrower.csv", "--allow-breaking")
    assert allowed["version"]["ref"] == "tx@3"
    assert allowed["schema_changes"]["removed"] == ["amount", "country"]


def test_a_contract_can_forbid_new_columns(gp: Gp) -> None:
    contract = write(
        gp.cwd / "strict.yaml", "additive_changes: forbid\ncolumns:\n  id: {type: int}\n"
    )
    with gp.sdk() as ws:
        ws.datasets.ingest("tx", csv(gp.cwd / "v1.csv", "id,amount", (1, 1.0)), contract=contract)
    csv(gp.cwd / "wider.csv", "id,amount,country", (2, 2.0, "DE"))
    before = gp.state()
    refused = gp.run("data", "ingest", "tx", "wider.csv", code=None)
    assert_user_error(refused, 5, "the contract forbids new columns", "country")
    assert gp.state()["histories"] == before["histories"]


# -- bad input -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """A command that must fail with ``code`` and an error naming ``expected``."""

    label: str
    args: tuple[Arg, ...]
    code: int
    expected: tuple[str, ...]


def bad_inputs(cwd: Path) -> list[BadInput]:
    csv(cwd / "ok.csv", "id,amount", (9, 9.0))
    write(cwd / "empty.csv", "")
    write(cwd / "ragged.csv", "id,amount\n10,1.0\n11,2.0,extra\n")
    (cwd / "corrupt.parquet").write_bytes(os.urandom(2048))
    write(cwd / "syntax.yaml", "columns:\n  id:\n    type: int: oops\n  amount: {}\n")
    write(cwd / "unknown-key.yaml", "columns:\n  id:\n    type: int\n\n    colour: red\n")
    write(cwd / "missing-column.yaml", "columns:\n  id: {type: int}\n  nope: {type: int}\n")
    name_rule = "use 1-63 lower-case letters"
    ingest = ("data", "ingest")
    return [
        BadInput("missing file", (*ingest, "tx", "nope.csv"), 2, ("file not found", "nope.csv")),
        BadInput("empty file", (*ingest, "tx", "empty.csv"), 2, ("empty.csv is empty",)),
        BadInput("ragged csv", (*ingest, "tx", "ragged.csv"), 2, ("ragged.csv", "columns")),
        BadInput("corrupt parquet", (*ingest, "tx", "corrupt.parquet"), 2, ("corrupt.parquet",)),
        BadInput("name ../x", (*ingest, "../x", "ok.csv"), 2, ("'../x'", name_rule)),
        BadInput("name a b", (*ingest, "a b", "ok.csv"), 2, ("'a b'", name_rule)),
        BadInput("name 300 chars", (*ingest, "a" * 300, "ok.csv"), 2, (name_rule,)),
        BadInput("name Upper", (*ingest, "Upper", "ok.csv"), 2, ("'Upper'", name_rule)),
        BadInput("version @99", ("data", "show", "tx@99"), 4, ("no version 99", "1..1")),
        BadInput("version @0", ("data", "head", "tx@0"), 2, ("invalid version '0'",)),
        BadInput("version @x", ("data", "show", "tx@x"), 2, ("invalid version 'x'",)),
        BadInput(
            "contract syntax",
            (*ingest, "tx", "ok.csv", "--contract", "syntax.yaml"),
            2,
            ("syntax.yaml:3:", "not valid YAML"),
        ),
        BadInput(
            "contract unknown key",
            (*ingest, "tx", "ok.csv", "--contract", "unknown-key.yaml"),
            2,
            ("unknown-key.yaml:5:", "colour"),
        ),
        BadInput(
            "contract missing column",
            (*ingest, "tx", "ok.csv", "--contract", "missing-column.yaml"),
            2,
            ("nope",),
        ),
    ]


def test_bad_input_is_one_error_line_and_writes_nothing(gp: Gp) -> None:
    with gp.sdk() as ws:
        ws.datasets.ingest("tx", csv(gp.cwd / "v1.csv", "id,amount", (1, 1.0), (2, 2.0)))
    cases = bad_inputs(gp.cwd)
    before = gp.state()

    *runs, bad_mode = gp.runs(
        *[case.args for case in cases], ["data", "ingest", "tx", "ok.csv", "--mode", "upsert"]
    )
    problems = []
    for case, run in zip(cases, runs, strict=True):
        try:
            message = assert_user_error(run, case.code, *case.expected)
            assert len(message.splitlines()[0]) < 250, "the error line echoes too much"
        except AssertionError as exc:
            problems.append(f"[{case.label}] {exc}")
    assert not problems, "\n\n".join(problems)
    # An unknown --mode is refused by the command line parser (its one-line form: see below).
    assert bad_mode.code == 2 and "Traceback" not in bad_mode.err, str(bad_mode)
    assert "'upsert' is not one of 'append', 'overwrite'" in " ".join(bad_mode.err.split())

    assert gp.state() == before
    assert not (gp.home / "storage" / "x").exists() and not (gp.home / "x").exists()


def test_an_unknown_mode_is_one_error_line(gp: Gp) -> None:
    csv(gp.cwd / "ok.csv", "id", (1,))
    run = gp.run("data", "ingest", "tx", "ok.csv", "--mode", "upsert", code=None)
    assert_user_error(run, 2, "upsert", "append", "overwrite")
    assert "╭" not in run.err and "Usage:" not in run.err


def test_commands_without_a_workspace_say_how_to_create_one(tmp_path: Path) -> None:
    gp = Gp(tmp_path, tmp_path / "nowhere")
    for run in gp.runs(["data", "list"], ["status", "--json"]):
        message = assert_user_error(run, 4, "no workspace at", str(tmp_path / "nowhere"))
        assert "gp init" in message.split("hint:", 1)[-1]
    assert not (tmp_path / "nowhere").exists()


def test_the_missing_workspace_error_names_gp_home(tmp_path: Path) -> None:
    run = Gp(tmp_path, tmp_path / "nowhere").run("data", "list", code=4)
    assert "(from GP_HOME)" in run.err


def test_debug_shows_the_traceback_of_a_user_error(gp: Gp) -> None:
    # Without --debug the same error is one line: see the "version @99" bad input.
    debug = gp.run("--debug", "data", "show", "nope", code=None)
    assert debug.code != 0
    assert "Traceback (most recent call last)" in debug.err
    assert "NotFound: no dataset named 'nope'" in debug.err
