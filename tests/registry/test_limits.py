"""The registry's limits are core/limits.py settings like every other limit: the workspace's
``config.yaml`` sets them, ``GP_LIMIT_*`` overrides them, an error names the limit, and a
refusal records nothing (``gp train``'s packaging: tests/training/test_pipeline.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import goldenpath
from goldenpath import InvalidInput
from goldenpath.store.tables import model_versions
from tests.registry.conftest import fitted


def _with_limits(home: Path, **limits: int) -> goldenpath.Workspace:
    config = home / "config.yaml"
    lines = "".join(f"  {name}: {value}\n" for name, value in limits.items())
    config.write_text(config.read_text() + "limits:\n" + lines)
    return goldenpath.connect(home, actor="alice")


def _versions(ws: goldenpath.Workspace) -> int:
    with ws.store.connect() as conn:
        return len(conn.execute(select(model_versions.c.id)).all())


def _register(ws: goldenpath.Workspace, **options: object) -> object:
    model, validation = fitted("logistic_regression")
    return ws.models.register(
        "fraud", model, validation=validation, label="label", task="classification", **options
    )


def test_the_config_and_the_environment_set_the_registry_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    goldenpath.connect(home, actor="alice", create=True).close()
    ws = _with_limits(home, model_features_max=2, model_predict_rows_max=2)
    with pytest.raises(InvalidInput, match=r"at most 2 are supported \(limits.model_features_max"):
        _register(ws)  # three feature columns
    assert _versions(ws) == 0

    monkeypatch.setenv("GP_LIMIT_MODEL_FEATURES_MAX", "3")  # the environment wins
    ws = goldenpath.connect(home, actor="alice")
    _register(ws)
    _, validation = fitted("logistic_regression")
    features = validation.drop(columns="label")
    with pytest.raises(InvalidInput, match=r"at most 2 per call \(limits.model_predict_rows_max"):
        ws.models.predict("fraud@1", features.head(3))
    assert len(ws.models.predict("fraud@1", features.head(2))) == 2


def test_card_description_reason_and_lineage_are_bounded_by_their_limits(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    goldenpath.connect(home, actor="alice", create=True).close()
    ws = _with_limits(
        home,
        model_card_text_chars_max=5,
        model_card_owners_max=1,
        model_description_chars_max=4,
        model_lineage_items_max=1,
        model_lineage_max_bytes=200,
        model_reason_chars_max=3,
    )
    with pytest.raises(InvalidInput, match=r"limits.model_description_chars_max"):
        _register(ws, description="fraud")
    datasets = [{"id": "01A", "ref": "a@1"}, {"id": "01B", "ref": "b@1"}]
    with pytest.raises(InvalidInput, match=r"at most 1 items \(limits.model_lineage_items_max"):
        _register(ws, lineage={"datasets": datasets})
    with pytest.raises(InvalidInput, match=r"200 bytes as JSON \(limits.model_lineage_max_bytes"):
        _register(ws, lineage={"datasets": [{"id": "01A", "ref": "x" * 200}]})
    with pytest.raises(InvalidInput, match=r"at most 5 characters \(limits.model_card_text"):
        _register(ws, card={"intended_use": "scoring"})
    assert _versions(ws) == 0

    version = _register(ws, description="card", card={"intended_use": "score"})
    ref = version.ref  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match=r"limits.model_card_text_chars_max"):
        ws.models.update_card(ref, {"limitations": "EU only"})
    with pytest.raises(InvalidInput, match=r"at most 1 names .*limits.model_card_owners_max"):
        ws.models.update_card(ref, {"owners": ["risk", "ops"]})
    assert ws.models.card(ref)["limitations"] == ""  # nothing changed
    with pytest.raises(InvalidInput, match=r"longer than 3 characters \(limits.model_reason"):
        ws.models.promote(ref, force=True, reason="gates")
    assert ws.models.get(ref).aliases == []
