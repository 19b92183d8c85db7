"""Principals, tokens, roles (deny by default), projects, policies and approvals.

The services live in the modules (``principals``, ``access``, ...); this package module stays
light so that the CLI can name a principal's kind without loading the database layer.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["user", "service", "agent"]
"""What a principal is: a person, a service account or an agent."""
