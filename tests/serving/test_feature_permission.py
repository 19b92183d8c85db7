"""A served model reads its features as the deployment's principal: ``feature.read`` (the
catalog) without ``feature.read_online`` loads no model that reads online features."""

from __future__ import annotations

from pathlib import Path

import pytest

import goldenpath
from goldenpath.core.errors import PermissionDenied
from goldenpath.serving.loader import load_served
from goldenpath.serving.spec import DeploymentSpec


def _spec(principal: str) -> DeploymentSpec:
    return DeploymentSpec(
        name="perm-api",
        project="default",
        model="fraud",
        generation=1,
        host="127.0.0.1",
        port=0,
        principal=principal,
        stage="dev",
        primary=1,
    )


def test_a_served_model_needs_feature_read_online(serving_home: Path) -> None:
    with goldenpath.connect(serving_home, actor="alice") as admin:
        admin.principals.add("perm-approver")
        admin.access.grant("approver", "perm-approver", project="default")
        admin.principals.add("perm-viewer")
        admin.access.grant("viewer", "perm-viewer", project="default")
    with goldenpath.connect(serving_home, actor="perm-viewer") as viewer:
        served = load_served(viewer, _spec("perm-viewer"), 1)
        assert served.plan.uses_features and served.plan.reader is not None
        got = served.plan.reader([{"user_id": 1}])
        assert got.statuses["amount"] == ["present"]
    with goldenpath.connect(serving_home, actor="perm-approver") as approver:
        assert approver.features.show("user_tx").name == "user_tx"  # it has feature.read
        with pytest.raises(PermissionDenied, match=r"feature\.read_online"):
            load_served(approver, _spec("perm-approver"), 1)
