"""Every public method of the SDK's services has a twin in the remote SDK (over the control
plane's HTTP API), or a stated reason not to: local only by nature, or not over HTTP yet.
A new method with neither fails here, so the control plane cannot silently fall behind.

``NOT_YET`` is the control plane's to-do list (issue 23 §5: deployments, predictions,
artifacts, card edits, alias history): it only ever shrinks.
"""

from __future__ import annotations

import inspect
from functools import cached_property
from pathlib import Path

import goldenpath
from goldenpath.client import remote
from goldenpath.workspace import Workspace

REMOTE = {
    "datasets": remote.RemoteDatasets,
    "audit": remote.RemoteAudit,
    "access": remote.RemoteAccess,
    "principals": remote.RemotePrincipals,
    "policies": remote.RemotePolicies,
    "features": remote.RemoteFeatures,
    "models": remote.RemoteModels,
    "runs": remote.RemoteRuns,
    "lineage": remote.RemoteLineage,
}

# Local by nature: they read or run something on the caller's machine, or are the serving
# process's own plumbing.
LOCAL_ONLY = {
    "datasets.append_rows": "the feature store's push path (features.push is the operation)",
    "datasets.batches_in_write_order": "an engine-side reader for materialisation",
    "datasets.read_batches": "an engine-side streaming reader (datasets.read is the operation)",
    "datasets.scan": "a DuckDB scan in the caller's process",
    "datasets.check_pending_rules": "run by a materialisation, in its transaction's process",
    "features.apply": "reads the project's features.py, which runs on the caller's machine",
    "features.plan": "reads the project's features.py, which runs on the caller's machine",
    "features.online_reader": "an inference server's pinned in-process lookup",
    "features.versions_read_by": "lineage plumbing for training and serving",
    "features.view": "a definition object of the caller's features.py",
    "models.load_native": "loads the native model into the caller's process",
    "models.onnx": "the ONNX bytes for an in-process scorer",
    "models.predict": "scores in the caller's process (a deployment serves over HTTP)",
    "models.register": "packages a fitted model object from the caller's process",
    "models.register_package": "registers a package built in the caller's process",
    "models.check_gates": "the promotion's own check, called inside promote",
    "models.check_promotion": "a deployment's pre-check, called inside deploy",
    "models.same_fingerprint": "the pipeline's own check after registering",
    "models.validation_rows": "the rows a registration kept, for in-process evaluation",
    "runs.create": "the pipeline's run record (runs.start is the operation)",
    "runs.end": "the pipeline's run record (runs.start is the operation)",
    "runs.log": "the pipeline's batched write (runs.start's logger is the operation)",
    "runs.mark_lost": "a reader's repair of a lost run, done by whoever reads it",
    "training.train": "runs the project's train.py, which needs the project folder",
    "training.rerun": "runs the recorded train.py in a training process on this machine",
    "policies.enforce": "the services' own check before an action (policies.check asks it)",
    "policies.hold": "the services' own first check of a change that enforce completes",
    "policies.new": "writes a policy file into the workspace folder",
    "deployments.table_path": "the prediction log's folder on this machine",
    "deployments.health_all": "gp status's local summary (deployments.health is the operation)",
}

# Not over HTTP yet (issue 23 §5): remove an entry when its route and remote method land.
NOT_YET = {
    "datasets.contract": "a dataset version's contract",
    "features.freshness": "how fresh a view's online values are",
    "features.training_set": "building a training set on the server",
    "features.read_training_set": "a training set's rows",
    "models.alias_history": "alias history",
    "models.archive": "archiving a version",
    "models.profile": "a version's reference profile",
    "models.update_card": "model card edits",
    "models.versions": "a model's versions",
    "runs.train_log": "a run's train.log",
    "runs.follow_train_log": "following a run's train.log",
    "deployments.deploy": "deployments over the control plane",
    "deployments.get": "deployments over the control plane",
    "deployments.list": "deployments over the control plane",
    "deployments.health": "deployments over the control plane",
    "deployments.logs": "deployments over the control plane",
    "deployments.promote": "deployments over the control plane",
    "deployments.rollback": "deployments over the control plane",
    "deployments.stop": "deployments over the control plane",
    "deployments.manifests": "Kubernetes manifests over the control plane",
    "deployments.apply_kubernetes": "Kubernetes apply over the control plane",
    "predictions.show": "predictions over the control plane",
    "predictions.tail": "predictions over the control plane",
    "monitoring.run": "the monitor over the control plane (deployments are local today)",
    "monitoring.figures": "the monitor's figures over the control plane",
    "policies.get": "one policy's definition",
}


def _operations(ws: Workspace) -> dict[str, object]:
    found = {}
    for service, value in vars(Workspace).items():
        if not isinstance(value, cached_property):
            continue
        kind = type(getattr(ws, service))
        for name, member in inspect.getmembers(kind):
            if not name.startswith("_") and callable(member):
                found[f"{service}.{name}"] = member
    return found


def _has_twin(operation: str) -> bool:
    service, name = operation.split(".", 1)
    twin = REMOTE.get(service)
    return twin is not None and callable(getattr(twin, name, None))


def test_every_operation_has_an_http_twin_or_a_stated_reason(tmp_path: Path) -> None:
    with goldenpath.connect(tmp_path / "home", actor="alice", create=True) as ws:
        operations = _operations(ws)
    unexplained = sorted(
        op for op in operations if not _has_twin(op) and op not in LOCAL_ONLY | NOT_YET
    )
    assert unexplained == [], (
        "these operations have no remote twin (client/remote.py and a route) and no stated "
        f"reason to be local only: {unexplained}"
    )
    stale = sorted(op for op in LOCAL_ONLY | NOT_YET if op not in operations)
    assert stale == [], f"listed, but no longer SDK operations: {stale}"
    landed = sorted(op for op in NOT_YET if _has_twin(op))
    assert landed == [], f"over HTTP now: remove them from NOT_YET: {landed}"
    both = sorted(set(LOCAL_ONLY) & set(NOT_YET))
    assert both == []
