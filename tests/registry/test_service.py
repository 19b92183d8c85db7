"""ws.models on SQLite and PostgreSQL: registration, look-ups, aliases, gates, policies,
archive, predict, tampering. Real onnxruntime, real databases, real artifacts on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

import goldenpath
from goldenpath import InvalidInput, NotFound, PermissionDenied
from goldenpath.core.errors import Conflict, PolicyDenied
from goldenpath.registry.packaging import Package, package
from goldenpath.registry.service import GatesFailed
from goldenpath.store.tables import audit_events, lineage_edges, model_versions, models
from tests.conftest import write
from tests.registry.conftest import NUMERIC, fitted, frame

GOOD = {"metrics": ["roc_auc >= 0.7", "log_loss <= 0.7"], "card": True}
CARD = {"intended_use": "score card payments", "limitations": "EU cards only", "owners": ["risk"]}


def register(ws: goldenpath.Workspace, name: str = "fraud", **options: object) -> object:
    model, validation = fitted(options.pop("kind", "logistic_regression"))  # type: ignore[arg-type]
    return ws.models.register(
        name, model, validation=validation, label="label", task="classification", **options
    )


def count(ws: goldenpath.Workspace, table: object) -> int:
    with ws.store.connect() as conn:
        return len(conn.execute(select(table)).all())  # type: ignore[call-overload]


def as_(ws: goldenpath.Workspace, who: str, role: str) -> goldenpath.Workspace:
    ws.principals.add(who)
    ws.access.grant(role, who, project="default")
    return goldenpath.connect(ws.stack.home, metadata=ws.stack.metadata, actor=who)


def test_register_records_a_whole_version(ws: goldenpath.Workspace) -> None:
    lineage = {
        "training_set": {"id": "01TS", "ref": "fraud-train@1", "fingerprint": "abc"},
        "datasets": [{"id": "01DS", "ref": "transactions@1"}],
        "contract_passed": True,
    }
    v = register(ws, lineage=lineage, run_id="01RUN", gates=GOOD, description="card fraud")
    assert v.ref == "fraud@1" and v.status == "ready" and v.flavor == "sklearn"  # type: ignore[attr-defined]
    got = ws.models.get("fraud")
    assert got.version == 1 and got.metrics["roc_auc"] > 0.7
    assert got.parity["max_abs_diff"] < 1e-4 and got.parity["tolerance"] == 1e-4
    assert [i["name"] for i in got.signature["inputs"]] == NUMERIC
    assert got.card["training_data"]["training_set"] == "fraud-train@1"
    assert got.card["owners"] == ["alice"] and got.card["intended_use"] == ""
    assert got.gates["metrics"] == GOOD["metrics"]
    profile = ws.models.profile("fraud@1")
    assert profile["format"] == "goldenpath.reference-profile/1"
    assert profile["columns"]["a"]["kind"] == "number"
    assert sum(profile["columns"]["a"]["bins"]["counts"]) == 600
    assert len(profile["sample"]["prediction"]) == 600
    kept = ws.models.validation_rows("fraud@1")
    assert list(kept.columns) == [*NUMERIC, "label"] and len(kept) == 600
    with ws.store.connect() as conn:
        edges = {
            (e.from_kind, e.from_id, e.relation)
            for e in conn.execute(
                select(lineage_edges).where(lineage_edges.c.to_id == got.id)
            ).all()
        }
        actions = [r.action for r in conn.execute(select(audit_events)).all()]
    assert edges == {("training_set", "01TS", "input_of"), ("run", "01RUN", "produced")}
    assert "model.register" in actions and "model.create" in actions
    second = register(ws)
    assert second.ref == "fraud@2"  # type: ignore[attr-defined]
    assert [m.latest_version for m in ws.models.list()] == [2]


def test_unknown_references_name_what_exists(ws: goldenpath.Workspace) -> None:
    register(ws)
    with pytest.raises(NotFound) as seven:
        ws.models.get("fraud@7")
    assert "no version 7" in seven.value.message and seven.value.hint == "its versions: 1"
    with pytest.raises(NotFound) as nope:
        ws.models.get("fraud@nope")
    assert "no alias 'nope'" in nope.value.message
    with pytest.raises(NotFound, match="no model named 'fruad'"):
        ws.models.get("fruad")
    with pytest.raises(InvalidInput):
        ws.models.get("Fraud@1; DROP TABLE models")


def test_parity_failure_is_refused_with_the_largest_difference(ws: goldenpath.Workspace) -> None:
    model, validation = fitted("random_forest_regressor")
    built = package(model, validation, "regression", label="label")
    with pytest.raises(InvalidInput) as refused:
        ws.models.register_package(
            "prices",
            built,
            validation=validation,
            label="label",
            task="regression",
            tolerance=0.0,
        )
    message = refused.value.message
    assert "largest absolute difference" in message and "exceeds the tolerance 0" in message
    assert "at validation row" in message
    assert count(ws, models) == 0 and count(ws, model_versions) == 0


@pytest.mark.parametrize(
    ("tolerance", "options"), [(1e-4, {}), (1e-3, {"tolerance": 1e-3}), (0.05, {"tolerance": 0.05})]
)
def test_parity_refuses_just_above_the_tolerance_and_accepts_just_below(
    local_ws: goldenpath.Workspace, tolerance: float, options: dict[str, float]
) -> None:
    """The largest gap decides, at the tolerance given (default 1e-4): native scores moved
    from the ONNX graph's by 1.05x the tolerance on one row are refused, by 0.95x accepted."""
    from goldenpath.registry import scoring

    model, validation = fitted("logistic_regression")
    built = package(model, validation, "classification", label="label")
    onnx_scores = scoring.package_scores(built, validation)

    def moved(factor: float) -> Package:
        scores = onnx_scores.copy()
        scores[17] += factor * tolerance
        return Package(**{**built.__dict__, "scores": scores})

    def register_moved(factor: float) -> object:
        return local_ws.models.register_package(
            "fraud",
            moved(factor),
            validation=validation,
            label="label",
            task="classification",
            **options,
        )

    with pytest.raises(InvalidInput) as refused:
        register_moved(1.05)
    assert "at validation row 17" in refused.value.message
    assert f"exceeds the tolerance {tolerance:g}" in refused.value.message
    assert count(local_ws, model_versions) == 0
    accepted = local_ws.models.get(register_moved(0.95).ref)  # type: ignore[attr-defined]
    assert accepted.parity["row"] == 17 and accepted.parity["tolerance"] == tolerance
    assert accepted.parity["max_abs_diff"] == pytest.approx(0.95 * tolerance, rel=1e-6)


