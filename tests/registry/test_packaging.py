"""Packaging, for every supported flavor: ONNX conversion, parity, fingerprints, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from goldenpath import InvalidInput
from goldenpath.registry import native, onnx_graph, scoring
from goldenpath.registry.packaging import Package, _native_scores, package
from goldenpath.registry.service import fingerprint
from tests.registry.conftest import FLAVORS, NUMERIC, fitted, frame


def _fingerprint(built: Package) -> str:
    import hashlib

    return fingerprint(hashlib.sha256(built.native).hexdigest(), built.onnx)


@pytest.mark.parametrize("name", list(FLAVORS))
def test_each_flavor_packages_converts_and_matches_its_native_scores(name: str) -> None:
    task, columns = FLAVORS[name]
    model, validation = fitted(name)
    built = package(model, validation, task, label="label")
    assert built.task == task
    assert built.features == columns  # validation's column order
    kinds = {i["name"]: i["type"] for i in built.signature["inputs"]}
    assert kinds == {c: ("string" if c == "city" else "float") for c in columns}
    outputs = [o["name"] for o in built.signature["outputs"]]
    assert outputs == (["label", "probabilities"] if task == "classification" else ["prediction"])
    # The graph takes one [N, 1] input per feature, named as the feature.
    sess = scoring.new_session(built.onnx)
    assert [i.name for i in sess.get_inputs()] == columns
    got = scoring.scores(scoring.run(sess, validation, built.signature), built.signature)
    assert np.max(np.abs(got - built.scores)) < 1e-4
    # The native artifact loads back (without pickle) and scores as the model did.
    loaded = native.load(built.native_format, built.native)
    again = _native_scores(built.flavor, loaded, validation[columns], task)
    np.testing.assert_allclose(again, built.scores, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(FLAVORS))
def test_the_fingerprint_is_reproducible_and_tells_models_apart(name: str) -> None:
    task, _ = FLAVORS[name]
    first = package(*fitted(name), task, label="label")
    again = package(*fitted(name), task, label="label")  # an independent fit, same seed
    assert _fingerprint(first) == _fingerprint(again)
    assert first.native == again.native
    other = frame(seed=5)
    different = package(*fitted(name, other), task, label="label")
    assert _fingerprint(different) != _fingerprint(first)


def test_generated_names_do_not_change_the_graph_hash() -> None:
    import onnx

    built = package(*fitted("lightgbm"), "classification", label="label")
    model = onnx.load_model_from_string(built.onnx)
    model.graph.name = "7f3e2a9c0b5d4e1f8a6b3c2d1e0f9a8b"
    model.doc_string = "converted at 12:00"
    for node in model.graph.node:
        node.name = node.name + "_x1"
    renamed = model.SerializeToString()
    assert renamed != built.onnx
    assert onnx_graph.graph_hash(renamed) == onnx_graph.graph_hash(built.onnx)
    # ...but a changed weight does.
    tampered = onnx.load_model_from_string(built.onnx)
    for node in tampered.graph.node:
        for attribute in node.attribute:
            if attribute.name == "nodes_values" and attribute.floats:
                attribute.floats[0] += 1.0
    assert onnx_graph.graph_hash(tampered.SerializeToString()) != onnx_graph.graph_hash(built.onnx)


def test_skops_bytes_do_not_depend_on_object_ids_or_time() -> None:
    import skops.io

    model, _ = fitted("random_forest")
    raw_one, raw_two = skops.io.dumps(model), skops.io.dumps(model)
    copy = skops.io.loads(raw_one, trusted=skops.io.get_untrusted_types(data=raw_one))
    raw_three = skops.io.dumps(copy)  # the same model as other objects: other ids
    assert native.canonical_skops(raw_one) == native.canonical_skops(raw_three)
    assert native.canonical_skops(raw_one) == native.canonical_skops(raw_two)


def test_hist_gradient_boosting_is_refused_with_the_reason() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    data = frame()
    model = HistGradientBoostingClassifier(max_iter=5).fit(data[NUMERIC], data["label"])
    with pytest.raises(InvalidInput) as refused:
        package(model, data[NUMERIC], "classification")
    message = refused.value.message
    assert "cannot convert HistGradientBoostingClassifier to ONNX" in message
    assert "TreeEnsembleClassifier" in message  # the operator that failed
    assert "LightGBM" in (refused.value.hint or "") and "XGBoost" in (refused.value.hint or "")


@pytest.mark.parametrize("thing", [object(), {"weights": [1, 2]}, "model.pkl"])
def test_an_unsupported_object_is_refused_naming_the_supported_types(thing: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        package(thing, frame()[NUMERIC], "classification")
    assert "not a supported model type" in refused.value.message
    hint = refused.value.hint or ""
    for name in ("scikit-learn", "LightGBM", "XGBoost", "Pipeline"):
        assert name in hint


def test_bad_inputs_get_one_clear_error() -> None:
    model, validation = fitted("logistic_regression")
    with pytest.raises(InvalidInput, match="unknown task"):
        package(model, validation, "ranking", label="label")
    with pytest.raises(InvalidInput, match="lacks feature column"):
        package(model, validation.drop(columns=["b"]), "classification", label="label")
    with pytest.raises(InvalidInput, match="is a classifier, but the task is regression"):
        package(model, validation, "regression", label="label")
    with pytest.raises(InvalidInput, match="rows"):
        package(model, validation.iloc[:0], "classification", label="label")
    text = validation.assign(city="paris")
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(InvalidInput, match="need an encoder"):
        package(
            LogisticRegression().fit(text[["a", "city"]].assign(city=0), text["label"]),
            text[["a", "city"]],
            "classification",
        )
    multi = frame()
    three = LogisticRegression().fit(multi[NUMERIC], multi["n"] % 3)
    with pytest.raises(InvalidInput, match="only binary classification"):
        package(three, multi[NUMERIC], "classification")
    # A refusal changes nothing: the same model packages for its task and scores as it did.
    built = package(model, validation, "classification", label="label")
    expected = model.predict_proba(validation[NUMERIC])[:, 1]
    np.testing.assert_array_equal(built.scores, expected)
    assert 0.7 < roc_auc_score(validation["label"], built.scores) <= 1


def test_a_package_moves_between_processes_without_pickle(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "pkg"
    built = package(*fitted("xgboost"), "classification", label="label")
    built.write(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.json",
        "model.onnx",
        "package.json",
        "scores.npy",
    ]
    back = Package.read(folder)
    assert back.onnx == built.onnx and back.native == built.native
    assert np.array_equal(back.scores, built.scores)
    assert back.signature == built.signature
    # A changed file is refused, not used.
    (folder / "model.onnx").write_bytes(built.onnx[:-1] + b"\0")
    with pytest.raises(InvalidInput, match="does not match its sha256"):
        Package.read(folder)
    # A scores file holding a pickle is never unpickled.
    import io
    import json

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (folder / "model.onnx").write_bytes(built.onnx)
    (folder / "scores.npy").write_bytes(buffer.getvalue())
    meta = json.loads((folder / "package.json").read_text())
    import hashlib

    meta["files"]["scores.npy"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (folder / "package.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="allow_pickle"):
        Package.read(folder)


def test_untrusted_types_in_a_skops_artifact_are_refused() -> None:
    import functools
    import operator

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    func = functools.partial(operator.add, 1)  # a callable skops would have to trust
    model = FunctionTransformer(func=func).fit(pd.DataFrame({"a": [1.0, 2.0]}))
    data = skops.io.dumps(model)
    with pytest.raises(InvalidInput, match=r"not trusted: _operator\.add, functools\.partial"):
        native.load("skops", data)
