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

_VIEWER = frozenset({"project.read", "dataset.read", "policy.read", "access.read", "feature.read"})
# Writing features (apply definitions, materialise, push) goes with writing datasets;
# reading online values is what a model's service account needs, so viewers have it too.
_FEATURE_WRITE = frozenset({"feature.apply", "feature.materialize", "feature.push"})
ROLES: dict[str, frozenset[str]] = {
    "viewer": _VIEWER | {"feature.read_online"},
    "contributor": _VIEWER | {"dataset.write", "feature.read_online"} | _FEATURE_WRITE,
    "maintainer": _VIEWER
    | {"dataset.write", "access.grant", "feature.read_online"}
    | _FEATURE_WRITE,
    "approver": _VIEWER | {"approval.approve"},
    "admin": PERMISSIONS,
}
# Roles a project maintainer may hand out; approver and admin need a workspace admin.
DELEGABLE = frozenset({"viewer", "contributor", "maintainer"})
SCOPE_KINDS = ("workspace", "team", "project")