def test_a_tampered_onnx_graph_fails_parity(ws: goldenpath.Workspace, tmp_path: Path) -> None:
    import onnx

    model, validation = fitted("gradient_boosting")
    built = package(model, validation, "classification", label="label")
    graph = onnx.load_model_from_string(built.onnx)
    for node in graph.graph.node:
        for attribute in node.attribute:
            if attribute.name == "nodes_values":
                attribute.floats[:] = [v + 0.3 for v in attribute.floats]
    tampered = Package(**{**built.__dict__, "onnx": graph.SerializeToString()})
    with pytest.raises(InvalidInput, match=r"largest absolute difference 0\.\d+ at validation row"):
        ws.models.register_package(
            "fraud", tampered, validation=validation, label="label", task="classification"
        )
    assert count(ws, model_versions) == 0


def test_register_refuses_bad_input_and_records_nothing(ws: goldenpath.Workspace) -> None:
    model, validation = fitted("logistic_regression")
    built = package(model, validation, "classification", label="label")

    def attempt(**changes: object) -> None:
        options: dict[str, object] = {
            "validation": validation,
            "label": "label",
            "task": "classification",
        }
        options.update(changes)
        ws.models.register_package("fraud", built, **options)  # type: ignore[arg-type]

    cases = [
        ({"validation": validation.iloc[1:]}, "not the data the package was scored on"),
        ({"label": "nope"}, "no label column"),
        ({"task": "regression"}, "made for classification"),
        ({"tolerance": float("nan")}, "tolerance"),
        ({"gates": {"metrics": ["auc > 1"]}}, "unknown metric"),
        ({"gates": {"metrics": ["rmse <= 1"]}}, "not computed for classification"),
        ({"gates": {"approval": True}}, "gates: approval"),
        ({"lineage": {"training_sets": []}}, "unknown lineage key"),
        (
            {"lineage": {"feature_versions": [{"id": "01NOPE", "features": ["x"]}]}},
            "does not exist",
        ),
        ({"card": {"secret": "x"}}, "unknown card field"),
        ({"metrics": {"roc_auc": "high"}}, "must be a number"),
    ]
    for changes, expected in cases:
        with pytest.raises((InvalidInput, NotFound)) as refused:
            attempt(**changes)
        assert expected in refused.value.message, (changes, refused.value.message)
    with pytest.raises(InvalidInput, match="invalid model name"):
        ws.models.register_package(
            "../etc", built, validation=validation, label="label", task="classification"
        )
    assert count(ws, models) == 0 and count(ws, model_versions) == 0


