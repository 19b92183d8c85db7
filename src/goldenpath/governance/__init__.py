"""Principals, tokens, roles (deny by default), projects, policies and approvals."""
