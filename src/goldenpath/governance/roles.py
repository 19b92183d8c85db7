"""Roles and the permissions they grant. Anything not granted is denied.

Project-level permissions apply where the role is granted (a project, every project of a team,
or the whole workspace); workspace permissions need a workspace-level grant.
"""

from __future__ import annotations

PROJECT_PERMISSIONS = frozenset(
    {
        "project.read",
        "dataset.read",
        "dataset.write",
        "policy.read",
        "access.read",
        "access.grant",
        "approval.approve",
        "feature.read",
        "feature.apply",
        "feature.materialize",
        "feature.push",
        "feature.read_online",
        "run.read",
        "run.write",
        "model.read",
        "model.register",
        "model.alias",
        "model.promote",
        "model.promote_force",
        "model.archive",
        "deployment.read",
        "deployment.deploy",
        "deployment.promote",
        "deployment.rollback",
        "deployment.invoke",
        "prediction.read",
    }
)
WORKSPACE_PERMISSIONS = frozenset(
    {
        "audit.read",
        "audit.checkpoint",
        "audit.rotate_key",
        "principal.manage",
        "token.manage",
        "project.create",
        "policy.manage",
    }
)
PERMISSIONS = PROJECT_PERMISSIONS | WORKSPACE_PERMISSIONS

_VIEWER = frozenset(
    {
        "project.read",
        "dataset.read",
        "policy.read",
        "access.read",
        "feature.read",
        "run.read",
        "model.read",
        "deployment.read",
        "prediction.read",
    }
)
# Writing features (apply definitions, materialise, push) goes with writing datasets;
# reading online values is what a model's service account needs, so viewers have it too.
_FEATURE_WRITE = frozenset({"feature.apply", "feature.materialize", "feature.push"})
# Contributors train: they log runs and register model versions. Moving an alias (champion,
# challenger) and archiving are a maintainer's; overriding a failed promotion gate
# (promote --force) is an admin's alone.
_TRAIN = frozenset({"run.write", "model.register"})
_MODEL_MAINTAIN = frozenset({"model.alias", "model.promote", "model.archive"})
# Deploying (and stopping), completing a canary and rolling back go with moving aliases.
# Invoking a deployment is what a calling service account needs, so viewers have it (as they
# have online reads); an approver's role is for approving only.
_INVOKE = frozenset({"feature.read_online", "deployment.invoke"})
_DEPLOY = frozenset({"deployment.deploy", "deployment.promote", "deployment.rollback"})
SERVING_ROLE = "serving"
ROLES: dict[str, frozenset[str]] = {
    "viewer": _VIEWER | _INVOKE,
    "contributor": _VIEWER | {"dataset.write"} | _INVOKE | _FEATURE_WRITE | _TRAIN,
    "maintainer": _VIEWER
    | {"dataset.write", "access.grant"}
    | _INVOKE
    | _FEATURE_WRITE
    | _TRAIN
    | _MODEL_MAINTAIN
    | _DEPLOY,
    "approver": _VIEWER | {"approval.approve"},
    "admin": PERMISSIONS,
    # A deployment's own principal (created at deploy, never handed out by hand): what its
    # inference server reads (the model, its features, the contract of its data) and what its
    # supervisor's monitor reads (the deployment, its predictions), nothing else.
    SERVING_ROLE: frozenset(
        {
            "project.read",
            "model.read",
            "dataset.read",
            "feature.read",
            "feature.read_online",
            "deployment.read",
            "prediction.read",
        }
    ),
}
# Roles a project maintainer may hand out; approver and admin need a workspace admin.
DELEGABLE = frozenset({"viewer", "contributor", "maintainer"})
SCOPE_KINDS = ("workspace", "team", "project")