def test_gates_pass_and_fail_with_their_numbers(ws: goldenpath.Workspace) -> None:
    register(ws, gates=GOOD, card=CARD)
    first = ws.models.promote("fraud@1")
    assert first.to_version == 1 and first.from_version is None and not first.forced
    assert [g.passed for g in first.gates] == [True, True, True]
    roc = first.gates[0]
    assert roc.name == "metric roc_auc >= 0.7" and roc.threshold == 0.7 and roc.value > 0.7  # type: ignore[operator]
    strict = {"metrics": ["roc_auc >= 0.99", "log_loss <= 0.01"], "contract": True, "card": True}
    register(ws, gates=strict)
    with pytest.raises(GatesFailed) as refused:
        ws.models.promote("fraud@2")
    lines = refused.value.message.splitlines()
    assert lines[0] == "promotion of fraud@2 to champion refused: 4 gate(s) failed"
    assert (
        lines[1].startswith("metric roc_auc >= 0.99: roc_auc = 0.") and "threshold 0.99" in lines[1]
    )
    assert lines[2].startswith("metric log_loss <= 0.01: log_loss = 0.")
    assert lines[3].startswith("contract: the training data did not pass its contract")
    assert lines[4] == "card: the model card lacks intended_use, limitations"
    assert ws.models.get("fraud@champion").version == 1  # unchanged


def test_a_nan_metric_fails_its_gate_and_never_crashes(ws: goldenpath.Workspace) -> None:
    register(ws, metrics={"roc_auc": float("nan"), "log_loss": 0.3}, gates=GOOD, card=CARD)
    assert ws.models.get("fraud@1").metrics["roc_auc"] is None
    with pytest.raises(GatesFailed) as refused:
        ws.models.promote("fraud@1")
    assert "metric roc_auc >= 0.7: roc_auc is NaN or missing (threshold 0.7)" in (
        refused.value.message
    )
    nan_gate = [g for g in refused.value.results if not g.passed]
    assert [g.name for g in nan_gate] == ["metric roc_auc >= 0.7"]


def test_no_regression_compares_with_the_champion_on_the_same_rows(
    ws: goldenpath.Workspace,
) -> None:
    gate = {"no_regression": {"metric": "roc_auc", "margin": 0.01}}
    register(ws, kind="gradient_boosting", gates=gate)
    assert ws.models.promote("fraud@1").gates[0].message == "no champion yet"
    # A much worse model: trained on shuffled labels.
    data = frame()
    worse = data.assign(label=np.random.default_rng(3).permutation(data["label"].to_numpy()))
    model, _ = fitted("logistic_regression", worse)
    validation = data[NUMERIC].assign(label=data["label"])
    ws.models.register(
        "fraud", model, validation=validation, label="label", task="classification", gates=gate
    )
    with pytest.raises(GatesFailed) as refused:
        ws.models.promote("fraud@2")
    (result,) = refused.value.results
    assert not result.passed and result.margin == 0.01
    assert result.champion_value > result.value + 0.01  # type: ignore[operator]
    assert result.threshold == pytest.approx(result.champion_value - 0.01)  # type: ignore[operator]
    assert "vs champion fraud@1" in result.message
    # A version as good as the champion passes.
    register(ws, kind="gradient_boosting", gates=gate)
    passed = ws.models.promote("fraud@3").gates[0]
    assert passed.passed and passed.value == pytest.approx(passed.champion_value)


