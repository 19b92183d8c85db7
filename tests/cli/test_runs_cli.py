"""``gp runs list / show / compare`` over runs logged with the SDK: tables, JSON, NaN,
failures in one line, bad input as one error with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import goldenpath
from goldenpath import Workspace
from tests.cli.inprocess import Result, gp

ACTOR = "runner"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs: two finished (one with a NaN metric) and a failed one."""
    home = tmp_path_factory.mktemp("runs-cli") / "home"
    ws = goldenpath.connect(home, actor=ACTOR, create=True)
    assert isinstance(ws, Workspace)
    with ws.runs.start("good", experiment="fraud", params={"model": "lgbm", "lr": 0.1}) as run:
        run.log_metrics({"roc_auc": 0.91, "f1": 0.7})
        run.set_tag("team", "risk")
        run.log_text("notes.txt", "fine")
        run.set_environment({"python": "3.11.7", "git": {"commit": "abcdef1234567", "dirty": True}})
        run.add_input("dataset_version", "01DSV", "transactions@3")
    with ws.runs.start("nan", experiment="fraud", params={"model": "rf", "lr": 0.1}) as run:
        run.log_metrics({"roc_auc": float("nan"), "f1": 0.5})
    with pytest.raises(KeyError), ws.runs.start("broken", experiment="churn") as run:
        raise KeyError("label")
    ws.close()
    return home


def gp_runs(home: Path, *args: str, width: int = 160) -> Result:
    return gp("runs", *args, env={"GP_HOME": str(home), "GP_ACTOR": ACTOR}, width=width)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.replace("┃", "│").split("│")]


def _ids(home: Path) -> dict[str, str]:
    listed = json.loads(gp_runs(home, "list", "--json").out)
    return {r["name"]: r["id"] for r in listed}


def test_list_shows_runs_with_the_columns_the_filter_names(home: Path) -> None:
    result = gp_runs(
        home,
        "list",
        "--filter",
        "metrics.roc_auc > 0.8 and params.model = 'lgbm'",
        "--order-by",
        "metrics.roc_auc desc",
    )
    assert result.code == 0, str(result)
    header = _cells(result.out.splitlines()[0])
    assert header[:5] == ["id", "name", "status", "started", "duration"]
    assert "metrics.roc_auc" in header and "params.model" in header
    assert "metrics.f1" in header  # a common metric, shown though not asked for
    (line,) = result.out.splitlines()[2:]
    row = dict(zip(header, _cells(line), strict=True))
    assert row["name"] == "good" and row["metrics.roc_auc"] == "0.91"
    assert row["params.model"] == "lgbm" and row["metrics.f1"] == "0.7"
    assert row["status"] == "finished" and row["duration"].endswith("s")
    short = row["id"]
    assert _ids(home)["good"].startswith(short) and len(short) >= 8


def test_list_shows_nan_and_filters_by_experiment_and_status(home: Path) -> None:
    result = gp_runs(home, "list", "--experiment", "fraud", "--order-by", "metrics.roc_auc")
    lines = result.out.splitlines()[2:]
    assert [_cells(line)[1] for line in lines] == ["good", "nan"]
    assert _cells(lines[1])[5] == "NaN"
    failed = json.loads(gp_runs(home, "list", "--status", "failed", "--json").out)
    assert [r["name"] for r in failed] == ["broken"]
    as_json = json.loads(gp_runs(home, "list", "--filter", "params.model = 'rf'", "--json").out)
    assert as_json[0]["metrics"] == {"f1": 0.5, "roc_auc": None}


def test_an_empty_list_says_how_to_make_a_run(tmp_path: Path) -> None:
    new = tmp_path / "home"
    assert gp("init", "--workspace", str(new), env={"GP_ACTOR": ACTOR}).code == 0
    result = gp_runs(new, "list")
    assert result.code == 0 and result.out.startswith("no runs yet: log one from Python")
    assert gp_runs(new, "list", "--filter", "metrics.x > 1").out.startswith("no runs match")


def test_show_has_everything_and_the_failed_step(home: Path) -> None:
    ids = _ids(home)
    shown = gp_runs(home, "show", ids["good"][:10])
    assert shown.code == 0, str(shown)
    for text in (
        ids["good"],
        "fraud",
        "finished",
        "python 3.11.7",
        "git abcdef123456 (dirty)",
        "lgbm",
        "0.91",
        "risk",
        "transactions@3",
        "notes.txt",
    ):
        assert text in shown.out, text
    failed = gp_runs(home, "show", ids["broken"])
    assert "failed in    notebook: KeyError: 'label'" in failed.out
    assert "(see the traceback with --traceback)" in failed.out
    assert "Traceback (most recent call last)" not in failed.out
    full = gp_runs(home, "show", ids["broken"], "--traceback")
    assert "Traceback (most recent call last)" in full.out and 'raise KeyError("label")' in full.out
    as_json = json.loads(gp_runs(home, "show", ids["broken"], "--json").out)
    assert as_json["error"]["step"] == "notebook" and as_json["status"] == "failed"


def test_compare_side_by_side_and_diff_only(home: Path) -> None:
    ids = _ids(home)
    result = gp_runs(home, "compare", ids["good"], ids["nan"])
    assert result.code == 0, str(result)
    rows = {_cells(line)[1]: _cells(line) for line in result.out.splitlines()[2:]}
    assert rows["params.model"] == ["*", "params.model", "lgbm", "rf"]
    assert rows["params.lr"] == ["", "params.lr", "0.1", "0.1"]
    assert rows["metrics.roc_auc"] == ["*", "metrics.roc_auc", "0.91", "NaN"]
    diff = gp_runs(home, "compare", ids["good"], ids["nan"], "--diff-only")
    assert "params.lr" not in diff.out and "params.model" in diff.out
    as_json = json.loads(gp_runs(home, "compare", ids["good"], ids["nan"], "--json").out)
    assert {m["key"]: m["differs"] for m in as_json["params"]} == {"lr": False, "model": True}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("list", "--filter", "metrics.x >"), 2, "error: bad filter at position 12"),
        (("list", "--filter", "params.x = 'a'; DROP TABLE runs"), 2, "expected 'and' or the end"),
        (("list", "--limit", "20000"), 2, "limit 20,000 is more than 10,000"),
        (("list", "--limit", "ten"), 2, "'--limit' / '-n': Input should be a valid integer"),
        (("list", "--status", "done"), 2, "status is one of running, finished, failed"),
        (("show", "01ZZZZZZZZZZZZ"), 4, "error: no run '01ZZZZZZZZZZZZ'"),
        (("show", "abc"), 2, "at least its first 6"),
        (("compare", "01ZZZZZZZZ", "01ZZZZZZZY"), 4, "no run"),
    ],
)
def test_bad_input_is_one_error_line_and_a_non_zero_exit(
    home: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = gp_runs(home, *args)
    assert result.code == code, str(result)
    assert message in result.err, str(result)
    assert "Traceback" not in result.err and result.out == ""
    assert result.err.count("error:") == 1
