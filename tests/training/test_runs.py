"""Runs (``ws.runs``): logging, NaN, the filter language, ordering, prefix ids, compare,
failures, permissions, audit, hostile input and index use, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import goldenpath
from goldenpath import Workspace
from goldenpath.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from goldenpath.store.tables import lineage_edges, run_metric_history, run_params, runs
from goldenpath.training import run_log, run_query
from goldenpath.training.runs import ActiveRun, RunService, search_queries, search_query


def _runs(ws: object) -> RunService:
    assert isinstance(ws, Workspace)
    return ws.runs


def _count(ws: Workspace, table: object) -> int:
    with ws.store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.fixture
def searchable(ws: Workspace) -> dict[str, str]:
    """Five finished runs and a failed one, with known params, metrics and tags."""
    made = {}
    rows = [
        ("a", "fraud", {"model": "lgbm", "max_depth": 3, "lr": 0.1}, {"roc_auc": 0.91}, "red"),
        ("b", "fraud", {"model": "lgbm", "max_depth": 5, "lr": 0.05}, {"roc_auc": 0.85}, "blue"),
        ("c", "fraud", {"model": "rf", "max_depth": 3, "lr": 0.2}, {"roc_auc": 0.78}, "red"),
        ("d", "churn", {"model": "rf", "max_depth": 10, "lr": 1}, {"roc_auc": float("nan")}, "x"),
        ("e", "churn", {"model": "lr", "max_depth": 2, "lr": 0.01}, {"roc_auc": 0.80}, "blue"),
    ]
    for name, experiment, params, metrics, team in rows:
        with _runs(ws).start(name, experiment=experiment, params=params) as run:
            run.log_metrics(metrics)
            run.set_tag("team", team)
        made[name] = run.id
    with pytest.raises(RuntimeError), _runs(ws).start("f", experiment="fraud") as run:
        run.log_metric("roc_auc", 0.99)
        raise RuntimeError("boom")
    made["f"] = run.id
    return made


def _names(found: list[object]) -> list[str]:
    return sorted(r.name for r in found)  # type: ignore[attr-defined]


def test_a_run_records_what_was_logged(ws: Workspace) -> None:
    service = _runs(ws)
    with service.start(experiment="fraud", params={"model": "lgbm"}, seed=7) as run:
        assert isinstance(run, ActiveRun)
        run.log_param("max_depth", 3)
        run.log_params({"lr": 0.1, "note": "first try"})
        run.log_metric("roc_auc", 0.9, step=1)
        run.log_metric("roc_auc", 0.92, step=3)
        run.log_metric("roc_auc", 0.5, step=2)  # an older step does not replace the newest
        run.log_metrics({"loss": float("nan"), "gain": float("inf")})
        run.set_tag("team", "risk")
        artifact = run.log_text("notes.txt", "hello")
        run.log_artifact("blob.bin", b"\x00\x01")
        run.set_environment({"python": "3.11", "git": {"commit": "abc", "dirty": False}})
        run.add_input("dataset_version", "01DSV", "transactions@2", {"rows": 10})
        sum(range(200_000))  # some CPU time
    info = service.get(run.id)
    assert info.status == "finished" and info.project == "default"
    assert info.experiment == "fraud" and info.seed == 7 and info.source == "notebook"
    assert info.params == {"lr": "0.1", "max_depth": "3", "model": "lgbm", "note": "first try"}
    assert info.metrics == {"gain": None, "loss": None, "roc_auc": 0.92}
    assert info.tags == {"team": "risk"}
    assert info.environment["git"] == {"commit": "abc", "dirty": False}
    assert info.inputs == [
        {"kind": "dataset_version", "id": "01DSV", "ref": "transactions@2", "rows": 10}
    ]
    assert {a["name"] for a in info.artifacts} == {"notes.txt", "blob.bin"}
    assert ws.runs._artifacts.read_bytes(artifact.digest) == b"hello"
    assert info.ended_at is not None and info.duration_s is not None
    assert info.duration_s == pytest.approx((info.ended_at - info.started_at).total_seconds())
    assert info.cpu_s is not None and info.cpu_s > 0
    assert info.created_by == "alice" and info.error is None
    assert len(info.short_id) >= 8 and info.id.startswith(info.short_id)
    with ws.store.connect() as conn:
        history = conn.execute(
            select(run_metric_history.c.step, run_metric_history.c.value)
            .where(run_metric_history.c.run_id == run.id, run_metric_history.c.key == "roc_auc")
            .order_by(run_metric_history.c.step)
        ).all()
        edges = conn.execute(
            select(
                lineage_edges.c.from_kind, lineage_edges.c.from_id, lineage_edges.c.relation
            ).where(lineage_edges.c.to_kind == "run", lineage_edges.c.to_id == run.id)
        ).all()
    assert [tuple(h) for h in history] == [(1, 0.9), (2, 0.5), (3, 0.92)]
    assert [tuple(e) for e in edges] == [("dataset_version", "01DSV", "input_of")]
    assert isinstance(ws.runs, RunService) and service is ws.runs  # the type ws.runs is
    assert type(info).from_dict(info.as_dict()) == info


def test_defaults_experiment_is_the_project_and_the_name_is_readable(ws: Workspace) -> None:
    run = _runs(ws).start()
    run.end()
    info = _runs(ws).get(run.id)
    assert info.experiment == "default"
    assert len(info.name.split("-")) == 3


def test_logging_after_end_is_a_conflict_and_a_param_is_logged_once(ws: Workspace) -> None:
    run = _runs(ws).start(params={"lr": 0.1})
    run.log_param("lr", 0.1)  # the same value again is fine
    with pytest.raises(Conflict, match=r"param 'lr' .* is already '0\.1'"):
        run.log_param("lr", 0.2)
    run.end()
    for call in (
        lambda: run.log_metric("x", 1.0),
        lambda: run.log_param("y", 1),
        lambda: run.set_tag("t", "v"),
        lambda: run.log_text("a.txt", "x"),
        lambda: run.end(),
    ):
        with pytest.raises(Conflict, match="has ended"):
            call()
    # Over the service's stateless path (what HTTP uses) too.
    with pytest.raises(Conflict, match="has finished"):
        _runs(ws).log(run.id, metrics={"x": 1.0})
    with pytest.raises(NotFound, match="no run") as missing:
        _runs(ws).get("01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert missing.value.hint == "see the runs with: gp runs list"


def test_a_failure_in_a_with_block_keeps_the_traceback_and_re_raises(ws: Workspace) -> None:
    def train() -> None:
        raise ValueError("no rows left after the split")

    with pytest.raises(ValueError, match="no rows left"), _runs(ws).start() as run:
        run.log_metric("partial", 0.5)
        train()
    info = _runs(ws).get(run.id)
    assert info.status == "failed" and info.ended_at is not None
    assert info.error is not None
    assert info.error["step"] == "notebook"
    assert info.error["message"] == "ValueError: no rows left after the split"
    assert "in train" in info.error["traceback"]
    assert "raise ValueError" in info.error["traceback"]
    assert info.metrics == {"partial": 0.5}  # what was logged before the failure is kept
    run2 = _runs(ws).start()
    run2.fail("train", "out of memory", "Traceback ...")
    assert _runs(ws).get(run2.id).error == {
        "step": "train",
        "message": "out of memory",
        "traceback": "Traceback ...",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metrics.roc_auc > 0.8", ["a", "b", "f"]),
        ("metrics.roc_auc >= 0.8", ["a", "b", "e", "f"]),
        ("metrics.roc_auc < 0.8", ["c"]),
        ("metrics.roc_auc <= 0.8", ["c", "e"]),
        ("metrics.roc_auc = 0.85", ["b"]),
        ("metrics.roc_auc != 0.85", ["a", "c", "e", "f"]),  # NaN (d) matches no comparison
        ("params.max_depth = 3", ["a", "c"]),
        ("params.max_depth > 3", ["b", "d"]),  # numbers as numbers: 10 > 3
        ("params.max_depth != 3", ["b", "d", "e"]),
        ("params.lr <= 0.05", ["b", "e"]),
        ("params.model = 'lgbm'", ["a", "b"]),
        ('params.model != "lgbm"', ["c", "d", "e"]),
        ("tags.team = 'red'", ["a", "c"]),
        ("tags.team != 'x'", ["a", "b", "c", "e"]),
        ("status = 'failed'", ["f"]),
        ("experiment = 'churn'", ["d", "e"]),
        ("experiment = 'fraud' and params.model = 'lgbm' and metrics.roc_auc > 0.86", ["a"]),
        ("metrics.roc_auc > 0.8 AND status = 'finished'", ["a", "b"]),
        ("metric.roc_auc > 0.9 and attributes.status != 'failed'", ["a"]),
        ("metrics.`roc_auc` > 0.9", ["a", "f"]),
        ("metrics.unknown > 0", []),
    ],
)
def test_filters(
    ws: Workspace, searchable: dict[str, str], query: str, expected: list[str]
) -> None:
    assert _names(_runs(ws).list(query)) == expected


def test_experiment_and_status_arguments_and_the_limit(
    ws: Workspace, searchable: dict[str, str]
) -> None:
    assert _names(_runs(ws).list(experiment="churn")) == ["d", "e"]
    assert _names(_runs(ws).list(status="failed")) == ["f"]
    assert len(_runs(ws).list(limit=2)) == 2


def test_ordering(ws: Workspace, searchable: dict[str, str]) -> None:
    service = _runs(ws)
    by_auc = [r.name for r in service.list(order_by="metrics.roc_auc desc")]
    assert by_auc == ["f", "a", "b", "e", "c", "d"]  # NaN last
    assert [r.name for r in service.list(order_by=["metrics.roc_auc"])][:2] == ["c", "e"]
    best = service.list("metrics.roc_auc > 0.8", order_by="metrics.roc_auc desc")
    assert [r.name for r in best] == ["f", "a", "b"]  # the clause on the walked metric holds
    low = service.list("metrics.roc_auc <= 0.85 and tags.team = 'blue'", order_by="metrics.roc_auc")
    assert [r.name for r in low] == ["e", "b"]
    assert [r.name for r in service.list(order_by="metrics.roc_auc desc", limit=2)] == ["f", "a"]
    assert [r.name for r in service.list(order_by="metrics.roc_auc")][-1] == "d"
    numeric = [r.name for r in service.list("status = 'finished'", order_by="params.max_depth")]
    assert numeric == ["e", "c", "a", "b", "d"]  # 10 after 5: numbers, not text; ties newest first
    newest_first = [r.name for r in service.list()]
    assert newest_first == ["f", "e", "d", "c", "b", "a"]
    assert [r.name for r in service.list(order_by="started_at")] == list("abcdef")
    two_keys = [r.name for r in service.list(order_by=["tags.team", "metrics.roc_auc desc"])]
    assert two_keys[:2] == ["b", "e"]  # blue: 0.85 before 0.80


def test_prefix_ids_like_git(ws: Workspace, searchable: dict[str, str]) -> None:
    service = _runs(ws)
    full = searchable["a"]
    assert service.get(full[:20]).id == full
    assert service.get(full.lower()).id == full
    info = service.get(full)
    assert service.get(info.short_id).id == full
    with pytest.raises(InvalidInput, match="names more than one run"):
        service.get(full[:6])  # every run here started within a second or so
    with pytest.raises(InvalidInput, match="at least its first 6"):
        service.get(full[:5])
    with pytest.raises(InvalidInput, match="not a run id"):
        service.get("01' OR 1=1 --")


def test_compare_marks_differences(ws: Workspace, searchable: dict[str, str]) -> None:
    result = _runs(ws).compare(searchable["a"], searchable["c"])
    params = {row["key"]: row for row in result.params}
    assert params["max_depth"] == {"key": "max_depth", "a": "3", "b": "3", "differs": False}
    assert params["model"]["differs"] and params["model"]["b"] == "rf"
    (auc,) = result.metrics
    assert auc["differs"] and auc["delta"] == pytest.approx(0.78 - 0.91)
    same_nan = _runs(ws).compare(searchable["d"], searchable["d"])
    assert not any(row["differs"] for row in same_nan.metrics)
    assert result.as_dict()["a"]["id"] == searchable["a"]


def test_a_viewer_reads_runs_but_cannot_write_them(
    ws: Workspace, searchable: dict[str, str]
) -> None:
    ws.principals.add("vera")
    ws.principals.add("eve")
    ws.access.grant("viewer", "vera", project="default")
    home, meta = ws.stack.home, ws.stack.metadata
    with goldenpath.connect(home, metadata=meta, actor="vera") as vera:
        assert _names(_runs(vera).list("metrics.roc_auc > 0.9")) == ["a", "f"]
        assert _runs(vera).get(searchable["a"]).name == "a"
        with pytest.raises(PermissionDenied, match=r"may not run\.write"):
            _runs(vera).start()
        with pytest.raises(PermissionDenied, match=r"may not run\.write"):
            _runs(vera).log(searchable["a"], metrics={"x": 1.0})
    with goldenpath.connect(home, metadata=meta, actor="eve") as eve:
        with pytest.raises(NotFound, match="no run"):  # unreadable: as if missing
            _runs(eve).get(searchable["a"])
        with pytest.raises(PermissionDenied, match=r"may not run\.read"):
            _runs(eve).list()
    # A contributor whose grant is revoked mid-run cannot keep logging.
    ws.principals.add("carl")
    ws.access.grant("contributor", "carl", project="default")
    with goldenpath.connect(home, metadata=meta, actor="carl") as carl:
        run = _runs(carl).start()
        run.log_metric("x", 1.0)
        ws.access.revoke("contributor", "carl", project="default")
        carl.access_control.reload()
        with pytest.raises(PermissionDenied):
            run.log_metric("x", 2.0)


def test_audit_records_create_and_finish_not_each_metric(
    ws: Workspace, searchable: dict[str, str]
) -> None:
    events = ws.audit.list(limit=1000)
    mine = [e for e in events if e.object_type == "run"]
    actions = sorted(e.action for e in mine)
    assert actions == ["run.create"] * 6 + ["run.fail"] + ["run.finish"] * 5
    failed = next(e for e in mine if e.action == "run.fail")
    assert failed.object_ref == searchable["f"]
    assert failed.details["step"] == "notebook"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("metrics.roc_auc > 0.8; DROP TABLE runs", "position 22: expected 'and' or the end"),
        ("params.x = 'a' or 1=1", "position 16: expected 'and' or the end"),
        ("metrics.roc_auc > '0.8'", "expected a number"),
        ("tags.team = 3", "expected a quoted string"),
        ("status > 'a'", "expected = or !="),
        ("metrics.roc_auc >> 1", "expected a number or a quoted string"),
        ("params.x = 'unclosed", "expected a closing '"),
        ("runs.id = 1", "expected metrics.KEY, params.KEY, tags.KEY"),
        ("metrics. = 1", "expected a key"),
        ("metrics.a = 1 and", "expected metrics.KEY"),
        ("metrics.a = 1e999", "expected a finite number"),
        ("created_by = 'x'", "expected metrics.KEY"),
    ],
)
def test_a_bad_filter_names_the_position_and_what_was_expected(
    ws: Workspace, searchable: dict[str, str], query: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match="bad filter at position") as error:
        _runs(ws).list(query)
    assert message in error.value.message, error.value.message
    assert error.value.hint and "metrics.roc_auc > 0.8" in error.value.hint


def test_injection_attempts_are_values_not_sql(ws: Workspace, searchable: dict[str, str]) -> None:
    before = _count(ws, runs)
    for query in (
        "params.x = 'a'' or 1=1'",
        "params.model = 'lgbm''; DROP TABLE runs; --'",
        'tags.team = \'" OR "1"="1\'',
        "metrics.`roc_auc' OR 1=1 --` > 0",
        'params.model = "x"" or ""1""=""1"',
    ):
        assert _runs(ws).list(query) == [], query
    assert _count(ws, runs) == before
    # A doubled quote is a quote: the value is matched as text.
    with _runs(ws).start("quoted", params={"x": "a' or 1=1"}):
        pass
    assert _names(_runs(ws).list("params.x = 'a'' or 1=1'")) == ["quoted"]


def test_limits_on_filters_and_searches(ws: Workspace) -> None:
    clauses = " and ".join(f"metrics.m{i} > 0" for i in range(10_000))
    with pytest.raises(InvalidInput, match="filter too long"):
        _runs(ws).list(clauses)
    many = " and ".join(f"metrics.m{i} > 0" for i in range(21))
    with pytest.raises(InvalidInput, match="more than 20 clauses"):
        _runs(ws).list(many)
    with pytest.raises(InvalidInput, match="limit 10,001 is more than 10,000"):
        _runs(ws).list(limit=10_001)
    with pytest.raises(InvalidInput, match="at most 10 order-by terms"):
        _runs(ws).list(order_by=["started_at"] * 11)
    with pytest.raises(InvalidInput, match="bad order-by at position 17"):
        _runs(ws).list(order_by="metrics.roc_auc sideways")
    with pytest.raises(InvalidInput, match="status is one of"):
        _runs(ws).list(status="done")


def test_bad_keys_and_values_are_refused_and_nothing_is_written(ws: Workspace) -> None:
    run = _runs(ws).start()
    bad = [
        (lambda: run.log_params({"ok": 1, "k" * 251: 2}), "at most 250"),
        (lambda: run.log_params({"ok": 1, "bad\nkey": 2}), "printable"),
        (lambda: run.log_params({"ok": 1, " padded": 2}), "without spaces at its ends"),
        (lambda: run.log_params({"ok": 1, "": 2}), "non-empty"),
        (lambda: run.log_params({"ok": 1, "big": "v" * 6_001}), "at most 6,000"),
        (lambda: run.log_metrics({"ok": 1.0, "text": "high"}), "must be a number"),  # type: ignore[dict-item]
        (lambda: run.log_metrics({"ok": 1.0, "flag": True}), "must be a number"),
        (lambda: run.log_metric("ok", 1.0, step=-1), "a metric step"),
        (lambda: run.set_tags({"ok": "v", "t": "v" * 5_001}), "at most 5,000"),
        (lambda: run.log_text("", "x"), "an artifact name"),
        (lambda: run.set_environment({"f": object()}), "must be JSON"),
        (lambda: run.add_input("Not A Kind", "x", "y"), "invalid input kind"),
        (lambda: run.end(status="done"), "finished or failed"),
    ]
    for call, message in bad:
        with pytest.raises(InvalidInput, match=message):
            call()
    run.end()
    info = _runs(ws).get(run.id)
    assert info.params == {} and info.metrics == {} and info.tags == {} and info.artifacts == []
    with pytest.raises(InvalidInput, match="invalid experiment name"):
        _runs(ws).start(experiment="Bad Name")
    with pytest.raises(InvalidInput, match="source is one of"):
        _runs(ws).start(source="cron")
    with pytest.raises(InvalidInput, match="a run name"):
        _runs(ws).start("x" * 200)
    with pytest.raises(NotFound):
        _runs(ws).start(rerun_of="01ZZZZZZZZ")
    assert _count(ws, runs) == 1


def test_rerun_of_resolves_a_prefix(ws: Workspace) -> None:
    with _runs(ws).start() as first:
        pass
    with _runs(ws).start(rerun_of=first.id[:20], source="pipeline") as again:
        pass
    info = _runs(ws).get(again.id)
    assert info.rerun_of == first.id and info.source == "pipeline"


def test_buffered_entries_reach_the_database_within_seconds_without_end(
    local_ws: Workspace, tmp_path: Path
) -> None:
    run = _runs(local_ws).start()
    run.log_metric("live", 0.5)
    with goldenpath.connect(local_ws.stack.home, actor="alice") as other:
        deadline = time.monotonic() + 5
        while _runs(other).get(run.id).metrics != {"live": 0.5}:
            assert time.monotonic() < deadline, "the background flush did not write"
            time.sleep(0.1)
        # A full buffer is written at once.
        run.log_metrics({f"m{i}": float(i) for i in range(run_log.FLUSH_ENTRIES)})
        assert len(_runs(other).get(run.id).metrics) == run_log.FLUSH_ENTRIES + 1
    run.end()


def test_inputs_are_bounded_and_nan_text_is_not_a_number(local_ws: Workspace) -> None:
    with _runs(local_ws).start(params={"a": "nan", "b": "1e3", "c": " 2 ", "d": True}) as run:
        pass
    with local_ws.store.connect() as conn:
        numbers = dict(
            conn.execute(
                select(run_params.c.key, run_params.c.number).where(run_params.c.run_id == run.id)
            ).all()
        )
    assert numbers == {"a": None, "b": 1000.0, "c": 2.0, "d": None}
    # "nan" is searched as text, never as a number: no numeric comparison matches it.
    runs = _runs(local_ws)
    for clause in ("params.a >= 0", "params.a < 0", "params.a != 1", "params.d = 1"):
        assert runs.list(filter=clause) == [], clause
    assert [r.id for r in runs.list(filter="params.a = 'nan'")] == [run.id]
    assert [r.id for r in runs.list(filter="params.b = 1000 and params.c = 2")] == [run.id]


def _plan(ws: Workspace, query: object) -> str:
    compiled = query.compile(dialect=ws.store.engine.dialect)  # type: ignore[attr-defined]
    values = compiled.construct_params()
    params = tuple(values[key] for key in compiled.positiontup or ())
    with ws.store.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
    return " | ".join(str(row[-1]) for row in plan)


def test_searches_use_the_indexes(local_ws: Workspace) -> None:
    """Each clause is an indexed subquery; ordered by a metric, the search walks that metric's
    index in order (no sort of every match); no full scan of runs, params, metrics or tags
    (SQLite's EXPLAIN QUERY PLAN)."""
    with _runs(local_ws).start(params={"model": "lgbm", "depth": 3}) as run:
        run.log_metrics({"roc_auc": 0.9, "f1": 0.5})
        run.set_tag("team", "x")
    text = (
        "metrics.roc_auc > 0.8 and metrics.f1 > 0 and params.depth = 3 and "
        "params.model = 'lgbm' and tags.team = 'x' and status = 'finished'"
    )
    clauses = run_query.parse_filter(text, local_ws.stack.limits)
    with local_ws.store.connect() as conn:
        project_id = local_ws.runs._project_id(conn, "default")
    by_param = search_query(project_id, clauses, run_query.parse_order("params.depth"), 100)
    details = _plan(local_ws, by_param)
    for index in (
        "ix_run_metrics_key_value",
        "ix_run_params_key_number",
        "ix_run_params_value",
        "ix_run_tags_value",
        "ix_runs_project",
    ):
        assert index in details, details
    orders = run_query.parse_order(["metrics.roc_auc desc", "tags.team"])
    head, *rest = search_queries(project_id, clauses, orders, 100)
    walked = _plan(local_ws, head)
    assert "SEARCH walk USING INDEX ix_run_metrics_key_value (key=? AND value>?)" in walked
    assert "USE TEMP B-TREE FOR ORDER BY" not in walked, walked  # only its right part
    assert rest == []  # a clause on the ordering metric: runs without it cannot match
    no_clause = search_queries(project_id, clauses[1:], orders, 100)
    assert len(no_clause) == 2
    for query in (by_param, head, *no_clause):
        details = _plan(local_ws, query)
        for table in ("runs", "run_metrics", "run_params", "run_tags", "walk"):
            assert f"SCAN {table}" not in details, details
    assert [r.id for r in local_ws.runs.list(text, order_by="metrics.roc_auc desc")] == [run.id]


@pytest.fixture
def two_projects(local_ws: Workspace) -> Iterator[Workspace]:
    local_ws.access.create_project("churn")
    yield local_ws


def test_list_searches_the_workspace_project_only(two_projects: Workspace) -> None:
    ws = two_projects
    with _runs(ws).start("here"):
        pass
    home = ws.stack.home
    with goldenpath.connect(home, actor="alice", project="churn") as churn:
        with _runs(churn).start("there") as there:
            pass
        assert _names(_runs(churn).list()) == ["there"]
    assert _names(_runs(ws).list()) == ["here"]
    assert _runs(ws).get(there.id).project == "churn"  # get finds it anywhere readable


def _shortest_unique(run_id: str, every: list[str]) -> str:
    """The shortest prefix of ``run_id`` (at least 8 characters) that no other id starts with."""
    length = 8
    while any(o != run_id and o.startswith(run_id[:length]) for o in every):
        length += 1
    return run_id[:length]


def test_short_ids_are_the_shortest_unique_prefixes(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run ids that share long prefixes of many lengths (real ones do when runs start within
    # a millisecond): after 8 characters of the time, 18 drawn from "01" only. Both neighbours
    # in the id index decide each length; a page ordered by a metric lists ids whose
    # neighbours are not on it.
    draw = random.Random(24)
    made: set[str] = set()
    while len(made) < 120:
        made.add("01JD8X4M" + "".join(draw.choice("01") for _ in range(18)))
    ids = sorted(made)
    draw.shuffle(ids)  # made in no order of their ids
    monkeypatch.setattr("goldenpath.training.runs.new_id", iter(ids).__next__)
    service = _runs(ws)
    for i in range(120):
        with service.start(params={"i": i}) as run:
            run.log_metric("score", (i * 37) % 101)
    every = [r.id for r in service.list(limit=1000)]
    assert sorted(every) == sorted(made)
    for found in (service.list(limit=1000), service.list(order_by="metrics.score", limit=40)):
        shorts = {r.id: r.short_id for r in found}
        assert shorts == {i: _shortest_unique(i, every) for i in shorts}
        assert len({len(s) for s in shorts.values()}) > 3  # many lengths to get right