def test_no_regression_fails_when_the_champion_cannot_score_the_candidates_rows(
    local_ws: goldenpath.Workspace,
) -> None:
    """A champion that needs a feature the candidate's rows lack (or gets a value of the wrong
    type) fails the gate with that reason; it never passes as if there were no champion."""
    gate = {"no_regression": {"metric": "roc_auc", "margin": 0.01}}
    first = register(local_ws, kind="pipeline_one_hot", gates=gate)  # reads a, b, n and city
    assert local_ws.models.promote(first.ref).gates[0].message == "no champion yet"  # type: ignore[attr-defined]
    numeric = register(local_ws, gates=gate)  # a, b and n only: its rows have no city
    with pytest.raises(GatesFailed) as refused:
        local_ws.models.promote(numeric.ref)  # type: ignore[attr-defined]
    (result,) = refused.value.results
    assert not result.passed and result.champion_value is None
    assert result.message == (
        "the champion fraud@1 takes feature(s) the candidate's validation rows lack: city"
    )
    # Rows that hold the champion's features, one as text where the champion reads a number.
    numbers = register(local_ws, "other", gates=gate)  # a, b and n, as numbers
    local_ws.models.promote(numbers.ref)  # type: ignore[attr-defined]
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    data = frame().assign(n=lambda d: "n" + d["n"].astype(str))
    columns = ColumnTransformer(
        [
            ("text", OneHotEncoder(handle_unknown="ignore"), ["n"]),
            ("numbers", "passthrough", ["a", "b"]),
        ]
    )
    text_n = Pipeline([("columns", columns), ("model", LogisticRegression())])
    validation = data[["a", "b", "n"]].assign(label=data["label"])
    text_n.fit(validation[["a", "b", "n"]], validation["label"])
    local_ws.models.register(
        "other", text_n, validation=validation, label="label", task="classification", gates=gate
    )
    (typed,) = local_ws.models.check_gates(local_ws.models.get("other@2"))
    assert not typed.passed and typed.champion_value is None
    assert typed.message.startswith(
        "the champion other@1 cannot score the candidate's validation rows: feature 'n'"
    )
    assert local_ws.models.get("other@champion").version == 1


def test_a_reason_not_to_compare_fails_even_without_a_champion_ref() -> None:
    from goldenpath.registry.gates import NoRegression, regression_gate

    config = NoRegression(metric="roc_auc", margin=0.0)
    assert regression_gate(config, 0.9, None, None).passed  # no champion at all: passes
    refused = regression_gate(config, 0.9, None, None, "the champion cannot be scored")
    assert not refused.passed and refused.message == "the champion cannot be scored"
    assert not regression_gate(config, 0.9, 0.95, "fraud@1").passed
    assert regression_gate(config, 0.95, 0.95, "fraud@1").passed


def test_force_needs_the_permission_and_a_reason_and_is_audited(
    ws: goldenpath.Workspace,
) -> None:
    register(ws, gates={"metrics": ["roc_auc >= 0.999"]})
    maintainer = as_(ws, "mia", "maintainer")
    with pytest.raises(PermissionDenied, match=r"model\.promote_force"):
        maintainer.models.promote("fraud@1", force=True, reason="hotfix")
    with pytest.raises(InvalidInput, match="needs a reason"):
        ws.models.promote("fraud@1", force=True)
    done = ws.models.promote("fraud@1", force=True, reason="incident 42: the old one leaks")
    assert done.forced and done.reason == "incident 42: the old one leaks"
    (move,) = ws.models.alias_history("fraud")
    assert move.forced and move.reason.startswith("incident 42") and move.moved_by == "alice"
    with ws.store.connect() as conn:
        event = conn.execute(
            select(audit_events).where(audit_events.c.action == "model.promote")
        ).one()
    details = json.loads(event.details) if isinstance(event.details, str) else event.details
    assert details["forced"] is True and details["reason"].startswith("incident 42")
    assert details["failed"] == ["metric roc_auc >= 0.999"]
    maintainer.close()


