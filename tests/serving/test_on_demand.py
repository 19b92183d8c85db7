"""A model that reads an on-demand feature is served with the same function as in training:
its source must hash to the applied version the training set read, else no deployment."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import goldenpath
from goldenpath.core.errors import Conflict, InvalidInput
from goldenpath.workspace import Workspace
from tests.serving.conftest import EXAMPLE, PROJECT_FILES, fresh_rows, post

RATIO = """

def amount_ratio(row):
    mean = row["amount_mean_7d"]
    return {"amount_ratio": row["amount"] / mean if mean else None}


ratio = OnDemandFeatureView(
    name="ratio",
    function=amount_ratio,
    inputs=["user_tx:amount", "user_tx:amount_mean_7d"],
    outputs=[Field(name="amount_ratio", dtype="float64")],
)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("on-demand")
    project = root / "fraud"
    project.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(EXAMPLE / name, project / name)
    features = project / "features.py"
    text = features.read_text().replace(
        "import Aggregation, Entity,", "import Aggregation, Entity, OnDemandFeatureView,"
    )
    text = text.replace(
        '"user_tx:amount_mean_7d"]', '"user_tx:amount_mean_7d", "ratio:amount_ratio"]'
    )
    features.write_text(text + RATIO)
    home = root / "home"
    with goldenpath.connect(home, actor="alice", create=True) as ws:
        ws.datasets.ingest(
            "transactions",
            project / "transactions.csv",
            contract=project / "transactions.contract.yaml",
        )
        ws.features.apply(features)
        ws.training.train(project)
        ws.features.materialize()
        ws.features.push("user_tx", fresh_rows())
    yield home, project


@pytest.fixture
def ws(project: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("GP_HOME", str(project[0]))
    with goldenpath.connect(project[0], actor="alice") as ws:
        yield ws


def test_on_demand_features_are_computed_by_the_trained_function(
    ws: Workspace, project: tuple[Path, Path], tmp_path: Path
) -> None:
    _, folder = project
    version = ws.models.get("fraud@1")
    assert "amount_ratio" in [i["name"] for i in version.signature["inputs"]]
    with pytest.raises(InvalidInput, match="on-demand"):
        ws.deployments.deploy("fraud@1", "od-api")
    changed = tmp_path / "features.py"
    changed.write_text(
        (folder / "features.py").read_text().replace("/ mean if mean", "/ (mean + 1) if mean")
    )
    with pytest.raises(Conflict, match="not the applied version"):
        ws.deployments.deploy("fraud@1", "od-api", features=changed)
    info = ws.deployments.deploy("fraud@1", "od-api", features=folder / "features.py")
    try:
        answer = post(
            f"{info.url}/v1/predict", {"entities": {"user_id": 4}, "request": {"currency": "EUR"}}
        )
        assert answer.status_code == 200, answer.text
        features = answer.json()["features"]
        assert features["amount_ratio"]["value"] == pytest.approx(
            features["amount"]["value"] / features["amount_mean_7d"]["value"]
        )
    finally:
        ws.deployments.stop("od-api")
    # A new version of the function applied: the code matches what is applied, but not what
    # the model was trained with.
    ws.features.apply(changed)
    with pytest.raises(Conflict, match="trained with version 1"):
        ws.deployments.deploy("fraud@1", "od-api", features=changed)
