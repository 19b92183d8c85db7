"""A deployment on each metadata backend (SQLite, PostgreSQL), of a model registered from a
notebook with no features: every input is a request field."""

from __future__ import annotations

import pytest

import goldenpath
from tests.registry.conftest import frame
from tests.serving.conftest import post, problem


def test_deploy_predict_stop_on_each_backend(
    ws: goldenpath.Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    monkeypatch.setenv("GP_HOME", str(ws.stack.home))
    data = frame(400)
    model = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("text", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                        ("numbers", StandardScaler(), ["a", "b"]),
                    ]
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(data[["city", "a", "b"]], data["label"])
    validation = data[["city", "a", "b", "label"]]
    ws.models.register("plain", model, validation=validation, label="label", task="classification")
    info = ws.deployments.deploy("plain@1", "plain-api")
    try:
        # No feature view: nothing to check; the example request is the signature's fields,
        # with typical values from the reference profile, and runs as it is.
        assert info.freshness == [] and info.warnings == []
        assert info.example is not None and set(info.example["body"]) == {"request"}
        assert set(info.example["body"]["request"]) == {"city", "a", "b"}
        assert isinstance(info.example["body"]["request"]["city"], str)
        example = post(f"{info.url}{info.example['path']}", info.example["body"])
        assert example.status_code == 200, example.text
        answer = post(f"{info.url}/v1/predict", {"request": {"city": "paris", "a": 0.5, "b": -1}})
        assert answer.status_code == 200, answer.text
        expected = model.predict_proba(
            data[["city", "a", "b"]].head(0).assign(city=["paris"], a=[0.5], b=[-1.0])
        )[0, 1]
        assert answer.json()["prediction"]["probability"] == pytest.approx(expected, abs=1e-5)
        assert answer.json()["features"] == {}
        problem(
            post(
                f"{info.url}/v1/predict",
                {"entities": {"user_id": 1}, "request": {"city": "x", "a": 1, "b": 2}},
            ),
            422,
            "entities.user_id",
        )
        assert [d.name for d in ws.deployments.list()] == ["plain-api"]
    finally:
        ws.deployments.stop("plain-api")
    assert ws.deployments.get("plain-api").status == "stopped"