def test_a_policy_can_require_an_approval(ws: goldenpath.Workspace) -> None:
    folder = ws.stack.home / "policies"
    folder.mkdir(exist_ok=True)
    write(
        folder / "models.yaml",
        "policies:\n"
        "  - name: champions-need-approval\n"
        "    actions: [model.promote]\n"
        "    when: 'object.alias == \"champion\"'\n"
        "    allow: 'approved && object.metrics.roc_auc >= 0.7'\n"
        "    message: a new champion needs an approver's sign-off\n"
        "    approval: true\n",
    )
    register(ws)
    with pytest.raises(PolicyDenied) as denied:
        ws.models.promote("fraud@1")
    assert denied.value.policy == "champions-need-approval" and denied.value.request_id
    with pytest.raises(NotFound):
        ws.models.get("fraud@champion")
    approver = as_(ws, "carol", "approver")
    approver.policies.approve(denied.value.request_id)
    assert ws.models.promote("fraud@1").to_version == 1
    ws.models.alias("fraud@1", "challenger")  # other aliases: no policy applies
    approver.close()


def test_aliases_history_and_archive(ws: goldenpath.Workspace) -> None:
    register(ws)
    register(ws)
    with pytest.raises(InvalidInput, match="champion moves only through promotion"):
        ws.models.alias("fraud@1", "champion")
    ws.models.alias("fraud@1", "challenger")
    ws.models.alias("fraud@2", "challenger")
    ws.models.promote("fraud@1")
    assert ws.models.get("fraud@challenger").version == 2
    assert ws.models.get("fraud@1").aliases == ["champion"]
    with pytest.raises(Conflict, match="move the alias first"):
        ws.models.archive("fraud@2")
    ws.models.delete_alias("fraud", "challenger")
    archived = ws.models.archive("fraud@2")
    assert archived.status == "archived"
    with pytest.raises(Conflict, match="archived"):
        ws.models.promote("fraud@2")
    with pytest.raises(Conflict, match="archived"):
        ws.models.alias("fraud@2", "shadow")
    moves = [(m.alias, m.from_version, m.to_version) for m in ws.models.alias_history("fraud")]
    assert moves == [
        ("challenger", None, 1),
        ("challenger", 1, 2),
        ("champion", None, 1),
        ("challenger", 2, None),
    ]


def test_card_edits(ws: goldenpath.Workspace) -> None:
    register(ws)
    card = ws.models.update_card("fraud@1", {"intended_use": "x", "owners": "risk, ops"})
    assert card["owners"] == ["risk", "ops"] and ws.models.card("fraud@1")["intended_use"] == "x"
    with pytest.raises(InvalidInput, match="unknown card field"):
        ws.models.update_card("fraud@1", {"metrics": "great"})
    with pytest.raises(InvalidInput, match="at most 10,000"):
        ws.models.update_card("fraud@1", {"limitations": "x" * 10_001})


def test_predict_scores_with_onnx_only(ws: goldenpath.Workspace) -> None:
    model, validation = fitted("pipeline_one_hot")
    ws.models.register("fraud", model, validation=validation, label="label", task="classification")
    ws.models.promote("fraud@1")
    rows = validation.drop(columns=["label"]).head(50)
    got = ws.models.predict("fraud@champion", rows)
    assert list(got.columns) == ["label", "probability"] and len(got) == 50
    assert np.allclose(got["probability"], model.predict_proba(rows)[:, 1], atol=1e-5)
    assert (got["label"].to_numpy() == model.predict(rows)).all()
    with pytest.raises(InvalidInput, match="lacks 1 feature column"):
        ws.models.predict("fraud@1", rows.drop(columns=["city"]))
    with pytest.raises(InvalidInput, match="must be numeric"):
        ws.models.predict("fraud@1", rows.assign(a="high"))
    regression, reg_validation = fitted("xgboost_regressor")
    ws.models.register(
        "prices", regression, validation=reg_validation, label="label", task="regression"
    )
    scored = ws.models.predict("prices", reg_validation.head(5))
    assert np.allclose(
        scored["prediction"], regression.predict(reg_validation[NUMERIC].head(5)), atol=1e-4
    )
    native = ws.models.load_native("prices")
    import xgboost

    assert isinstance(native, xgboost.Booster)


