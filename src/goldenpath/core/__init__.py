"""Workspace, configuration, errors, ids, clock, actor context and the audit trail."""