def test_a_tampered_artifact_on_disk_is_refused(ws: goldenpath.Workspace) -> None:
    from goldenpath.core.artifacts import ArtifactStore
    from goldenpath.registry import scoring

    register(ws, kind="lightgbm")
    version = ws.models.get("fraud@1")
    store = ArtifactStore(ws.storage_root)
    for digest in (version.onnx_digest, version.native_digest):
        path = store.path(digest)
        path.chmod(0o644)
        path.write_bytes(path.read_bytes().replace(b"0", b"1", 1))
    scoring._SESSIONS.clear()  # a fresh process: nothing cached
    with pytest.raises(Conflict, match="does not match its sha256"):
        ws.models.predict("fraud@1", frame()[NUMERIC])
    with pytest.raises(Conflict, match="does not match its sha256"):
        ws.models.load_native("fraud@1")


def test_permissions(ws: goldenpath.Workspace) -> None:
    register(ws)
    viewer = as_(ws, "vic", "viewer")
    assert viewer.models.get("fraud@1").version == 1
    with pytest.raises(PermissionDenied, match=r"model\.register"):
        register(viewer, "other")
    with pytest.raises(PermissionDenied, match=r"model\.promote"):
        viewer.models.promote("fraud@1")
    with pytest.raises(PermissionDenied, match=r"model\.alias"):
        viewer.models.alias("fraud@1", "shadow")
    with pytest.raises(PermissionDenied, match=r"model\.archive"):
        viewer.models.archive("fraud@1")
    contributor = as_(ws, "cal", "contributor")
    assert register(contributor).ref == "fraud@2"  # type: ignore[attr-defined]
    ws.access.create_project("secret")
    ws.models  # noqa: B018
    hidden = goldenpath.connect(
        ws.stack.home, metadata=ws.stack.metadata, actor="alice", project="secret"
    )
    register(hidden, "hidden")
    assert [m.name for m in viewer.models.list()] == ["fraud"]
    with pytest.raises(NotFound, match="no model named 'hidden'"):  # unreadable: as if missing
        viewer.models.get("hidden")
    with pytest.raises(Conflict, match="is in project 'secret'"):
        register(ws, "hidden")
    for opened in (viewer, contributor, hidden):
        opened.close()


def test_models_that_use_features_are_their_users(ws: goldenpath.Workspace, tmp_path: Path) -> None:
    from goldenpath.store.tables import feature_definitions, feature_versions
    from tests.features.conftest import FEATURES_PY, transactions_file

    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    rows = {"user_id": [1, 2], "event_time": [t0, t0], "amount": [10.0, 5.0]}
    ws.datasets.ingest("transactions", transactions_file(tmp_path, rows, "t.parquet"))
    write(tmp_path / "features.py", FEATURES_PY)
    ws.features.apply(tmp_path / "features.py")
    with ws.store.connect() as conn:
        version_id = conn.execute(
            select(feature_versions.c.id)
            .join(feature_definitions, feature_definitions.c.id == feature_versions.c.definition_id)
            .where(feature_definitions.c.name == "user_tx")
        ).scalar_one()
    lineage = {
        "feature_versions": [
            {"id": version_id, "ref": "user_tx@1", "features": ["amount", "tx_count_1h"]}
        ]
    }
    register(ws, lineage=lineage)
    users = ws.features.show("user_tx").users or []
    assert {
        "kind": "model",
        "id": "fraud@1",
        "version": 1,
        "features": ["amount", "tx_count_1h"],
    } in users
